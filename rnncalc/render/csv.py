"""The per-step table as CSV: one row per step of every layer and direction, one column per unit.

Columns: ``layer, direction, t``, the inputs ``x[0] ...``, then for each gate in the cell's order
its pre-activation ``pre_G[j]`` and activation ``G[j]`` (rnn: ``pre_h``, ``h``; lstm: ``pre_i``,
``i``, ... ``o``), then ``c[j]`` (lstm) and ``h[j]``. Steps are listed in the order computed; a
backward direction starts at ``t = T-1``. Numbers have ``precision`` digits after the point.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from rnncalc.render import fmt

if TYPE_CHECKING:
    from rnncalc.trace import Trace

__all__ = ["render"]


def render(trace: Trace, *, precision: int = 4) -> str:
    ex = trace.exercise
    H = ex.hidden_size
    units = range(H)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    first = trace.layers[0].directions["forward"]
    width_in = max(tr.x.shape[-1] for lt in trace.layers for tr in lt.directions.values())
    header = ["layer", "direction", "t", *(f"x[{j}]" for j in range(width_in))]
    for gate in first.pre:
        header += [f"pre_{gate}[{j}]" for j in units]
        header += [f"{gate}[{j}]" for j in units] if gate != "h" else []
    if first.c is not None:
        header += [f"c[{j}]" for j in units]
    header += [f"h[{j}]" for j in units]
    writer.writerow(header)
    for lt in trace.layers:
        for tr in lt.directions.values():
            for step in tr.steps():
                x = [fmt(v, precision) for v in step.x.tolist()]
                row = [str(tr.layer), tr.direction, str(step.t), *x, *[""] * (width_in - len(x))]
                for gate in step.pre:
                    row += [fmt(v, precision) for v in step.pre[gate].tolist()]
                    if gate != "h":
                        row += [fmt(v, precision) for v in step.act[gate].tolist()]
                if step.c is not None:
                    row += [fmt(v, precision) for v in step.c.tolist()]
                row += [fmt(v, precision) for v in step.h.tolist()]
                writer.writerow(row)
    return out.getvalue()
