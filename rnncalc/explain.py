r"""The arithmetic of a run written out: every element of every gate at every step, numbers in.

Each :class:`Line` is one element worked by hand, a symbol and a chain of equal expressions::

    f_0[0] = sigmoid( (1)(1) + (0)(2) + (0.5)(3)  +  (0)(0) + (1)(0)  +  0 ) = sigmoid(2.5) = 0.9241
    c_0[0] = f_0[0]*c_{-1}[0] + i_0[0]*g_0[0] = (0.9241)(0) + (0.6225)(-0.4621) = -0.2877

The expressions are data (:class:`Num`, :class:`Sym`, :class:`Prod`, :class:`Sum`, :class:`Call`,
:class:`Diff`, :class:`Vec`, :class:`Frac`), so every renderer (terminal, markdown, LaTeX)
formats them its own way; :func:`to_text` is the plain one. Every number is read from the trace
or the exercise; the only values worked here are those a sheet writes and the trace does not keep:
the output activation of ``c_t`` inside LSTM's ``h_t`` and the exponentials of a softmax (rounded
as the run was, with ``--round``).

Notation (docs/notation.md): every index counts from 0, as in PyTorch: ``t`` positions (``x_0``,
``h_{-1}`` the initial state; a backward direction's previous state is ``h_{t+1}``), ``[j]`` units
(``f_0[0]`` the first), class labels; so does ``--explain``'s ``unit=``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import fields, replace
from typing import Any

import torch

from rnncalc.cells import spec
from rnncalc.errors import ExitCode, RnncalcError
from rnncalc.expr import Call, Diff, Expr, Frac, Line, Num, Prod, Sum, Sym, Vec, Where, subscript
from rnncalc.formulation import Activation
from rnncalc.model import Exercise, LayerWeights
from rnncalc.rounding import round_half_away
from rnncalc.trace import DirectionTrace, HeadTrace, Trace

__all__ = [
    "Call", "Diff", "Expr", "Frac", "Line", "Num", "Prod", "Selection", "Sum", "Sym", "Vec",
    "Where",
    "explain", "parse_selection", "to_text",
]


# ----------------------------------------------------------------------------- selection

class SelectionError(RnncalcError):
    """A bad ``--explain`` selection: a usage error."""

    exit_code = ExitCode.USAGE


Selection = dict[str, set[str]]
_KEYS = ("t", "gate", "unit", "layer", "direction")


def parse_selection(text: str | None) -> Selection:
    """``"t=1,gate=f"`` -> ``{"t": {"1"}, "gate": {"f"}}``; a key given twice takes either value.

    >>> parse_selection("t=0,t=2,gate=c")
    {'t': {'0', '2'}, 'gate': {'c'}}
    """
    out: Selection = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part or part == "all":
            continue
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or key not in _KEYS or not value:
            raise SelectionError(f"--explain: expected key=value, key one of {', '.join(_KEYS)} "
                                 f"(e.g. t=1,gate=f), got {part!r}")
        if key in ("t", "unit", "layer") and not value.lstrip("-").isdigit():
            raise SelectionError(f"--explain: {key} is a whole number, got {value!r}")
        if key == "direction" and value not in ("forward", "backward"):
            raise SelectionError(f"--explain: direction is forward or backward, got {value!r}")
        out.setdefault(key, set()).add(value)
    return out


def _selected(where: Where, sel: Selection) -> bool:
    values = {"t": where.t, "gate": where.quantity, "unit": where.unit, "layer": where.layer,
              "direction": where.direction}
    for key, wanted in sel.items():
        value = values[key]
        if key == "gate" and "head" in wanted and where.layer is None:
            continue
        if value is None or str(value) not in wanted:
            return False
    return True


# ----------------------------------------------------------------------------- building


def explain(trace: Trace, selection: Selection | None = None) -> list[Line]:
    """Every line of ``trace``'s arithmetic (or those ``selection`` picks), in computing order."""
    sel = selection or {}
    lines: list[Line] = []
    ex = trace.exercise
    for layer in trace.layers:
        for tr in layer.directions.values():
            w = ex.weights[tr.layer][ex.directions.index(tr.direction)]
            # the direction's own equations (an ONNX node's backward activations)
            own = replace(ex, formulation=ex.formulation_of(tr.direction))
            lines += _direction(own, w, tr, trace.round_to, {})
    if trace.head is not None:
        lines += _head(ex, trace, trace.head)
    _check_selection(lines, sel)
    return [ln for ln in lines if _selected(ln.where, sel)]


def _check_selection(lines: list[Line], sel: Selection) -> None:
    """A value no line of this exercise has is a usage error naming the values it has (a gate of
    another cell, a unit beyond the hidden size), not an empty "nothing matches"."""
    have: dict[str, set[str]] = {key: set() for key in _KEYS}
    for ln in lines:
        w = ln.where
        for key, value in (("t", w.t), ("gate", w.quantity), ("unit", w.unit), ("layer", w.layer),
                           ("direction", w.direction)):
            if value is not None:
                have[key].add(str(value))
        if w.layer is None:
            have["gate"].add("head")
    for key, wanted in sel.items():
        if wanted - have[key]:
            known = sorted(have[key], key=lambda v: (len(v), v))
            raise SelectionError(
                f"--explain: {key}={', '.join(sorted(wanted - have[key]))} is not in this "
                f"exercise; its {key} values are {', '.join(known) or 'none'}"
                + (" (units count from 0)" if key == "unit" else ""))


def _activation(act: Activation, value: float, round_to: int | None) -> float:
    from rnncalc.cells.activations import apply

    out = float(apply(act, torch.tensor([value], dtype=torch.float64))[0])
    return out if round_to is None else round_half_away(out, round_to)


def _dot(row: Iterable[float], values: Iterable[float]) -> tuple[Expr, ...]:
    return tuple(Prod((Num(w), Num(v))) for w, v in zip(row, values, strict=True))


class _Step:
    """The numbers of one step of one direction, as plain lists."""

    def __init__(self, tr: DirectionTrace, k: int, lists: dict[str, Any]) -> None:
        self.t = tr.positions[k]
        self.prev_t = self.t + (1 if tr.direction == "backward" else -1)
        self.x = lists["x"][k]
        self.h_prev = lists["h0"] if k == 0 else lists["h"][k - 1]
        self.c_prev = None if "c" not in lists else (lists["c0"] if k == 0 else lists["c"][k - 1])
        self.pre = {g: v[k] for g, v in lists["pre"].items()}
        self.act = {g: v[k] for g, v in lists["act"].items()}
        self.h = lists["h"][k]
        self.c = None if "c" not in lists else lists["c"][k]
        self.m = None if "m" not in lists else lists["m"][k]


def _lists(tr: DirectionTrace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "x": tr.x.tolist(), "h0": tr.h0.tolist(), "h": tr.h.tolist(),
        "pre": {g: v.tolist() for g, v in tr.pre.items()},
        "act": {g: v.tolist() for g, v in tr.act.items()},
    }
    if tr.c is not None and tr.c0 is not None:
        out["c"], out["c0"] = tr.c.tolist(), tr.c0.tolist()
    if "m" in tr.extra:
        out["m"] = tr.extra["m"].tolist()
    return out


def _direction(ex: Exercise, w: LayerWeights, tr: DirectionTrace, round_to: int | None,
               sel: Selection) -> Iterator[Line]:
    lists = _lists(tr)
    explain_step = spec(ex.cell).explain
    for k, t in enumerate(tr.positions):
        here = {"t": t, "layer": tr.layer, "direction": tr.direction}
        if any(str(v) not in sel[key] for key, v in here.items() if key in sel):
            continue  # the step is not selected: build none of its lines
        yield from explain_step(Sheet(ex, w, tr, _Step(tr, k, lists), round_to))


class Sheet:
    """One step's numbers and the pieces a cell's ``explain`` writes its lines with."""

    def __init__(self, ex: Exercise, w: LayerWeights, tr: DirectionTrace, s: _Step,
                 round_to: int | None) -> None:
        self.ex, self.w, self.tr, self.s, self.round_to = ex, w, tr, s, round_to

    def where(self, quantity: str, j: int) -> Where:
        """Unit ``j`` (from 0) of ``quantity`` at this step."""
        return Where(quantity, self.s.t, j, self.tr.layer, self.tr.direction)

    def dot(self, row: Iterable[float], values: Iterable[float]) -> tuple[Expr, ...]:
        return _dot(row, values)

    def bias(self, row: int) -> tuple[Expr, ...]:
        """``b_ih[row] + b_hh[row]`` (a zero without biases)."""
        if not self.ex.bias:
            return (Num(0.0),)
        w = self.w
        return tuple(Num(b[row]) if b is not None else Num(0.0) for b in (w.bias_ih, w.bias_hh))

    def linear(self, gate: int, j: int) -> tuple[tuple[Expr, ...], ...]:
        """The groups of ``W_i? x_t + W_h? h_prev + b_i? + b_h?``, unit ``j`` of gate block
        ``gate`` (a cell whose ``weight_hh`` is a vector reads it element-wise)."""
        row = gate * self.ex.hidden_size + j
        w, s = self.w, self.s
        recurrent = w.weight_hh[row]
        hidden = (Prod((Num(recurrent), Num(s.h_prev[j]))),) if isinstance(recurrent, float) \
            else _dot(recurrent, s.h_prev)
        return (_dot(w.weight_ih[row], s.x), hidden, self.bias(row))

    def gate_line(self, name: str, j: int, act: Activation, groups: tuple[tuple[Expr, ...], ...]
                  ) -> Line:
        """``name_t[j] = act(groups) = act(pre) = value``, clipped as the formulation says."""
        s = self.s
        arg: Expr = Sum(groups)
        if self.ex.formulation.clip is not None:
            arg = Call("clip", arg)
        chain = (Call(act.name, arg), Call(act.name, Num(s.pre[name][j])), Num(s.act[name][j]))
        return Line(Sym(name, s.t, j), chain, self.where(name, j))

    def activation(self, act: Activation, value: float) -> float:
        """``act(value)``, rounded as the run was: a value a sheet writes and the trace does not
        keep (the LSTM's ``tanh(c_t)``)."""
        return _activation(act, value, self.round_to)


def _head(ex: Exercise, trace: Trace, head: HeadTrace) -> Iterator[Line]:
    assert ex.head is not None
    W, b = ex.head.W, ex.head.b
    rows: list[tuple[int | None, list[float], list[float], list[float] | None, int | None]] = []
    probs_t = head.probs_t.tolist() if head.probs_t is not None else None
    if head.task in ("regression", "labeling"):
        for i, (inp, z) in enumerate(zip(trace.output.tolist(), head.logits_t.tolist(),
                                         strict=True)):
            rows.append((i, inp, z, None if probs_t is None else probs_t[i],
                         None if head.labels_t is None else head.labels_t[i]))
    if head.task != "labeling":
        rows.append((None, head.final_input.tolist(), head.logits.tolist(),
                     None if head.probs is None else head.probs.tolist(), head.label))
    name = "y" if head.task == "regression" else "z"
    for t, inp, z, p, label in rows:
        for k, row in enumerate(W):
            yield Line(Sym(name, t, k), (Sum((_dot(row, inp), (Num(b[k]),))), Num(z[k])),
                       Where(name, t, k))
        if p is None:
            continue
        if len(z) == 1:
            yield Line(Sym("p", t, 0), (Call("sigmoid", Sym("z", t, 0)), Call("sigmoid", Num(z[0])),
                                        Num(p[0])), Where("p", t, 0))
        else:
            # exp(z) of a logit past 709 is no float: then the shifted form, exp(z - max z),
            # whose quotient is the same, so that every number shown stays finite
            top = max(z)
            shift = top if top >= 709 else 0.0
            exps = [math.exp(v - shift) for v in z]
            if trace.round_to is not None:
                exps = [round_half_away(e, trace.round_to) for e in exps]
            args = [Diff(Num(v), Num(shift)) if shift else Num(v) for v in z]
            for k in range(len(z)):
                yield Line(Sym("p", t, k), (
                    Frac(Call("exp", Sym("z", t, k)),
                         Sum((tuple(Call("exp", Sym("z", t, m)) for m in range(len(z))),))),
                    Frac(Call("exp", args[k]), Sum((tuple(Call("exp", a) for a in args),))),
                    Frac(Num(exps[k]), Sum((tuple(Num(e) for e in exps),))),
                    Num(p[k])), Where("p", t, k))
        if label is not None:
            rule = (Call("argmax", Vec(tuple(Num(v) for v in p))) if len(p) > 1
                    else Call("[p >= 0.5]", Num(p[0])))
            yield Line(Sym("label", t), (rule, Num(float(label))), Where("label", t, None))


# ----------------------------------------------------------------------------- plain text


def compact(value: float, precision: int = 4) -> str:
    """``precision`` decimals without trailing zeros: ``2.5``, ``0.9241``, ``0``, ``-3``."""
    text = f"{value:.{precision}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "0", ""):  # too small to show in fixed point: significant digits
        return "0" if value == 0 else re.sub(r"\.?0*e", "e", f"{value:.{max(precision - 1, 0)}e}")
    return text


def sym_text(s: Sym) -> str:
    out = s.name + (subscript(s.t) if s.t is not None else "")
    return out + (f"[{s.unit}]" if s.unit is not None else "")


def to_text(e: Expr, precision: int = 4, *, top: bool = True) -> str:
    """One expression as plain text (the terminal's and ``--format json``'s form)."""
    if isinstance(e, Num):
        text = compact(e.value, precision)
        return text if top or not text.startswith("-") else f"({text})"
    if isinstance(e, Sym):
        return sym_text(e)
    if isinstance(e, Prod):
        if all(isinstance(f, Num) for f in e.factors):
            return "".join(f"({compact(f.value, precision)})" for f in e.factors)  # type: ignore[union-attr]
        parts = [f"({compact(f.value, precision)})" if isinstance(f, Num)
                 else f"({to_text(f, precision)})" if isinstance(f, Sum)
                 else to_text(f, precision, top=False) for f in e.factors]
        return "*".join(parts)
    if isinstance(e, Sum):
        groups = [" + ".join(to_text(t, precision, top=False) for t in g) for g in e.groups if g]
        return "  +  ".join(groups)
    if isinstance(e, Call):
        inner = to_text(e.arg, precision)
        if isinstance(e.arg, Diff):  # exp(z - m), not exp((z - m))
            inner = inner[1:-1]
        return f"{e.fn}( {inner} )" if isinstance(e.arg, Sum) and len(e.arg.groups) > 1 \
            else f"{e.fn}({inner})"
    if isinstance(e, Vec):
        return ", ".join(to_text(v, precision) for v in e.items)
    if isinstance(e, Diff):
        return f"({to_text(e.left, precision)} - {to_text(e.right, precision, top=False)})"
    num = to_text(e.num, precision, top=False)
    den = to_text(e.den, precision)
    return f"{num} / ({den})"


def line_text(line: Line, precision: int = 4) -> str:
    return " = ".join([sym_text(line.lhs), *(to_text(e, precision) for e in line.chain)])


def where_dict(w: Where) -> dict[str, object]:
    return {f.name: getattr(w, f.name) for f in fields(w)}
