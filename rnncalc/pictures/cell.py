"""The cell at one step, in the style of colah's figures, every value of the step in place.

The layout is the cell's own ``DIAGRAM`` (:mod:`rnncalc.cells._diagram`), read from the cell's
module; a cell without one is drawn generically (its gates side by side). Numbers are read from
the trace: each gate's pre-activation ``a`` and activation, ``x_t``, ``h_{t-1}``, ``c_{t-1}``,
``h_t``, ``c_t`` (and ``m_t`` of a projected LSTM). Up to :data:`WRITTEN` units are written as
numbers; more are drawn as a strip of coloured cells, each with its value as a tooltip.

>>> import rnncalc
>>> svg = cell_canvas(rnncalc.run(rnncalc.load(cell="lstm")), t=1).svg()
>>> svg.startswith("<svg")
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rnncalc.cells import spec
from rnncalc.cells._diagram import Box, Diagram, Link, Op
from rnncalc.pictures.canvas import Canvas, Circle, Rect, Text, Wire
from rnncalc.pictures.colors import Scale, scale_of
from rnncalc.render import fmt

if TYPE_CHECKING:
    from rnncalc.formulation import Formulation
    from rnncalc.trace import DirectionTrace, Trace

__all__ = [
    "WRITTEN", "Where", "cell_canvas", "diagram_of", "number_texts", "scales", "step_texts",
    "step_values",
]

WRITTEN = 4  # units written as numbers; more: a strip of colours
ML, CW, RH, TOP = 120.0, 150.0, 72.0, 96.0  # left margin, column width, row height, top
BOX_W, BOX_H, OP_R = 44.0, 28.0, 11.0
LINE = 12.0  # a line of numbers
STRIP = 104.0  # the width of a strip of many units

BOX_FILL, BOX_STROKE = "#ffe9a8", "#b8860b"
OP_FILL, OP_STROKE = "#fbd3da", "#b0405a"
SYMBOLS = {"sigmoid": "σ", "tanh": "tanh", "relu": "ReLU", "identity": "id"}


@dataclass(frozen=True)
class Where:
    """Which step: a layer, a direction and a position ``t``."""

    layer: int = 0
    direction: str = "forward"
    t: int = 0


def diagram_of(cell: str, gates: tuple[str, ...], form: Formulation | None = None) -> Diagram:
    """The cell's own diagram (its spec's ``diagram``: a :class:`Diagram`, or a function of the
    formulation giving one), else a generic one: the gates side by side into ``h_t``."""
    from rnncalc.cells import CELLS

    own = CELLS[cell].diagram
    if callable(own) and form is not None:
        own = own(form)
    if own is not None:
        return own  # type: ignore[no-any-return]
    n = len(gates)
    return Diagram(
        state="", boxes=tuple(Box(g, 1 + i, "") for i, g in enumerate(gates)),
        ops=(Op("cell", cell, n + 0.5, 1),),
        links=(*(Link(g, "cell", "vh") for g in gates), Link("cell", "h_t", "h")),
        out_row=1, cols=n + 1.5)


def step_values(tr: DirectionTrace, k: int) -> dict[str, list[float]]:
    """Every quantity of the ``k``-th step computed, by the key its numbers carry (``act.f``)."""
    s = tr.step(k)
    out = {"x": s.x.tolist(), "h_prev": s.h_prev.tolist(), "h": s.h.tolist()}
    if s.c is not None and s.c_prev is not None:
        out.update(c_prev=s.c_prev.tolist(), c=s.c.tolist())
    for g in s.pre:
        out[f"pre.{g}"] = s.pre[g].tolist()
        out[f"act.{g}"] = s.act[g].tolist()
    out.update({name: v.tolist() for name, v in s.extra.items()})
    return out


def step_texts(tr: DirectionTrace, k: int, precision: int) -> dict[str, list[str]]:
    """:func:`step_values` as the diagram writes them."""
    given = ({"x"} if tr.layer == 0 else set()) | ({"h_prev", "c_prev"} if k == 0 else set())
    return {key: number_texts(v, precision, key in given)
            for key, v in step_values(tr, k).items()}


def scales(tr: DirectionTrace) -> dict[str, Scale]:
    """One colour scale per quantity over all the steps, so a stepped strip keeps its scale."""
    blocks = {"x": tr.x, "h_prev": tr.h_prev, "h": tr.h, **tr.extra,
              **{f"pre.{g}": v for g, v in tr.pre.items()},
              **{f"act.{g}": v for g, v in tr.act.items()}}
    if tr.c is not None and tr.c_prev is not None:
        blocks.update(c=tr.c, c_prev=tr.c_prev)
    return {key: scale_of(v.flatten().tolist()) for key, v in blocks.items()}


_TERMINALS = {"h_{t-1}": "h_prev", "c_{t-1}": "c_prev", "h_t": "h", "c_t": "c"}


def cell_canvas(trace: Trace, where: Where | None = None, *, precision: int = 4,
                t: int | None = None, heading: bool = True) -> Canvas:
    """The diagram of one step; ``t`` is a shortcut for ``Where(t=t)``. Without ``heading`` the
    title is left to the page (the HTML report's stepper writes it as it moves)."""
    where = where or Where(t=t or 0)
    tr = trace.layers[where.layer].directions[where.direction]
    k = tr.positions.index(where.t)
    ex = trace.exercise
    d = diagram_of(ex.cell, tuple(tr.pre), ex.formulation)
    prev, nxt = ("t+1", "t-1") if where.direction == "backward" else ("t-1", "t+1")
    title = f"{spec(ex.cell).title} cell · layer {where.layer} · {where.direction} · t = {where.t}"
    note = (f"backward: the previous state is h_{{{prev}}}, h_t goes on to h_{{{nxt}}}"
            if where.direction == "backward" else "")
    drawing = _Drawing(d, step_values(tr, k), step_texts(tr, k, precision), scales(tr), precision,
                       {role: a.name for role, a in ex.formulation.act.items()},
                       TOP if heading else TOP - 52)
    return drawing.draw(title if heading else "", note, heading)


def X(col: float) -> float:
    return ML + col * CW


class _Drawing:
    def __init__(self, d: Diagram, values: dict[str, list[float]], texts: dict[str, list[str]],
                 scales: dict[str, Scale], precision: int, activations: dict[str, str],
                 top: float) -> None:
        self.d, self.values, self.texts, self.scales = d, values, texts, scales
        self.precision, self.top = precision, top
        self.activations = activations
        self.H = len(values["h"])
        # a diagram without a state line starts at its highest element
        self.row0 = 0.0 if d.state else min([d.out_row, *(o.row for o in d.ops)]) - 0.5
        self.right = X(d.cols - 0.4)
        self.canvas = Canvas(self.right + 130, 0 + self._column_height(len(values["x"])))

    def Y(self, row: float) -> float:
        return self.top + (row - self.row0) * RH

    def _column_height(self, n: int) -> float:
        return LINE * (n if n <= WRITTEN else 1.2)

    def draw(self, title: str, note: str, heading: bool) -> Canvas:
        c, d = self.canvas, self.d
        c.height = self.Y(5) + 30 + self._column_height(len(self.values["x"]))
        c.title = title
        if heading:
            c.add(Text(16, 24, title, size=14, anchor="start", bold=True))
        if note and heading:
            c.add(Text(16, 42, note, size=10, anchor="start", color="#555", math=True))
        self._state_and_bus()
        points = self._points()
        for link in d.links:
            self._link(points, link)
        for box in d.boxes:
            self._box(box)
        for op in d.ops:
            self._op(op)
        return c

    # ------------------------------------------------------------------ positions

    def _points(self) -> dict[str, tuple[float, float, str]]:
        """Every element's centre and kind (box, op, oval, terminal)."""
        d = self.d
        pts: dict[str, tuple[float, float, str]] = {
            b.gate: (X(b.col), self.Y(3), "box") for b in d.boxes}
        pts.update({o.name: (X(o.col), self.Y(o.row), "oval" if o.role else "op") for o in d.ops})
        left = ML - 80
        pts["c_{t-1}"] = (left, self.Y(0), "terminal")
        pts["h_{t-1}"] = (left, self.Y(0) if d.state == "h" else self.Y(4), "terminal")
        pts["c_t"] = (self.right, self.Y(0), "terminal")
        pts["h_t"] = (self.right, self.Y(d.out_row), "terminal")
        return pts

    def _half(self, kind: str, horizontal: bool) -> float:
        """How far a wire stops short of an element's centre."""
        if kind == "box":
            return BOX_W / 2 if horizontal else BOX_H / 2
        if kind == "oval":
            return 20 if horizontal else OP_R
        return OP_R if kind == "op" else 0

    def _link(self, pts: dict[str, tuple[float, float, str]], link: Link) -> None:
        x0, y0, k0 = pts[link.src]
        x1, y1, k1 = pts[link.dst]
        if link.route == "h" or (link.route != "v" and y0 == y1):
            path = [(x0, y0), (x1, y0)]
        elif link.route == "v" or x0 == x1:
            path = [(x0, y0), (x0, y1)]
        elif link.route == "vh":
            path = [(x0, y0), (x0, y1), (x1, y1)]
        else:
            path = [(x0, y0), (x1, y0), (x1, y1)]
        (ax, ay), (bx, by) = path[0], path[1]
        path[0] = _toward(ax, ay, bx, by, self._half(k0, ay == by))
        (ax, ay), (bx, by) = path[-1], path[-2]
        path[-1] = _toward(ax, ay, bx, by, self._half(k1, ay == by))
        self.canvas.add(Wire(tuple(path)))

    # ------------------------------------------------------------------ elements

    def _state_and_bus(self) -> None:
        """The terminals with their values, the bus ``[h_{t-1}, x_t]`` and each box's stem."""
        c, d = self.canvas, self.d
        left = ML - 80
        bus_y = self.Y(4)
        last = max((b.col for b in d.boxes), default=1)
        if d.state == "h":  # h_{t-1} runs along the top and drops to the bus
            c.add(Wire(((ML - 40, self.Y(0)), (ML - 40, bus_y), (X(last), bus_y)), arrow=False))
        else:
            c.add(Wire(((left, bus_y), (X(last), bus_y)), arrow=False))
        if "c" in self.values:
            self._values("c_prev", "c_{t-1}", left, self.Y(0) - 8, above=True)
            self._values("c", "c_t", self.right + 6, self.Y(0) - 8, above=True, anchor="start")
        h_y = self.Y(0) if d.state == "h" else bus_y
        self._values("h_prev", "h_{t-1}", left, h_y - 8, above=True)
        self._values("h", "h_t", self.right + 6, self.Y(d.out_row) - 8, above=True)
        if d.state == "" and "c" in self.values:  # a generic cell's c_t, beside h_t
            self._values("c", "c_t", self.right + 6, self.Y(d.out_row) + 30, anchor="start")
        x_at = X(0.5)
        c.add(Wire(((x_at, self.Y(4.9)), (x_at, bus_y)), arrow=False))
        c.add(Circle(x_at, bus_y, 2.5, fill="#444", stroke="#444"))
        self._values("x", "x_t", x_at + 8, self.Y(4.9), anchor="start")
        for b in d.boxes:
            c.add(Wire(((X(b.col), bus_y), (X(b.col), self.Y(3) + BOX_H / 2))))

    def _box(self, b: Box) -> None:
        x, y = X(b.col), self.Y(3)
        fn = self.activations.get(b.role, "")
        self.canvas.add(Rect(x - BOX_W / 2, y - BOX_H / 2, BOX_W, BOX_H, BOX_FILL, BOX_STROKE, 4),
                        Text(x, y + 4, SYMBOLS.get(fn, fn or b.gate), size=12))
        gx = x + BOX_W / 2 + 6
        if self.H <= WRITTEN:
            self._values(f"pre.{b.gate}", f"a_{b.gate}", gx, y - 20, above=True, anchor="start",
                         grey=True)
            self._values(f"act.{b.gate}", f"{b.gate}_t", gx + 58, y - 20, above=True,
                         anchor="start")
        else:
            self._values(f"pre.{b.gate}", f"a_{b.gate}", gx, y - 4, anchor="start", grey=True)
            self._values(f"act.{b.gate}", f"{b.gate}_t", gx, y + 22, anchor="start")

    def _op(self, op: Op) -> None:
        x, y = X(op.col), self.Y(op.row)
        if op.role:
            fn = self.activations.get(op.role, op.role)
            self.canvas.add(Rect(x - 20, y - OP_R, 40, 2 * OP_R, OP_FILL, OP_STROKE, OP_R),
                            Text(x, y + 4, SYMBOLS.get(fn, fn), size=11))
        elif op.name == "cell" and op.symbol not in ("×", "+", "1−"):  # the generic combiner
            self.canvas.add(Rect(x - 30, y - OP_R, 60, 2 * OP_R, OP_FILL, OP_STROKE, 4),
                            Text(x, y + 4, op.symbol, size=11))
        else:
            self.canvas.add(Circle(x, y, OP_R, OP_FILL, OP_STROKE),
                            Text(x, y + 4, op.symbol, size=12 if len(op.symbol) == 1 else 9,
                                 bold=True))
        if op.value and op.value in self.values:
            self._values(op.value, f"{op.value}_t", x + 16, y + 8, anchor="start")

    def _values(self, key: str, label: str, x: float, y: float, *, above: bool = False,
                anchor: str = "start", grey: bool = False) -> None:
        """``label`` and the values of ``key``: a column of numbers (written from ``y`` down, or
        ending at ``y`` when ``above``), or a strip of colours for many units."""
        values = self.values.get(key)
        if values is None:
            return
        c = self.canvas
        color = "#666" if grey else "#222"
        if len(values) > WRITTEN:
            y = y - 12 if above else y + 4
            c.add(Text(x, y - 3, f"{label}\u00a0[{len(values)}]", size=10, anchor=anchor,
                       color=color, math=True))
            scale, w = self.scales[key], STRIP / len(values)
            x0 = x - STRIP if anchor == "end" else x
            for j, (v, text) in enumerate(zip(values, self.texts[key], strict=True)):
                c.add(Rect(x0 + j * w, y, w, 11, scale(v), key=f"{key}.{j}",
                           title=f"{label}[{j}] = {text}"))
            return
        top = y - LINE * len(values) - 4 if above else y
        c.add(Text(x, top, label, size=10.5, anchor=anchor, color=color, math=True, bold=True))
        for j, text in enumerate(self.texts[key]):
            c.add(Text(x, top + LINE * (j + 1), text, size=10, anchor=anchor, color=color,
                       key=f"{key}.{j}"))


def number_texts(values: Sequence[float], precision: int, given: bool = False) -> list[str]:
    """Numbers as written in place: at ``precision`` digits; given ones (an exercise's inputs and
    initial states) that are whole numbers as written, ``4`` not ``4.0000``."""
    if given and all(float(v).is_integer() for v in values):
        return [str(int(v)) for v in values]
    return [fmt(v, precision) for v in values]


def _toward(x: float, y: float, tx: float, ty: float, by: float) -> tuple[float, float]:
    """``(x, y)`` moved ``by`` towards ``(tx, ty)`` (along a horizontal or vertical wire)."""
    if by == 0:
        return x, y
    if y == ty:
        return x + (by if tx > x else -by), y
    return x, y + (by if ty > y else -by)
