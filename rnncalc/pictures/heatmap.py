"""Heatmaps over time: each gate's activation, ``c`` and ``h``, unit by position, one panel each,
with a colour scale and labelled axes. A small run writes each value in its cell; a larger one
keeps it as the cell's tooltip; a long and wide one is a raster, a pixel per value.

>>> import rnncalc
>>> heatmap_canvas(rnncalc.run(rnncalc.load(cell="gru"))).svg().count("<rect") > 18
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rnncalc.cells import spec
from rnncalc.pictures.canvas import Canvas, Image, Rect, Text
from rnncalc.pictures.colors import scale_of
from rnncalc.render import fmt

if TYPE_CHECKING:
    import torch

    from rnncalc.trace import DirectionTrace, Trace

__all__ = ["heatmap_canvas", "panels"]

ML, PLOT_W, LEGEND_W = 70.0, 640.0, 90.0
SMALL_T, SMALL_H = 12, 6  # up to this: each value written in its cell
TOOLTIPS = 4096  # up to this many values: a cell each, its value as its tooltip; beyond: a raster


def panels(tr: DirectionTrace, only: set[str] | None = None) -> list[tuple[str, torch.Tensor]]:
    """``(symbol, [T, H] block by position)`` for each gate's activation, then ``c`` and ``h``."""
    blocks = [(f"{g}_t", v) for g, v in tr.act.items() if not (g == "h" and len(tr.act) == 1)]
    if tr.c is not None:
        blocks.append(("c_t", tr.c))
    blocks.append(("h_t", tr.h))
    if only:
        blocks = [(name, v) for name, v in blocks if name.removesuffix("_t") in only]
    order = sorted(range(len(tr.positions)), key=lambda k: tr.positions[k])  # by position
    return [(name, v[order]) for name, v in blocks]


def heatmap_canvas(trace: Trace, *, layer: int | None = None, direction: str | None = None,
                   only: set[str] | None = None, precision: int = 4) -> Canvas:
    """Every layer and direction (or those chosen), a panel per quantity."""
    ex = trace.exercise
    T, H = ex.steps, ex.state_size
    small = T <= SMALL_T and H <= SMALL_H
    cw = 54.0 if small else max(2.0, min(24.0, PLOT_W / T))
    ch = 20.0 if small else max(2.0, min(16.0, 192 / H))
    rows = [tr for lt in trace.layers for tr in lt.directions.values()
            if (layer is None or tr.layer == layer)
            and (direction is None or tr.direction == direction)]
    panel_h = H * ch + 58
    n = sum(len(panels(tr, only)) for tr in rows)
    c = Canvas(max(520.0, ML + T * cw + LEGEND_W + 40), 50 + n * panel_h,
               title=f"{spec(ex.cell).title}: gates, c and h over time (unit by position)")
    c.add(Text(16, 24, c.title, size=14, anchor="start", bold=True))
    y = 50.0
    for tr in rows:
        for name, block in panels(tr, only):
            _panel(c, f"{name} · layer {tr.layer} · {tr.direction}",
                   f"L{tr.layer}.{tr.direction}.{name.removesuffix('_t')}", block.tolist(), y,
                   cw, ch, small, precision)
            y += panel_h
    return c


def _panel(c: Canvas, title: str, key: str, values: list[list[float]], y: float, cw: float,
           ch: float, small: bool, precision: int) -> None:
    T, H = len(values), len(values[0])
    flat = [v for row in values for v in row]
    scale = scale_of(flat)
    top = y + 18
    c.add(Text(ML, y + 10, title, size=11, anchor="start", bold=True, math=True))
    if T * H > TOOLTIPS:  # one pixel per value, stretched: a few kB, not a rect per value
        c.add(Image(ML, top, T * cw, H * ch,
                    tuple(tuple(scale(values[t][j]) for t in range(T)) for j in range(H))))
    for t, row in enumerate(values if T * H <= TOOLTIPS else ()):
        for j, v in enumerate(row):
            x, yy = ML + t * cw, top + j * ch
            text = fmt(v, precision)
            c.add(Rect(x, yy, cw, ch, scale(v), key="" if small else f"{key}.{t}.{j}",
                       title=f"t={t}, unit {j}: {text}"))
            if small:
                dark = _dark(scale(v))
                c.add(Text(x + cw / 2, yy + ch / 2 + 4, text, size=9,
                           color="#fff" if dark else "#222", key=f"{key}.{t}.{j}"))
    bottom = top + H * ch
    # axes: positions below, units on the left, every few so the labels do not touch
    every_t = max(1, -(-28 // int(cw))) if cw < 28 else 1
    every_t = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000, 10**9)
                   if s >= every_t)
    for t in range(0, T, every_t):
        c.add(Text(ML + (t + 0.5) * cw, bottom + 12, str(t), size=9, color="#444"))
    c.add(Text(ML + T * cw / 2, bottom + 26, "position t", size=10, color="#444"))
    every_j = next(s for s in (1, 2, 4, 8, 16, 32, 64, 128, 10**9) if s * ch >= 11)
    for j in range(0, H, every_j):
        c.add(Text(ML - 6, top + (j + 0.5) * ch + 3, str(j), size=9, anchor="end",
                   color="#444"))
    c.add(Text(16, top + H * ch / 2, "unit", size=10, anchor="start", color="#444"))
    # the colour scale: a bar from the low end to the high end, its ends written
    lx = ML + T * cw + 20
    steps = 24
    bar_h = max(H * ch, 60.0)
    for s in range(steps):
        v = scale.hi + (scale.lo - scale.hi) * (s + 0.5) / steps
        c.add(Rect(lx, top + s * bar_h / steps, 14, bar_h / steps + 0.5, scale(v)))
    c.add(Text(lx + 18, top + 9, fmt(max(flat), precision), size=9, anchor="start",
               key=f"{key}.max"),
          Text(lx + 18, top + bar_h, fmt(min(flat), precision), size=9, anchor="start",
               key=f"{key}.min"))


def _dark(color: str) -> bool:
    """Whether white text reads better on this fill (its luminance is low)."""
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b < 140
