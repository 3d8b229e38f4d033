"""The network unrolled over time: positions left to right, layers stacked upwards (each
direction of a bidirectional layer its own row), the inputs below and the head on top.

A small net (:data:`SMALL_H` units, :data:`SMALL_T` steps at most) carries the values on its
arrows: ``x_t`` under each column, ``h_t`` (and ``c_t``) on the arrow that takes it to the next
step, the head's outputs on top. A larger one carries the shapes instead and elides the middle
steps (the first :data:`HEAD_STEPS` and the last :data:`TAIL_STEPS` are drawn).

>>> import rnncalc
>>> unrolled_canvas(rnncalc.run(rnncalc.load(cell="rnn"))).svg().count("<text") > 10
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rnncalc.cells import spec
from rnncalc.pictures.canvas import Canvas, Circle, Rect, Text, Wire
from rnncalc.pictures.cell import number_texts

if TYPE_CHECKING:
    from rnncalc.trace import DirectionTrace, Trace

__all__ = ["HEAD_STEPS", "SMALL_H", "SMALL_T", "TAIL_STEPS", "unrolled_canvas"]

SMALL_H, SMALL_T = 4, 8
HEAD_STEPS, TAIL_STEPS = 3, 2
CELL_W, CELL_H, ROW_H, ML, BOTTOM_ROOM = 64.0, 34.0, 96.0, 90.0, 64.0
FONT = 9.5
COLORS = {"forward": "#1f5fa8", "backward": "#b5532a"}
CELL_FILL = {"forward": "#e3eefb", "backward": "#fbe9df"}


def _vector(values: Sequence[float], precision: int, given: bool = False) -> str:
    return "[" + ", ".join(number_texts(values, precision, given)) + "]"


def _width(text: str) -> float:
    return 0.6 * FONT * len(text)


def unrolled_canvas(trace: Trace, *, precision: int = 4) -> Canvas:
    ex = trace.exercise
    T = ex.steps
    small = ex.hidden_size <= SMALL_H and ex.input_size <= SMALL_H and T <= SMALL_T
    shown: list[int | None] = list(range(T)) if T <= SMALL_T else [
        *range(HEAD_STEPS), None, *range(T - TAIL_STEPS, T)]
    rows = [tr for layer in trace.layers for tr in layer.directions.values()]
    longest = 10.0
    if small:
        texts = [_vector(v, precision) for tr in rows for v in tr.h.tolist()]
        texts += [_vector(v, precision) for tr in rows if tr.c is not None for v in tr.c.tolist()]
        texts += [_vector(x, precision, given=True) for x in ex.inputs]
        longest = max(_width("h " + t) for t in texts)
    col_w = max(130.0, CELL_W + longest + 24)
    head_h = 70.0 if ex.head is not None else 10.0
    top = 50 + head_h
    height = top + len(rows) * ROW_H + BOTTOM_ROOM
    label_w = longest if small else _width("h [64]")
    # a backward row's last arrow and its label leave on the left, past the row's own label
    left = ML + (label_w + 16 if "backward" in ex.directions else 0)
    width = left + len(shown) * col_w + 90
    if ex.head is not None and ex.head.task != "labeling":  # room right of h_{T-1}'s label
        width += label_w + 90
    c = Canvas(width, height, title=f"{spec(ex.cell).title} unrolled over {T} steps")
    c.add(Text(16, 24, c.title + f" · {ex.num_layers} layer{'s' * (ex.num_layers > 1)} · "
               f"{ex.direction}", size=14, anchor="start", bold=True))
    if not small:
        c.add(Text(16, 40, f"input {ex.input_size} · hidden {ex.hidden_size}: shapes on the "
                   "arrows" + (f"; steps {HEAD_STEPS}…{T - TAIL_STEPS - 1} not drawn"
                               if None in shown else ""), size=10, anchor="start",
                   color="#555"))

    def cx(i: int) -> float:
        return left + col_w * (i + 0.5)

    def row_y(r: int) -> float:  # row 0 at the bottom
        return top + (len(rows) - 1 - r) * ROW_H + ROW_H / 2

    x_y = height - BOTTOM_ROOM + 26
    for i, t in enumerate(shown):
        if t is None:
            c.add(Text(cx(i), row_y(0) + 4, "⋯", size=18, color="#555"))
            continue
        label = _vector(ex.inputs[t], precision, given=True) if small else f"[{ex.input_size}]"
        c.add(Text(cx(i), x_y + 14, f"x_{{{t}}}", size=11, math=True, bold=True),
              Text(cx(i), x_y + 27, label, size=FONT, key=f"x.{t}" if small else ""))
    for r, tr in enumerate(rows):
        _row(c, trace, tr, r, shown, cx, row_y, small, precision)
    _wiring(c, ex, shown, cx, row_y, x_y)
    if ex.head is not None:
        _head(c, trace, shown, cx, row_y, len(rows), top, small, precision, width, label_w)
    return c


def _row(c: Canvas, trace: Trace, tr: DirectionTrace, r: int, shown: list[int | None],
         cx, row_y, small: bool, precision: int) -> None:  # type: ignore[no-untyped-def]
    """One layer's direction: its cells and the state arrows between them, with their values."""
    ex = trace.exercise
    y = row_y(r)
    color = COLORS[tr.direction]
    back = tr.direction == "backward"
    c.add(Text(8, y - 2, f"layer {tr.layer}", size=10, anchor="start", color="#333"),
          Text(8, y + 11, tr.direction, size=10, anchor="start", color=color))
    h, cs = tr.h.tolist(), None if tr.c is None else tr.c.tolist()
    order = {t: k for k, t in enumerate(tr.positions)}
    step = -1 if back else 1
    for i, t in enumerate(shown):
        if t is None:
            continue
        x = cx(i)
        c.add(Rect(x - CELL_W / 2, y - CELL_H / 2, CELL_W, CELL_H, CELL_FILL[tr.direction],
                   color, 6),
              Text(x, y + 4, spec(ex.cell).title, size=11, color=color, bold=True))
        # the state this step hands on, on the arrow to the next step (a stub after the last)
        nxt = i + step
        x0 = x + step * CELL_W / 2
        x1 = (cx(nxt) - step * CELL_W / 2) if 0 <= nxt < len(shown) else x0 + step * 34
        dashed = 0 <= nxt < len(shown) and shown[nxt] is None
        c.add(Wire(((x0, y), (x1, y)), color=color, dash=dashed))
        k = order[t]
        mid = (x0 + x1) / 2 if not dashed else x0 + step * 30
        anchor = "middle" if 0 <= nxt < len(shown) and not dashed else (
            "end" if back else "start")
        key = f"L{tr.layer}.{tr.direction}.{t}"
        if small:
            c.add(Text(mid, y - 6, f"h {_vector(h[k], precision)}", size=FONT, color=color,
                       anchor=anchor, key=f"{key}.h"))
            if cs is not None:
                c.add(Text(mid, y + 14, f"c {_vector(cs[k], precision)}", size=FONT,
                           color=color, anchor=anchor, key=f"{key}.c"))
        elif i in (0, len(shown) - 1):
            c.add(Text(mid, y - 6, f"h [{len(h[k])}]", size=FONT, color=color, anchor=anchor))
    # the initial state, into the first step computed
    first = (len(shown) - 1) if back else 0
    if shown[first] is not None:
        x = cx(first) - step * CELL_W / 2
        start = x - step * 30
        c.add(Wire(((start, y), (x, y)), color=color))
        if small:
            h0 = tr.h0.tolist()
            if any(h0):
                c.add(Text(start, y - 6, f"h {_vector(h0, precision, True)}", size=FONT,
                           color=color, anchor="end" if not back else "start",
                           key=f"L{tr.layer}.{tr.direction}.h0"))


def _wiring(c: Canvas, ex, shown: list[int | None], cx, row_y, x_y: float) -> None:  # type: ignore[no-untyped-def]
    """What each cell reads: ``x_t``, or the layer below at the same position. A bidirectional
    layer's two outputs meet at a dot (joined, ``merge_mode``) before the layer above reads it;
    both directions of a layer read the same input (the backward row's wire goes round)."""
    D = ex.num_directions
    def wire(*points: tuple[float, float]) -> Wire:
        return Wire(points, color="#777", width=1.1)

    for i, t in enumerate(shown):
        if t is None:
            continue
        x = cx(i)
        src = x_y  # where this layer's input comes from (the top of x_t, or the join below)
        for layer in range(ex.num_layers):
            fwd_y = row_y(layer * D)
            c.add(wire((x, src), (x, fwd_y + CELL_H / 2)))
            if D == 1:
                src = fwd_y - CELL_H / 2
                continue
            back_y = row_y(layer * D + 1)
            gap, side = fwd_y - ROW_H / 2, CELL_W / 2 + 10
            c.add(wire((x, src - 8), (x - side, src - 8), (x - side, gap), (x - 14, gap),
                       (x - 14, back_y + CELL_H / 2)))
            join = back_y - ROW_H / 2 + 6
            c.add(wire((x + 14, fwd_y - CELL_H / 2), (x + 14, gap + 10), (x + side, gap + 10),
                       (x + side, join), (x + 4, join)),
                  wire((x, back_y - CELL_H / 2), (x, join + 4)),
                  Circle(x, join, 3, fill="#777", stroke="#777"))
            src = join


def _head(c: Canvas, trace: Trace, shown: list[int | None], cx, row_y, n_rows: int, top: float,
          small: bool, precision: int, width: float,
          label_w: float) -> None:  # type: ignore[no-untyped-def]
    """The head: per position (labeling) on the top layer's output, or one box on the final
    state, wired from the last step each direction of the top layer computes."""
    head = trace.head
    assert head is not None
    ex = trace.exercise
    y = top - 40
    # where the top layer's output at a position leaves: its join dot, or its one cell's top
    out_y = row_y(n_rows - 1) - (ROW_H / 2 - 6 if ex.num_directions == 2 else CELL_H / 2)
    if head.task == "labeling":
        assert head.labels_t is not None and head.probs_t is not None
        probs = head.probs_t.tolist()
        for i, t in enumerate(shown):
            if t is None:
                continue
            x = cx(i)
            c.add(Wire(((x, out_y - 3), (x, y + 12)), color="#777", width=1.1),
                  Rect(x - 30, y - 12, 60, 24, "#eee8f7", "#6a4c9c", 4),
                  Text(x, y + 4, f"label {head.labels_t[t]}", size=10, key=f"head.label.{t}"))
            if small:
                c.add(Text(x, y - 16, f"p {_vector(probs[t], precision)}", size=FONT,
                           key=f"head.p.{t}"))
        return
    x = width - 70
    for n, direction in enumerate(ex.directions):  # from each direction's last step
        path: tuple[tuple[float, float], ...]
        row_at = row_y(n_rows - ex.num_directions + n)
        if direction == "backward":  # up from its cell at position 0 (the top row)
            start = cx(0) - CELL_W / 2 + 8
            path = ((start, row_at - CELL_H / 2), (start, y - 6), (x - 60, y - 6))
        else:  # on from the end of its last h arrow, past that arrow's label
            start = cx(len(shown) - 1) + CELL_W / 2 + 34
            path = ((start, row_at), (start + label_w + 8, row_at),
                    (start + label_w + 8, y + 6), (x - 60, y + 6))
        c.add(Wire(path, color="#8a7aa8", width=1.1, dash=True))
    text = (f"y = {_vector(head.logits.tolist(), precision)}" if head.task == "regression"
            else f"label {head.label}")
    key = "head.y" if head.task == "regression" else "head.label"
    c.add(Rect(x - 60, y - 14, 120, 28, "#eee8f7", "#6a4c9c", 4),
          Text(x, y + 4, text, size=10, key=key))
    if head.task == "classification" and head.probs is not None:
        c.add(Text(x, y - 18, f"p {_vector(head.probs.tolist(), precision)}", size=FONT,
                   key="head.p"))
    c.add(Text(x, y + 28, "head on the final state", size=9, color="#555"))
