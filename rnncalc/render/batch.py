"""A batch's tables and JSON: each sequence's own rendering under a heading naming its place in
the batch, then what belongs to the batch (its loss and gradient totals).

Every sequence is an ordinary trace, so this module only arranges what the one-trace renderers
make; it computes nothing.
"""

from __future__ import annotations

from typing import Any

from rnncalc.minibatch import BatchGrad, BatchTrace
from rnncalc.render import fmt

__all__ = ["render", "render_grad"]


def _heading(bt: BatchTrace, b: int) -> str:
    n = bt.batch.lengths[b]
    return (f"Sequence {b} of the batch ({len(bt.traces)} sequences, the same weights) · "
            f"{n} step{'s' if n != 1 else ''}")


def render(bt: BatchTrace, fmt_name: str, *, step_by_step: bool = False, precision: int = 4,
           steps: str | None = None) -> Any:
    """``json`` (text) or ``table`` (a rich renderable)."""
    if fmt_name == "json":
        from rnncalc.render.json import dumps

        return dumps(bt.to_dict()) + "\n"
    from rich.console import Group
    from rich.text import Text

    from rnncalc.render.table import render as render_table

    parts: list[Any] = []
    for b, trace in enumerate(bt.traces):
        parts += [Text(_heading(bt, b), style="bold reverse"),
                  render_table(trace, step_by_step=step_by_step, precision=precision,
                               steps=steps), Text("")]
    return Group(*parts)


def render_grad(bt: BatchTrace, bg: BatchGrad, fmt_name: str, *, step_by_step: bool = False,
                precision: int = 4) -> Any:
    """``rnncalc grad`` of a batch: ``json`` (text) or ``table`` (a rich renderable)."""
    if fmt_name == "json":
        from rnncalc.render.json import dumps

        return dumps({**bt.to_dict(), "grad": bg.to_dict()}) + "\n"
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from rnncalc.render.grad import render as render_one

    parts: list[Any] = []
    for b, (trace, grad) in enumerate(zip(bt.traces, bg.grads, strict=True)):
        parts += [Text(_heading(bt, b), style="bold reverse"),
                  render_one(trace, grad, "table", precision=precision,
                             step_by_step=step_by_step), Text("")]
    parts.append(Text("The batch", style="bold reverse"))
    first = bg.grads[0].loss
    if bg.value is not None:
        per = " + ".join(fmt(g.value or 0.0, precision) for g in bg.grads)
        how = (f"reduction mean over the batch's {first.denominator} terms"
               if first.denominator is not None else f"reduction {first.reduction}")
        parts.append(Text(f"loss {first.type}, {how}: sum of the sequences' terms {per} = "
                          f"{fmt(bg.value, precision)}"))
    from rich import box

    parts.append(Text("Gradient totals over the batch (sum of the sequences')"))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("parameter")
    table.add_column("dL/d parameter")
    for name, v in bg.params.items():
        table.add_row(name, _matrix(v.tolist(), precision))
    parts.append(table)
    return Group(*parts)


def _matrix(value: Any, precision: int) -> str:
    if isinstance(value, list) and value and isinstance(value[0], list):
        return "\n".join(_matrix(row, precision) for row in value)
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v, precision) for v in value) + "]"
    return fmt(value, precision)
