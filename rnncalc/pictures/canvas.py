r"""A picture as a list of shapes, written out as SVG or as a LaTeX ``picture``.

Coordinates are SVG's: points (1/72 inch), ``y`` growing downwards. Wires are polylines of
horizontal and vertical segments only, so LaTeX's own ``picture`` environment draws them without
TikZ or pict2e (neither is in Debian's texlive-latex-base/-recommended). Labels are written as in
math, ``h_{t-1}``: SVG sets the subscript in a smaller, lowered ``tspan``, LaTeX in math mode.

Every number drawn carries its key (``data-k``): the quantity it shows, read from the trace, so a
test and the HTML report's stepper can find it.
"""

from __future__ import annotations

import base64
import re
import struct
import zlib
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

__all__ = ["FONT", "Canvas", "Circle", "Image", "Rect", "Text", "Wire", "png"]

TEXT_WIDTH = 483.0  # points: A4 less two 2 cm margins (the LaTeX report's geometry)
FONT = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif"  # the reader's own fonts: none fetched


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str = "none"
    stroke: str = "none"
    rx: float = 0
    key: str = ""  # data-k: the value whose colour this is (a heatmap cell)
    title: str = ""  # a tooltip: the value, for cells too small to write it in


@dataclass(frozen=True)
class Image:
    """A raster, drawn pixel for pixel (a large heatmap: one pixel per value)."""

    x: float
    y: float
    w: float
    h: float
    rows: tuple[tuple[str, ...], ...]  # colours #rrggbb, row by row


@dataclass(frozen=True)
class Circle:
    cx: float
    cy: float
    r: float
    fill: str = "#fff"
    stroke: str = "#333"


@dataclass(frozen=True)
class Wire:
    points: tuple[tuple[float, float], ...]
    color: str = "#444"
    width: float = 1.4
    arrow: bool = True
    dash: bool = False


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # the baseline
    text: str
    size: float = 11
    anchor: str = "middle"  # start | middle | end
    color: str = "#222"
    bold: bool = False
    key: str = ""  # data-k: a number read from the trace
    math: bool = False  # h_{t-1}: a subscript


Shape = Rect | Image | Circle | Wire | Text


@dataclass
class Canvas:
    width: float
    height: float
    title: str = ""
    shapes: list[Shape] = field(default_factory=list)

    def add(self, *shapes: Shape) -> None:
        self.shapes.extend(shapes)

    def svg(self, *, css_class: str = "rnncalc", uid: str = "") -> str:
        """A standalone SVG document (also valid inline in HTML; ``uid`` keeps its ids apart
        from another picture's on the same page)."""
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" '
               f'width="{self.width:g}" height="{self.height:g}" '
               f'viewBox="0 0 {self.width:g} {self.height:g}" font-family={quoteattr(FONT)}>',
               f"<defs><marker id=\"{uid}arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" "
               "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">"
               "<path d=\"M0,1 L10,5 L0,9 z\" fill=\"context-stroke\"/></marker></defs>"]
        if self.title:
            out.append(f"<title>{escape(self.title)}</title>")
        out.append(f'<rect width="{self.width:g}" height="{self.height:g}" fill="#fff"/>')
        out += [_svg(s, uid) for s in self.shapes]
        out.append("</svg>")
        return "\n".join(out) + "\n"

    def latex(self, width: float = TEXT_WIDTH) -> str:
        """A ``picture`` environment (LaTeX's own; ``xcolor`` for the colours), scaled to fit
        ``width`` points (an A4 page's text at 2 cm margins), type scaled alike."""
        scale = min(1.0, width / self.width)
        out = [f"{{\\setlength{{\\unitlength}}{{{scale:.4f}pt}}\\begin{{picture}}"
               f"({self.width:.0f},{self.height:.0f})"]
        for s in self.shapes:
            out += _latex(s, self.height, scale)
        out.append("\\end{picture}}")
        return "\n".join(out)


def _n(v: float) -> str:
    return f"{v:.1f}".removesuffix(".0")


def _svg(s: Shape, uid: str) -> str:
    if isinstance(s, Rect):
        key = f' data-k="{s.key}"' if s.key else ""
        title = f"<title>{escape(s.title)}</title>" if s.title else ""
        end = f">{title}</rect>" if title else "/>"
        return (f'<rect x="{_n(s.x)}" y="{_n(s.y)}" width="{_n(s.w)}" height="{_n(s.h)}" '
                f'rx="{_n(s.rx)}" fill="{s.fill}" stroke="{s.stroke}"{key}{end}')
    if isinstance(s, Image):
        data = base64.b64encode(png(s.rows)).decode()
        return (f'<image x="{_n(s.x)}" y="{_n(s.y)}" width="{_n(s.w)}" height="{_n(s.h)}" '
                f'preserveAspectRatio="none" style="image-rendering:pixelated" '
                f'href="data:image/png;base64,{data}"/>')
    if isinstance(s, Circle):
        return (f'<circle cx="{_n(s.cx)}" cy="{_n(s.cy)}" r="{_n(s.r)}" fill="{s.fill}" '
                f'stroke="{s.stroke}" stroke-width="1.2"/>')
    if isinstance(s, Wire):
        d = " ".join(f"{_n(x)},{_n(y)}" for x, y in s.points)
        marker = f' marker-end="url(#{uid}arrow)"' if s.arrow else ""
        dash = ' stroke-dasharray="4 3"' if s.dash else ""
        return (f'<polyline points="{d}" fill="none" stroke="{s.color}" '
                f'stroke-width="{s.width:g}"{dash}{marker}/>')
    weight = ' font-weight="bold"' if s.bold else ""
    key = f' data-k="{s.key}"' if s.key else ""
    body = _svg_math(s.text, s.size) if s.math else escape(s.text)
    return (f'<text x="{_n(s.x)}" y="{_n(s.y)}" font-size="{s.size:g}" text-anchor="{s.anchor}" '
            f'fill="{s.color}"{weight}{key}>{body}</text>')


def png(rows: tuple[tuple[str, ...], ...]) -> bytes:
    """An 8-bit RGB PNG of ``#rrggbb`` colours (zlib and a CRC: no imaging library)."""
    raw = b"".join(b"\0" + bytes.fromhex("".join(c[1:] for c in row)) for row in rows)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", len(rows[0]), len(rows), 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


_SUB = re.compile(r"_(\{[^}]*\}|.)")


def _svg_math(text: str, size: float) -> str:
    """``h_{t-1}`` -> ``h<tspan ...>t-1</tspan>``: a subscript, and what follows it back on the
    baseline."""
    out, pos, down = [], 0, False
    for m in _SUB.finditer(text):
        if m.start() > pos:
            out.append(_on_baseline(text[pos:m.start()], size, down))
            down = False
        out.append(f'<tspan dy="{0 if down else size * 0.3:g}" font-size="{size * 0.72:g}">'
                   f'{escape(m[1].strip("{}"))}</tspan>')
        pos, down = m.end(), True
    if pos < len(text):
        out.append(_on_baseline(text[pos:], size, down))
    return "".join(out)


def _on_baseline(text: str, size: float, down: bool) -> str:
    if not down:
        return escape(text)
    # a space at the start of a tspan is dropped by some renderers: moved by dx instead
    gap = len(text) - len(text.lstrip(" "))
    dx = f' dx="{size * 0.3 * gap:g}"' if gap else ""
    return f'<tspan dy="{-size * 0.3:g}"{dx}>{escape(text.lstrip(" "))}</tspan>'


_TEX_SPECIAL = {"−": "-", "…": "\\dots ", "⋯": "\\cdots ", "⊙": "\\odot ", "σ": "\\sigma ",
                "×": "\\times ", "‖": "\\|", "·": "\\cdot "}


_TEXT_SPECIAL = {"_": "\\_", "%": "\\%", "&": "\\&", "#": "\\#", "$": "\\$", "−": "-",
                 "…": "\\dots{}", "⋯": "$\\cdots$", "·": "$\\cdot$", "×": "$\\times$", "‖": "$\\|$",
                 "σ": "$\\sigma$", "⊙": "$\\odot$", "{": "\\{", "}": "\\}"}


def _tex(text: str, math: bool) -> str:
    if math:
        return "$" + "".join(_TEX_SPECIAL.get(ch, ch) for ch in text) + "$"
    return "".join(_TEXT_SPECIAL.get(ch, ch) for ch in text)


def _color(hex_color: str) -> str:
    code = hex_color.lstrip("#").upper()
    if len(code) == 3:
        code = "".join(ch * 2 for ch in code)
    return f"\\color[HTML]{{{code}}}"


def _latex(s: Shape, height: float, scale: float) -> list[str]:
    def at(x: float, y: float) -> str:  # LaTeX's y grows upwards
        return f"\\put({x:.1f},{height - y:.1f})"

    if isinstance(s, Rect):
        out = []
        if s.fill != "none":
            out.append(f"{at(s.x, s.y + s.h)}{{{{{_color(s.fill)}\\rule{{{s.w:.1f}"
                       f"\\unitlength}}{{{s.h:.1f}\\unitlength}}}}}}")
        if s.stroke != "none":
            out.append(f"{at(s.x, s.y + s.h)}{{{{{_color(s.stroke)}\\framebox({s.w:.1f},"
                       f"{s.h:.1f}){{}}}}}}")
        return out
    if isinstance(s, Image):
        return []  # LaTeX draws the unrolled net and the cell, which have no rasters
    if isinstance(s, Circle):
        return [f"{at(s.cx, s.cy)}{{{{{_color(s.stroke)}\\circle{{{2 * s.r:.0f}}}}}}}"]
    if isinstance(s, Wire):
        out = []
        pairs = list(zip(s.points, s.points[1:], strict=False))
        for i, ((x0, y0), (x1, y1)) in enumerate(pairs):
            length = abs(x1 - x0) + abs(y1 - y0)
            if length < 0.5:
                continue
            dx, dy = (1 if x1 > x0 else -1 if x1 < x0 else 0), (-1 if y1 > y0 else 1 if y1 < y0
                                                                 else 0)
            kind = "vector" if s.arrow and i == len(pairs) - 1 else "line"
            out.append(f"{at(x0, y0)}{{{{{_color(s.color)}\\{kind}({dx},{dy}){{{length:.1f}}}}}}}")
        return out
    align = {"start": "l", "middle": "", "end": "r"}[s.anchor]
    pt = max(5.0, s.size * scale * 1.1)  # no smaller than 5 pt: a printed sheet must read
    size = f"\\fontsize{{{pt:.1f}}}{{{pt * 1.2:.1f}}}\\selectfont"
    body = _tex(s.text, s.math)
    if s.bold and not s.math:
        body = f"\\textbf{{{body}}}"
    return [f"{at(s.x, s.y)}{{\\makebox(0,0)[{align}b]{{{size}{_color(s.color)}{body}}}}}"]
