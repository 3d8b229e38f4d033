"""The per-step table as CSV: one row per step of every layer and direction, one column per unit.

Columns: ``layer, direction, t``, the inputs ``x[0] ...``, then for each gate in the cell's order
its pre-activation ``pre_G[j]`` and activation ``G[j]`` (rnn: ``pre_h``, ``h``; lstm: ``pre_i``,
``i``, ... ``o``), then ``c[j]`` (lstm), ``m[j]`` (lstm with a projection) and ``h[j]``. Steps
are listed in the order computed; a backward direction starts at ``t = T-1``. Numbers have
``precision`` digits after the point.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from rnncalc.render import fmt

if TYPE_CHECKING:
    from rnncalc.trace import Trace

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
    writer.writerow(header)
    for tr in directions:
        for step in tr.steps():
            x = _numbers(step.x, precision)
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
            writer.writerow(row)
    return out.getvalue()


def _names(symbol: str, size: int) -> list[str]:
    return [f"{symbol}[{j}]" for j in range(size)]


def _numbers(values: Any, precision: int) -> list[str]:
    return [fmt(v, precision) for v in values.tolist()]
