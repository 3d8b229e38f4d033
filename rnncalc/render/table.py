"""Rich tables of a trace: one table per layer and direction, then the head.

The only module besides the CLI that uses the terminal library.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from rnncalc.render import fmt, fmt_input, fmt_vector
from rnncalc.trace import DirectionTrace, HeadTrace, Trace

__all__ = ["render", "to_text"]

GATE_NAMES = {
    "rnn": {"h": "h_t"},
    "lstm": {"i": "i  input (add)", "f": "f  forget", "g": "g  cell candidate", "o": "o  output"},
}


def to_text(renderable: RenderableType, *, width: int | None = None, color: bool = False) -> str:
    """Render to a string: ``color`` only for a terminal; ``width`` fixed for files and tests."""
    console = Console(
        file=io.StringIO(), width=width or 80, force_terminal=color, no_color=not color,
        color_system="auto" if color else None, highlight=False, soft_wrap=False,
    )
    console.print(renderable)
    text: str = console.file.getvalue()  # type: ignore[attr-defined]
    if color:
        return text
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


def render(trace: Trace, *, step_by_step: bool = False, precision: int = 4) -> RenderableType:
    """Everything a user reads about a run, as one rich renderable."""
    ex = trace.exercise
    parts: list[RenderableType] = [_header(trace), Text("")]
    for layer in trace.layers:
        for tr in layer.directions.values():
            table = _steps_detail(tr, ex.cell, precision) if step_by_step else _steps(tr, precision)
            parts.append(_section(_title(tr), table))
    if ex.num_layers * ex.num_directions > 1:
        parts.append(_finals(trace, precision))
    if trace.head is not None:
        parts.append(_head(trace.head, trace, precision))
    return Group(*parts)


def _header(trace: Trace) -> Text:
    ex = trace.exercise
    layers = f"{ex.num_layers} layer" + ("s" if ex.num_layers > 1 else "")
    direction = "bidirectional" if ex.bidirectional else "forward"
    act = f" · {ex.nonlinearity}" if ex.cell == "rnn" else ""
    bias = "" if ex.bias else " · no bias"
    text = Text()
    if ex.title:
        text.append(ex.title + "\n", style="bold")
    text.append(
        f"{ex.cell.upper()}{act}{bias} · input {ex.input_size} · hidden {ex.hidden_size} · "
        f"{layers} · {direction} · {ex.steps} steps · {ex.dtype}"
    )
    for note in ex.notes:
        text.append(f"\nnote: {note}", style="dim")
    return text


def _title(tr: DirectionTrace) -> str:
    order = " (computed from the last position to the first)" if tr.direction == "backward" else ""
    return f"Layer {tr.layer} · {tr.direction}{order}"


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for i, column in enumerate(columns):
        table.add_column(column, justify="right" if i == 0 else "left", overflow="fold")
    return table


def _section(title: str, table: Table, caption: str = "") -> Group:
    """A bold title line, the table, an optional caption: plain text, never read as markup."""
    parts: list[RenderableType] = [Text(title, style="bold"), table]
    if caption:
        parts.append(Text(caption, style="dim"))
    return Group(*parts)


def _steps(tr: DirectionTrace, precision: int) -> Table:
    columns = ["t", "x_t" if tr.layer == 0 else "input", "h_t"] + (["c_t"] if tr.c is not None else [])
    table = _table(*columns)
    for step in tr.steps():
        row = [str(step.t), fmt_input(step.x.tolist(), precision), fmt_vector(step.h.tolist(), precision)]
        if step.c is not None:
            row.append(fmt_vector(step.c.tolist(), precision))
        table.add_row(*row)
    return table


def _steps_detail(tr: DirectionTrace, cell: str, precision: int) -> Table:
    table = _table("t", "quantity", "pre-activation", "activation")
    names = GATE_NAMES[cell]
    for step in tr.steps():
        table.add_row(str(step.t), "x_t" if tr.layer == 0 else "input",
                      fmt_input(step.x.tolist(), precision), "")
        for gate in step.pre:
            if cell == "rnn":
                continue
            table.add_row("", names[gate], fmt_vector(step.pre[gate].tolist(), precision),
                          fmt_vector(step.act[gate].tolist(), precision))
        if step.c is not None:
            table.add_row("", "c_t", "", fmt_vector(step.c.tolist(), precision))
        pre_h = fmt_vector(step.pre["h"].tolist(), precision) if cell == "rnn" else ""
        table.add_row("", "h_t", pre_h, fmt_vector(step.h.tolist(), precision), end_section=True)
    return table


def _finals(trace: Trace, precision: int) -> Group:
    ex = trace.exercise
    table = _table("k", "layer", "direction", "h_n")
    if trace.c_n is not None:
        table.add_column("c_n", overflow="fold")
    for k, h in enumerate(trace.h_n.tolist()):
        row = [str(k), str(k // ex.num_directions), ex.directions[k % ex.num_directions],
               fmt_vector(h, precision)]
        if trace.c_n is not None:
            row.append(fmt_vector(trace.c_n[k].tolist(), precision))
        table.add_row(*row)
    return _section("Final states (PyTorch's h_n order: layer by layer, forward then backward)",
                    table)


def _head(head: HeadTrace, trace: Trace, precision: int) -> Group:
    bidir = trace.exercise.bidirectional
    on = "[h_forward_t, h_backward_t]" if bidir else "h_t"
    final = ("[h_forward at T-1, h_backward at 0] (h_n)" if bidir else "h_{T-1}")
    if head.task == "regression":
        table = _table("t", "y")
        for t, y in enumerate(head.logits_t.tolist()):
            table.add_row(str(t), fmt_vector(y, precision))
        table.add_row("final", fmt_vector(head.logits.tolist(), precision))
        return _section(f"Head: regression, y_t = W {on} + b", table,
                        f"final: y = W {final} + b")
    activation = "sigmoid" if head.logits.shape[-1] == 1 else "softmax"
    table = _table("t", "logits", "probabilities", "label")
    if head.task == "labeling":
        assert head.probs_t is not None and head.labels_t is not None
        rows = [(str(t), z, p, k) for t, (z, p, k) in enumerate(
            zip(head.logits_t.tolist(), head.probs_t.tolist(), head.labels_t, strict=True))]
    else:
        assert head.probs is not None and head.label is not None
        rows = [("final", head.logits.tolist(), head.probs.tolist(), head.label)]
    for t, z, p, k in rows:
        label = f"{k} ({head.names[k]})" if head.names else str(k)
        table.add_row(t, fmt_vector(z, precision), fmt_vector(p, precision), label)
    source = on if head.task == "labeling" else final
    return _section(f"Head: {head.task}, p = {activation}(W {source} + b), label = "
                    + ("[p >= 0.5]" if activation == "sigmoid" else "argmax p"), table)
