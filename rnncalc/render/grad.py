"""``rnncalc grad`` as report sections (:mod:`rnncalc.render.report`), for every renderer.

The markdown and LaTeX renderers format these sections as they format the forward pass's; the
table output turns them into rich tables (:func:`to_rich`). Nothing here computes: every number is
read from the :class:`~rnncalc.bptt.GradTrace`; matrices are formatted at ``precision``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rnncalc.cells import CELLS, spec
from rnncalc.render import fmt, fmt_vector
from rnncalc.render.report import Explanation, Math, Numbers, Section, SectionFn, Table, Text
from rnncalc.steps import gap_size, shown

if TYPE_CHECKING:
    from rich.console import RenderableType

    from rnncalc.bptt import DirectionGrad, GradTrace
    from rnncalc.trace import Trace

__all__ = ["render", "sections", "to_rich"]

_LOSS = {  # {r}: the reduction, mean or sum; the formula as text, in LaTeX, then its source
    "mse": ("L = {r} (z - target)^2", "L = \\operatorname{{{r}}}\\,(z - \\text{{target}})^2",
            "torch.nn.MSELoss"),
    "half_sse": ("L = 1/2 sum (z - target)^2", "L = \\tfrac12 \\sum (z - \\text{{target}})^2",
                 ""),
    "cross_entropy": ("L = {r} over terms of -log softmax(z)[target]",
                      "L = \\operatorname{{{r}}} -\\log \\operatorname{{softmax}}(z)"
                      "[\\text{{target}}]", "torch.nn.CrossEntropyLoss"),
    "bce": ("L = {r} of -(target log sigmoid(z) + (1 - target) log(1 - sigmoid(z)))",
            "L = \\operatorname{{{r}}} -\\bigl(\\text{{target}} \\log \\sigma(z) + "
            "(1 - \\text{{target}}) \\log(1 - \\sigma(z))\\bigr)", "torch.nn.BCEWithLogitsLoss"),
}


def _matrix(rows: Any, precision: int) -> str:
    return "[" + ", ".join(fmt_vector(r, precision) for r in rows.tolist()) + "]"


def _vec(t: Any) -> Numbers:
    return Numbers(tuple(t.tolist()))


def sections(grad: GradTrace, precision: int = 4, explain: Sequence[Any] | None = None,
             element: str = "", step_by_step: bool = False, steps: str | None = "all"
             ) -> SectionFn:
    """The grad sections, as a :data:`~rnncalc.render.report.SectionFn` for ``report.build``."""

    def build(trace: Trace, blank: bool) -> list[Section]:
        out = [_loss(grad, precision, steps)]
        if grad.value is not None:
            out.append(_head(grad, precision))
        for dirs in reversed(grad.layers):
            out += [_direction(g, trace, precision, step_by_step) for g in dirs.values()]
        out.append(_totals(grad, precision, trace))
        if explain:
            out.append(Section(f"Chain rule for {element}", (Explanation(tuple(explain)),)))
        return out

    return build


def _selected(n: int, row: Callable[[int], tuple[Any, ...]], steps: str | None
              ) -> tuple[tuple[Any, ...], ...]:
    """The rows ``row(t)`` of the positions ``0 .. n-1`` that ``steps`` selects (only those are
    formatted), a gap row for each run left out."""
    picked = shown(range(n), steps)
    rows = {k: row(k) for k in picked if k is not None}
    width = len(next(iter(rows.values())))
    return tuple(rows[k] if k is not None else
                 _gap(gap_size(picked, i, n))[:2] + ("",) * (width - 2)
                 for i, k in enumerate(picked))


def _loss(grad: GradTrace, precision: int, steps: str | None) -> Section:
    if grad.value is None:
        given_c = grad.loss.upstream_c
        up = _selected(len(grad.dh_head), lambda t: (
            str(t), _vec(grad.dh_head[t]), *(() if given_c is None else (Numbers(given_c[t]),))),
            steps)
        columns: tuple[Any, ...] = ("t", Math("dL/d output_t"))
        if given_c is not None:
            columns += (Math("dL/dc_t (from above)"),)
        return Section("Upstream gradients (given)", (
            Text("dL/d output_t of the top layer, given per position instead of a loss."),
            Table(columns, up)))
    reduction = "" if grad.loss.type == "half_sse" else f", reduction {grad.loss.reduction}"
    plain, tex, source = (f.format(r=grad.loss.reduction) for f in _LOSS[grad.loss.type])
    value = fmt(grad.value, precision)
    text = f"{grad.loss.type}{reduction}: {plain} = {value}" + (f"  ({source})" if source else "")
    from rnncalc.render.latex import escape, number

    tex = (f"\\texttt{{{escape(grad.loss.type)}}}{escape(reduction)}"
           + (f" ({source})" if source else "") + f":\\\\\n${tex} = {number(value)}$")
    assert grad.z is not None and grad.dz is not None and grad.target is not None
    labels = [str(t) for t in range(len(grad.z))] if grad.at == "steps" else ["final"]
    def target(y: Any) -> Any:  # a class index reads as one
        return str(int(y[0])) if grad.loss.type == "cross_entropy" else _vec(y)

    terms = grad.terms if grad.terms is not None else [grad.value]
    z, dz, y = grad.z, grad.dz, grad.target
    rows = _selected(len(labels), lambda t: (
        labels[t], _vec(z[t]), target(y[t]), fmt(float(terms[t]), precision), _vec(dz[t]),
        _vec(grad.dh_head[t])), steps)
    head_in = "h_t" if grad.at == "steps" else "h_final"
    return Section("Loss", (Text(text, tex), Table(
        ("t", Math("z (head output)"), Math("target"), Math("L term"), Math("dL/dz"),
         Math(f"dL/d{head_in}")), rows,
        caption="z = W h + b, the head's output before its softmax or sigmoid; the terms add "
        "up to L.")))


def _head(grad: GradTrace, precision: int) -> Section:
    rows = (("head.W", Math("sum_n dL/dz_n (x) h_n"), _matrix(grad.params["head.W"], precision)),
            ("head.b", Math("sum_n dL/dz_n"), _vec(grad.params["head.b"])))
    return Section("Head gradients", (Table(("parameter", "formula", "gradient"), rows),))


def _direction(g: DirectionGrad, trace: Trace, precision: int,
               step_by_step: bool = False) -> Section:
    """One layer and direction's backward steps; ``step_by_step`` adds the intermediates a
    sheet writes down: the cell output's ``tanh(c_t)`` and each gate's ``act'(a)``."""
    ex = trace.exercise
    act = ex.formulation.act
    forward = g.direction == "forward"
    future = "t+1" if forward else "t-1"
    below = "input x_t" if g.layer == 0 else "layer below"
    rows: list[tuple[Any, ...]] = []
    groups = []
    kinds: tuple[str, ...] = ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if ex.bias else (
        "weight_ih", "weight_hh")
    kinds += g.extra_kinds
    index = {t: i for i, t in enumerate(g.order)}
    last = -1  # the index (in g.order) of the row shown last
    for k, t in enumerate(g.positions):
        if index[t] > last + 1:
            rows.append(_gap(index[t] - last - 1))
            groups.append(len(rows) - 1)
        last = index[t]
        step: list[tuple[Any, ...]] = [
            (str(t), Math("dL/dh_t from the output"), _vec(g.dh_out[k])),
            ("", Math(f"dL/dh_t from step {future}"), _vec(g.dh_future[k])),
            ("", Math("dL/dh_t (sum)"), _vec(g.dh[k])),
        ]
        if g.dc is not None and g.dc_future is not None:
            if g.dc_out is not None:
                step.append(("", Math("dL/dc_t from above (given)"), _vec(g.dc_out[k])))
            step += [("", Math(f"dL/dc_t from step {future}"), _vec(g.dc_future[k])),
                     ("", Math("dL/dc_t"), _vec(g.dc[k]))]
        if step_by_step and g.tanh_c is not None:
            step.append(("", Math(f"{act['cell_output'].name}(c_t)"), _vec(g.tanh_c[k])))
        if step_by_step and g.slopes is not None:
            roles = spec(ex.cell).gate_roles
            step += [("", Math(f"{act[roles[gate]].name if gate in roles else ''}'(a_{gate})"),
                      _vec(v[k])) for gate, v in g.slopes.items()]
        step += [("", Math(f"dL/da_{gate} (pre-activation)"), _vec(v[k]))
                 for gate, v in g.dpre.items()]
        for kind in kinds:
            for name, block in g.gate_blocks(kind, k).items():
                value = _vec(block) if block.ndim == 1 else _matrix(block, precision)
                step.append(("", Math(f"step's dL/d{name}"), value))
        step.append(("", Math(f"dL/dx_t (to the {below})"), _vec(g.dx[k])))
        rows += step
        groups.append(len(rows) - 1)
    if last < len(g.order) - 1:
        rows.append(_gap(len(g.order) - 1 - last))
        groups.append(len(rows) - 1)
    order = "t = T-1 down to 0" if forward else "t = 0 up to T-1"
    title = f"Backward · layer {g.layer} · {g.direction} ({order})"
    caption = ("Each step's contribution: dL/dW_i? = dL/da_? (x) x_t, dL/dW_h? = dL/da_? (x) "
               "h_{t-1}; biases get dL/da_?.") if not CELLS[ex.cell].split_hidden else (
               "GRU: the hidden side of n reads r * (W_hn h + b_hn) (reset after) or "
               "W_hn (r * h) (reset before); its gradients differ from the input side's.")
    return Section(title, (Table(("t", "quantity", "value"), tuple(rows), caption=caption,
                                 groups=tuple(groups[:-1])),))


def _gap(n: int) -> tuple[str, str, str]:
    return ("⋮", f"{n} step{'s' if n != 1 else ''} not shown (--steps)", "")


def _totals(grad: GradTrace, precision: int, trace: Trace) -> Section:
    rows = []
    for name, v in grad.params.items():
        shape = "[" + ", ".join(str(n) for n in v.shape) + "]"
        rows.append((name, shape, _matrix(v, precision) if v.ndim == 2 else _vec(v)))
    text = ("Sums of the steps' contributions, by PyTorch's state_dict names (gate blocks stacked "
            "in the cell's order)")
    if grad.truncate is not None:
        text += f"; truncated BPTT: the last {grad.truncate} step(s) of each layer and direction"
    if any(len(row) == 2 and row[0] == row[1] for row in trace.exercise.weights):
        text += (". Both directions use the same weights here: tied, their gradient is the sum "
                 "of the _l? and _l?_reverse totals")
    blocks: list[Any] = [Text(text + "."),
                         Table(("parameter", "shape", "dL/dparameter"), tuple(rows))]
    if grad.written is not None:
        blocks += [Text(f"The same totals as the config writes its weights (layout "
                        f"{grad.written['layout']}):"),
                   Table(("gradient", "value"), tuple(_written_rows(grad.written["grads"],
                                                                    precision)))]
    return Section("Gradient totals", tuple(blocks))


def _written_rows(group: dict[str, Any], precision: int, where: str = "") -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for name, value in group.items():
        if isinstance(value, dict):
            rows += _written_rows(value, precision, f"{where}{name}.")
            continue
        import numpy as np

        t = np.asarray(value, dtype=np.float64)
        shown = _matrix(t, precision) if t.ndim == 2 else _vec(t) if t.ndim == 1 else \
            "\n".join(_matrix(m, precision) for m in t)
        rows.append((where + name, shown))
    return rows


def to_rich(secs: Sequence[Section], precision: int) -> RenderableType:
    """The sections as rich renderables, for the table output."""
    from rich.console import Group
    from rich.table import Table as RichTable
    from rich.text import Text as RichText

    from rnncalc.render.table import Laid

    def cell(c: Any) -> str:
        if isinstance(c, Math):
            return c.plain
        if isinstance(c, Numbers):
            return fmt_vector(list(c.values), precision)
        return str(c)

    parts: list[Any] = []
    for s in secs:
        parts.append(RichText("\n" + s.title, style="bold"))
        for b in s.blocks:
            if isinstance(b, Text):
                parts.append(RichText(b.text))
            elif isinstance(b, Explanation):  # (--explain: torch is imported already)
                from rnncalc.render.explain import render as render_explain

                # long lines wrap under their own start: a grid of indent and text
                text = render_explain(list(b.lines), precision=precision)
                for line in text.rstrip("\n").split("\n")[1:]:
                    if not line.startswith("  "):
                        parts.append(RichText(line))
                        grid = RichTable.grid()
                        grid.add_column(width=2)
                        grid.add_column()
                        parts.append(grid)
                    else:
                        grid.add_row("", line[2:])
            elif isinstance(b, Table):
                parts.append(Laid([cell(c) for c in b.columns],
                                  [[cell(c) for c in row] for row in b.rows], set(b.groups)))
                if b.caption:
                    parts.append(RichText(b.caption, style="dim"))
    return Group(*parts)


def render(trace: Trace, grad: GradTrace, fmt_name: str, *, precision: int = 4,
           step_by_step: bool = False, explain: Sequence[Any] | None = None,
           element: str = "", steps: str | None = None) -> Any:
    """The whole ``rnncalc grad`` output: the forward pass, then the backward sections.

    ``fmt_name`` is ``table`` (a rich renderable), ``json``, ``markdown`` or ``latex`` (text).
    """
    from rnncalc.render.formats import render as render_run

    if fmt_name == "json":
        doc = grad.to_dict()
        if explain:
            from rnncalc.explain import line_text

            doc["explain"] = {"element": element,
                              "lines": [line_text(ln, precision) for ln in explain]}
        return render_run(trace, "json", json={"grad": doc})
    extra = sections(grad, precision, explain, element, step_by_step, steps)
    table = to_rich(extra(trace, False), precision) if fmt_name == "table" else None
    return render_run(trace, fmt_name, precision=precision, step_by_step=step_by_step,
                      steps=steps, sections=[extra], table=table)
