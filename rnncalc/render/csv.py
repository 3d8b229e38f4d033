"""The per-step table as CSV: one row per step of every layer and direction, one column per unit.

Columns: ``layer, direction, t``, the inputs ``x[0] ...``, then for each gate in the cell's order
its pre-activation ``pre_G[j]`` and activation ``G[j]`` (rnn: ``pre_h``, ``h``; lstm: ``pre_i``,
``i``, ... ``o``), then ``c[j]`` (lstm), ``m[j]`` (lstm with a projection) and ``h[j]``. Steps
are listed in the order computed; a backward direction starts at ``t = T-1``.

A head adds its rows after the steps, ``layer`` = ``head``, as the JSON holds them: a regression
head ``y[k]`` at every position ``t`` and on the final state (``t`` = ``final``); a classification
head its logits ``z[k]``, probabilities ``p[k]``, ``label`` (and ``name`` with labels) on the final
state; a labeling head the same at every position. Its columns are empty in the step rows, and
the step columns in its rows.

Inputs are written as given; computed numbers as :func:`rnncalc.render.fmt` shows them.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from rnncalc.render import exact, fmt

if TYPE_CHECKING:
    from rnncalc.trace import HeadTrace, Trace

__all__ = ["render"]


def render(trace: Trace, *, precision: int = 4) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    directions = [tr for lt in trace.layers for tr in lt.directions.values()]
    width_in = max(tr.x.shape[-1] for tr in directions)
    first = directions[0].step(0)
    header = ["layer", "direction", "t", *_names("x", width_in)]
    for gate, value in first.pre.items():
        header += _names(f"pre_{gate}", len(value))
        header += [] if gate == "h" else _names(gate, len(value))
    if first.c is not None:
        header += _names("c", len(first.c))
    for name, value in first.extra.items():  # lstm projection: m_t
        header += _names(name, len(value))
    header += _names("h", len(first.h))
    head = _head_rows(trace.head, precision) if trace.head is not None else ([], [])
    writer.writerow(header + head[0])
    for tr in directions:
        for step in tr.steps():
            x = ([exact(v) for v in step.x.tolist()] if tr.layer == 0
                 else _numbers(step.x, precision))
            row = [str(tr.layer), tr.direction, str(step.t), *x, *[""] * (width_in - len(x))]
            for gate in step.pre:
                row += _numbers(step.pre[gate], precision)
                if gate != "h":
                    row += _numbers(step.act[gate], precision)
            if step.c is not None:
                row += _numbers(step.c, precision)
            for value in step.extra.values():
                row += _numbers(value, precision)
            row += _numbers(step.h, precision)
            writer.writerow(row + [""] * len(head[0]))
    for at, values in head[1]:
        writer.writerow(["head", "", at, *[""] * (len(header) - 3), *values])
    return out.getvalue()


def _head_rows(head: HeadTrace, precision: int) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The head's column names and its rows ``(t, values)``: per position, then ``final``."""
    if head.task == "regression":
        rows = [(str(t), _numbers(y, precision)) for t, y in enumerate(head.logits_t)]
        return (_names("y", head.logits.shape[-1]),
                [*rows, ("final", _numbers(head.logits, precision))])
    if head.task == "labeling":
        assert head.probs_t is not None and head.labels_t is not None
        at = [(str(t), z, p, k) for t, (z, p, k) in
              enumerate(zip(head.logits_t, head.probs_t, head.labels_t, strict=True))]
    else:
        assert head.probs is not None and head.label is not None
        at = [("final", head.logits, head.probs, head.label)]
    names = ["name"] if head.names else []
    return ([*_names("z", head.logits.shape[-1]), *_names("p", head.logits.shape[-1]), "label",
             *names],
            [(t, [*_numbers(z, precision), *_numbers(p, precision), str(k),
                  *([head.names[k]] if head.names else [])]) for t, z, p, k in at])


def _names(symbol: str, size: int) -> list[str]:
    return [f"{symbol}[{j}]" for j in range(size)]


def _numbers(values: Any, precision: int) -> list[str]:
    return [fmt(v, precision) for v in values.tolist()]
