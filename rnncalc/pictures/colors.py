"""Colour scales of the pictures: values to ``#rrggbb``, the same in SVG and in the report's
script (:data:`JS`), so a stepped diagram colours as the printed one does.

Sequential (white to dark blue) for values that are never negative (a sigmoid gate); diverging
(blue, white, orange-red: readable with the common colour-vision deficiencies) otherwise.
"""

from __future__ import annotations

__all__ = ["JS", "Scale", "color", "scale_of"]

_LOW, _MID, _HIGH = (33, 102, 172), (247, 247, 247), (214, 96, 77)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], f: float) -> str:
    return "#" + "".join(f"{int(x + (y - x) * f + 0.5):02x}" for x, y in zip(a, b, strict=True))


class Scale:
    """From ``lo`` (the smallest value) to ``hi`` (the largest); ``diverging`` when ``lo < 0``:
    white at 0, each side to its own end, so both ends are values drawn."""

    def __init__(self, lo: float, hi: float) -> None:
        self.diverging = lo < 0
        self.lo, self.hi = lo, hi

    def __call__(self, v: float) -> str:
        return color(v, self.lo, self.hi)


def color(v: float, lo: float, hi: float) -> str:
    if v != v:  # nan
        return "#888888"
    if lo < 0:
        if v >= 0:
            return _mix(_MID, _HIGH, min(1.0, v / hi) if hi > 0 else 0.0)
        return _mix(_MID, _LOW, min(1.0, v / lo))
    f = max(0.0, min(1.0, (v - lo) / (hi - lo))) if hi > lo else 1.0
    return _mix(_MID, _LOW, f)


def scale_of(values: list[float]) -> Scale:
    finite = [v for v in values if v == v] or [0.0]
    return Scale(min(finite), max(finite))


# The same function for the report's stepper.
JS = """function rc_mix(a,b,f){return '#'+a.map((x,i)=>Math.round(x+(b[i]-x)*f).toString(16)
.padStart(2,'0')).join('');}
function rc_color(v,lo,hi){const L=[33,102,172],M=[247,247,247],H=[214,96,77];
if(Number.isNaN(v))return '#888888';
if(lo<0){return v>=0?rc_mix(M,H,hi>0?Math.min(1,v/hi):0):rc_mix(M,L,Math.min(1,v/lo));}
const f=hi>lo?Math.max(0,Math.min(1,(v-lo)/(hi-lo))):1;return rc_mix(M,L,f);}"""
