r"""A trace as a document: sections of text, equations, matrices and tables of plain values.

The markdown and LaTeX renderers format the same sections, so an answer key reads the same in both.
Each section is built by one function of the trace (:data:`SECTIONS`); a later feature (gradient
tables, ``--explain`` lines) adds its own function returning :class:`Section` objects and passes
it as ``extra`` to :func:`build`. Nothing here computes: values are read from the trace (the
exercise's weights are only sliced into their per-gate blocks, as the config names them).

>>> import rnncalc
>>> sections = build(rnncalc.run(rnncalc.load(cell="rnn")))
>>> [s.title for s in sections]
['Exercise', 'Layer 0 · forward', 'Head: regression']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from rnncalc.cells import CELLS
from rnncalc.model import Exercise, Matrix, Vector
from rnncalc.render import exact

if TYPE_CHECKING:
    from rnncalc.trace import DirectionTrace, HeadTrace, Trace

__all__ = [
    "SECTIONS",
    "Blank",
    "Block",
    "Entry",
    "Equations",
    "Explanation",
    "Figure",
    "Math",
    "Matrices",
    "Numbers",
    "Section",
    "SectionFn",
    "Table",
    "Text",
    "build",
    "describe",
    "exact",
    "title_of",
    "to_tex",
]


# The blocks are NamedTuples: the table renderer imports this module at every seed run, and a
# frozen dataclass takes ~1 ms to make, a NamedTuple a fifth of that. Math keeps its
# __post_init__ (its tex defaults to its plain text).


@dataclass(frozen=True)
class Math:
    """A symbol or formula: ``plain`` for text and markdown, ``tex`` for LaTeX math mode."""

    plain: str
    tex: str = ""

    def __post_init__(self) -> None:
        if not self.tex:
            object.__setattr__(self, "tex", self.plain)


class Numbers(NamedTuple):
    """Numbers in a table cell: computed ones at the precision, given ones (``exact``) as given.

    ``vector=False`` shows one number bare (a probability, a label) instead of ``[...]``.
    """

    values: tuple[float, ...]
    exact: bool = False
    vector: bool = True


class Blank(NamedTuple):
    """A space for a student to write ``size`` numbers in (a student sheet)."""

    size: int = 1


Entry = str | Math | Numbers | Blank


class Table(NamedTuple):
    columns: tuple[Entry, ...]
    rows: tuple[tuple[Entry, ...], ...]
    caption: str = ""
    groups: tuple[int, ...] = ()  # a rule after these rows (indices), e.g. between steps


class Text(NamedTuple):
    """A paragraph; ``tex``, when given, is its LaTeX (a formula in it set in math mode)."""

    text: str
    tex: str = ""


class Equations(NamedTuple):
    lines: tuple[Math, ...]
    notes: tuple[str, ...] = ()  # plain text after them: "where:", the symbols


class Matrices(NamedTuple):
    """Named matrices and vectors as given in the exercise (``exact`` numbers)."""

    items: tuple[tuple[Math, Matrix | Vector], ...]  # a matrix is a tuple of rows


class Explanation(NamedTuple):
    """``--explain``'s arithmetic: :class:`rnncalc.explain.Line` objects, each renderer's way."""

    lines: tuple[Any, ...]


class Figure(NamedTuple):
    """A picture of the run (:mod:`rnncalc.pictures`): LaTeX's ``picture`` and a caption."""

    latex: str
    caption: str


Block = Text | Equations | Matrices | Table | Explanation | Figure


class Section(NamedTuple):
    title: str
    blocks: tuple[Block, ...] = ()
    level: int = 2


SectionFn = Callable[["Trace", bool], list[Section]]  # (trace, blank) -> sections

_FUNCTION_TEX = {"sigmoid": "\\sigma", "tanh": "\\tanh", "exp": "\\exp", "max": "\\max"}


def to_tex(plain: str) -> str:
    """An equation as ``rnncalc formulas`` prints it, in LaTeX math: ``W_ii`` -> ``W_{ii}``,
    ``sigmoid(`` -> ``\\sigma(``, ``*`` -> ``\\odot``.

    >>> to_tex("f_t = sigmoid(W_if x_t + W_hf h_{t-1}) * c_{t-1}")
    'f_t = \\\\sigma(W_{if} x_t + W_{hf} h_{t-1}) \\\\odot c_{t-1}'
    """
    def function(m: re.Match[str]) -> str:
        name = m[1]
        return _FUNCTION_TEX.get(name, "\\operatorname{" + name.replace("_", "\\_") + "}") + "("

    tex = re.sub(r"\b([a-z][a-z_0-9]+)\(", function, plain)
    tex = re.sub(r"\b([A-Za-z])_([a-z]{2,})\b", r"\1_{\2}", tex)
    return tex.replace(" * ", " \\odot ")


def title_of(ex: Exercise) -> str:
    return ex.title or f"{CELLS[ex.cell].title} exercise"


def describe(ex: Exercise) -> str:
    """The one-line summary, as the table's header gives it."""
    layers = f"{ex.num_layers} layer" + ("s" if ex.num_layers > 1 else "")
    act = f" · {ex.formulation.activations[0]}" if CELLS[ex.cell].nonlinearity else ""
    bias = "" if ex.bias else " · no bias"
    proj = f" · proj {ex.proj_size}" if ex.proj_size else ""
    direction = ex.direction + (f" (merge {ex.merge_mode})"
                                if ex.bidirectional and ex.merge_mode != "concat" else "")
    return (f"{CELLS[ex.cell].title}{act}{bias} · input {ex.input_size} · hidden {ex.hidden_size}"
            f"{proj} · {layers} · {direction} · {ex.steps} steps")


def _equations(ex: Exercise) -> Equations:
    """The equations in force, as ``rnncalc formulas`` prints them (one source, held by a test
    against the engine), then the symbols they use."""
    from rnncalc.formulation import equations

    lines = equations(ex.formulation, bias=ex.bias)
    cut = lines.index("") if "" in lines else len(lines)
    return Equations(tuple(Math(line, to_tex(line)) for line in lines[:cut]),
                     notes=tuple(line for line in lines[cut + 1:]))


def _gate_blocks(ex: Exercise, layer: int, d: int) -> list[tuple[Math, Matrix | Vector]]:
    """The weights of one layer and direction, split into the per-gate blocks a sheet names."""
    w, H = ex.weights[layer][d], ex.hidden_size
    out: list[tuple[Math, Matrix | Vector]] = []
    per_gate = ex.gates != ("h",)
    for g_index, g in enumerate(ex.gates):
        rows = slice(g_index * H, (g_index + 1) * H)
        for side, matrix in (("i", w.weight_ih), ("h", w.weight_hh)):
            name = f"{side}{g}" if per_gate else f"{side}h"
            out.append((Math(f"W_{name}", f"W_{{{name}}}"), matrix[rows]))
        if ex.bias:
            for side, vector in (("i", w.bias_ih), ("h", w.bias_hh)):
                assert vector is not None
                name = f"{side}{g}" if per_gate else f"{side}h"
                out.append((Math(f"b_{name}", f"b_{{{name}}}"), vector[rows]))
    if w.peephole is not None:  # lstm: rows p_i, p_f, p_o
        out += [(Math(f"p_{g}"), row) for g, row in zip("ifo", w.peephole, strict=True)]
    if w.weight_hr is not None:  # lstm projection: h_t = W_hr m_t
        out.append((Math("W_hr", "W_{hr}"), w.weight_hr))
    return out


def exercise_section(trace: Trace, blank: bool = False) -> list[Section]:
    """What the exercise gives: the equations, the inputs, the weights, the head."""
    ex = trace.exercise
    blocks: list[Block] = [Text(describe(ex)), _equations(ex)]
    blocks += [Text(note) for note in ex.notes]
    blocks.append(Matrices(tuple((Math(f"x_{t}"), x) for t, x in enumerate(ex.inputs))))
    if any(v for row in ex.h0 for v in row) or (ex.c0 and any(v for row in ex.c0 for v in row)):
        many = len(ex.h0) > 1
        states: list[tuple[Math, Vector]] = []
        for name, values in (("h", ex.h0), ("c", ex.c0 or ())):
            states += [(Math(f"{name}_{{-1}}" + (f"[{k}]" if many else ""),
                             f"{name}_{{-1}}" + (f"^{{({k})}}" if many else "")), v)
                       for k, v in enumerate(values)]
        blocks += [Text("Initial states (PyTorch's h_0 order):"), Matrices(tuple(states))]
    else:
        blocks.append(Text("Initial states are zero."))
    for layer in range(ex.num_layers):
        for d, direction in enumerate(ex.directions):
            if d and ex.weights[layer][d] == ex.weights[layer][0]:
                blocks.append(Text(f"Layer {layer} {direction}: the same weights as forward."))
                continue
            if ex.num_layers * ex.num_directions > 1:
                blocks.append(Text(f"Layer {layer} {direction}:"))
            blocks.append(Matrices(tuple(_gate_blocks(ex, layer, d))))
    if ex.head is not None:
        blocks.append(Text(f"Head ({ex.head.task}):"))
        blocks.append(Matrices(((Math("W"), ex.head.W), (Math("b"), ex.head.b))))
    return [Section("Exercise", tuple(blocks))]


def _v(values: Sequence[float], blank: bool, **kw: bool) -> Entry:
    return Blank(len(values)) if blank else Numbers(tuple(values), **kw)


def _direction_table(tr: DirectionTrace, cell: str, blank: bool) -> Table:
    """Every pre-activation and activation of every step: one row per quantity."""
    x_name = Math("x_t") if tr.layer == 0 else Math("input")
    rows: list[tuple[Entry, ...]] = []
    groups = []
    for step in tr.steps():
        rows.append((str(step.t), x_name, Numbers(tuple(step.x.tolist()), exact=tr.layer == 0), ""))
        for gate in step.pre:
            if gate == "h":  # the one gate is h_t itself (rnn): its row below
                continue
            rows.append(("", Math(f"{gate}_t"), _v(step.pre[gate].tolist(), blank),
                         _v(step.act[gate].tolist(), blank)))
        if step.c is not None:
            rows.append(("", Math("c_t"), "", _v(step.c.tolist(), blank)))
        for name, value in step.extra.items():  # lstm projection: m_t = o_t * act(c_t)
            rows.append(("", Math(f"{name}_t"), "", _v(value.tolist(), blank)))
        pre_h = _v(step.pre["h"].tolist(), blank) if "h" in step.pre else ""
        rows.append(("", Math("h_t"), pre_h, _v(step.h.tolist(), blank)))
        groups.append(len(rows) - 1)
    return Table(("t", "quantity", "pre-activation", "activation"), tuple(rows),
                 groups=tuple(groups[:-1]))


def steps_sections(trace: Trace, blank: bool = False) -> list[Section]:
    out = []
    for layer in trace.layers:
        for tr in layer.directions.values():
            blocks: list[Block] = [_direction_table(tr, trace.exercise.cell, blank)]
            if tr.direction == "backward":
                blocks.insert(0, Text("Computed from the last position to the first; t is the "
                                      "position."))
            out.append(Section(f"Layer {tr.layer} · {tr.direction}", tuple(blocks)))
    return out


def finals_section(trace: Trace, blank: bool = False) -> list[Section]:
    ex = trace.exercise
    if ex.num_layers * ex.num_directions == 1:
        return []
    columns: tuple[Entry, ...] = ("k", "layer", "direction", Math("h_n"))
    if trace.c_n is not None:
        columns += (Math("c_n"),)
    rows = []
    for k, h in enumerate(trace.h_n.tolist()):
        row: tuple[Entry, ...] = (str(k), str(k // ex.num_directions),
                                 ex.directions[k % ex.num_directions], _v(h, blank))
        if trace.c_n is not None:
            row += (_v(trace.c_n[k].tolist(), blank),)
        rows.append(row)
    return [Section("Final states", (
        Text("PyTorch's h_n order: layer by layer, forward then backward."),
        Table(columns, tuple(rows))))]


_JOIN = {"concat": "[{f}, {b}]", "sum": "({f} + {b})", "mul": "({f} * {b})",
         "ave": "({f} + {b})/2"}


def head_section(trace: Trace, blank: bool = False) -> list[Section]:
    head: HeadTrace | None = trace.head
    if head is None:
        return []
    ex = trace.exercise
    bidir = ex.bidirectional
    join = _JOIN[ex.merge_mode]  # how the two directions meet, as the table's header says
    on = Math(join.format(f="h_forward_t", b="h_backward_t"),
              join.format(f="h^{\\rightarrow}_t", b="h^{\\leftarrow}_t")) if bidir else Math("h_t")
    final = (join.format(f="h_forward at T-1", b="h_backward at 0") + " (h_n)" if bidir
             else "h at 0 (computed last)" if ex.reverse else "h_{T-1}")
    if head.task == "regression":
        ys: list[tuple[Entry, ...]] = [
            (str(t), _v(y, blank)) for t, y in enumerate(head.logits_t.tolist())]
        ys.append(("final", _v(head.logits.tolist(), blank)))
        eq = Equations((Math(f"y_t = W {on.plain} + b", f"y_t = W {on.tex} + b"),))
        return [Section("Head: regression", (
            eq, Table(("t", Math("y")), tuple(ys), caption=f"final: y = W {final} + b")))]
    sigmoid = head.logits.shape[-1] == 1
    activation = "sigmoid" if sigmoid else "softmax"
    tex_act = "\\sigma" if sigmoid else "\\mathrm{softmax}"
    if head.task == "labeling":
        assert head.probs_t is not None and head.labels_t is not None
        items = list(zip([str(t) for t in range(len(head.labels_t))], head.logits_t.tolist(),
                         head.probs_t.tolist(), head.labels_t, strict=True))
        src = on
    else:
        assert head.probs is not None and head.label is not None
        items = [("final", head.logits.tolist(), head.probs.tolist(), head.label)]
        src = Math(final, "h_n" if bidir else "h_{T-1}")
    rows: list[tuple[Entry, ...]] = []
    for t, z, p, k in items:
        label = f"{k} ({head.names[k]})" if head.names else str(k)
        rows.append((t, _v(z, blank), _v(p, blank), Blank() if blank else label))
    rule = "label = [p >= 0.5]" if sigmoid else "label = argmax p"
    rule_tex = "\\hat{k} = [p \\ge 0.5]" if sigmoid else "\\hat{k} = \\arg\\max_k p_k"
    eq = Equations((Math(f"p = {activation}(W {src.plain} + b), {rule}",
                         f"p = {tex_act}(W {src.tex} + b),\\quad {rule_tex}"),))
    return [Section(f"Head: {head.task}", (
        eq, Table(("t", Math("logits"), Math("probabilities"), "label"), tuple(rows))))]


#: The sections of a report, in order; each is a function ``(trace, blank) -> [Section]``.
SECTIONS: tuple[SectionFn, ...] = (exercise_section, steps_sections, finals_section, head_section)


def build(trace: Trace, *, blank: bool = False, extra: Iterable[SectionFn] = (),
          explain: Sequence[Any] | None = None) -> list[Section]:
    """The report's sections; ``blank`` leaves every computed value empty (a student sheet).

    ``explain``: the lines of :func:`rnncalc.explain.explain`, shown last under "Arithmetic".
    """
    out: list[Section] = []
    for fn in (*SECTIONS, *extra):
        out += fn(trace, blank)
    if explain is not None and not blank:
        out.append(Section("Arithmetic", (Explanation(tuple(explain)),)))
    return out
