r"""The arithmetic of a run written out: every element of every gate at every step, numbers in.

Each :class:`Line` is one element worked by hand, a symbol and a chain of equal expressions::

    f_0[1] = sigmoid( (1)(1) + (0)(2) + (0.5)(3)  +  (0)(0) + (1)(0)  +  0 ) = sigmoid(2.5) = 0.9241
    c_0[1] = f_0[1]*c_{-1}[1] + i_0[1]*g_0[1] = (0.9241)(0) + (0.6225)(-0.4621) = -0.2877

The expressions are data (:class:`Num`, :class:`Sym`, :class:`Prod`, :class:`Sum`, :class:`Call`,
:class:`Diff`, :class:`Vec`, :class:`Frac`), so every renderer (terminal, markdown, LaTeX)
formats them its own way; :func:`to_text` is the plain one. Every number is read from the trace
or the exercise; the only values worked here are those a sheet writes and the trace does not keep:
the output activation of ``c_t`` inside LSTM's ``h_t`` and the exponentials of a softmax (rounded
as the run was, with ``--round``).

Notation: ``t`` counts positions from 0 as the seed does (``x_0``, ``h_{-1}`` the initial state;
a backward direction's previous state is ``h_{t+1}``), ``[j]`` counts units from 1 as a sheet
writes vector components, class labels count from 0 as in the JSON.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any, Union

import torch

from rnncalc.errors import ExitCode, RnncalcError
from rnncalc.formulation import Activation
from rnncalc.model import Exercise, LayerWeights
from rnncalc.rounding import round_half_away
from rnncalc.trace import DirectionTrace, HeadTrace, Trace

__all__ = [
    "Call", "Diff", "Expr", "Frac", "Line", "Num", "Prod", "Selection", "Sum", "Sym", "Vec",
    "Where",
    "explain", "parse_selection", "to_text",
]


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Sym:
    """``name_t[unit]``; ``t`` ``None`` for a quantity of no position (the head's final state)."""

    name: str
    t: int | None = None
    unit: int | None = None  # 1-based


@dataclass(frozen=True)
class Prod:
    factors: tuple[Expr, ...]


@dataclass(frozen=True)
class Sum:
    """Terms in groups (input part, recurrent part, biases), which renderers may space apart."""

    groups: tuple[tuple[Expr, ...], ...]


@dataclass(frozen=True)
class Call:
    fn: str
    arg: Expr


@dataclass(frozen=True)
class Diff:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Vec:
    """A list of values, as an argument: ``argmax(0.4796, 0.5204)``."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Frac:
    num: Expr
    den: Expr


Expr = Union[Num, Sym, Prod, Sum, Call, Diff, Vec, Frac]  # noqa: UP007 (a runtime alias, py3.10)


@dataclass(frozen=True)
class Where:
    """What a line computes, for selecting lines and for pointing at an answer."""

    quantity: str  # a gate (i f g o, r z n, h), c, m, h; head: y, z, p, label
    t: int | None
    unit: int | None  # 1-based
    layer: int | None = None  # None: the head
    direction: str | None = None


@dataclass(frozen=True)
class Line:
    """``lhs = chain[0] = chain[1] = ...``; the last of the chain is the value."""

    lhs: Sym
    chain: tuple[Expr, ...]
    where: Where


# ----------------------------------------------------------------------------- selection

class SelectionError(RnncalcError):
    """A bad ``--explain`` selection: a usage error."""

    exit_code = ExitCode.USAGE


Selection = dict[str, set[str]]
_KEYS = ("t", "gate", "unit", "layer", "direction")
_QUANTITIES = {"i", "f", "g", "o", "c", "m", "h", "r", "z", "n", "y", "p", "label", "head"}


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
        if key == "gate" and value not in _QUANTITIES:
            raise SelectionError(f"--explain: gate is one of {', '.join(sorted(_QUANTITIES))}, "
                               f"got {value!r}")
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
            lines += (ln for ln in _direction(ex, w, tr, trace.round_to, sel)
                      if _selected(ln.where, sel))
    if trace.head is not None:
        lines += (ln for ln in _head(ex, trace, trace.head) if _selected(ln.where, sel))
    return lines


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
    for k, t in enumerate(tr.positions):
        here = {"t": t, "layer": tr.layer, "direction": tr.direction}
        if any(str(v) not in sel[key] for key, v in here.items() if key in sel):
            continue  # the step is not selected: build none of its lines
        s = _Step(tr, k, lists)

        def where(q: str, j: int, s: _Step = s) -> Where:
            return Where(q, s.t, j + 1, tr.layer, tr.direction)

        if ex.cell == "rnn":
            yield from _rnn(ex, w, s, where)
        elif ex.cell == "lstm":
            yield from _lstm(ex, w, s, where, round_to)
        else:
            yield from _gru(ex, w, s, where)


def _bias(ex: Exercise, w: LayerWeights, row: int) -> tuple[Expr, ...]:
    if not ex.bias:
        return (Num(0.0),)
    return tuple(Num(b[row]) if b is not None else Num(0.0) for b in (w.bias_ih, w.bias_hh))


def _gate_line(ex: Exercise, name: str, j: int, s: _Step, act: Activation, groups: tuple,  # type: ignore[type-arg]
               where: Where) -> Line:
    arg: Expr = Sum(groups)
    if ex.formulation.clip is not None:
        arg = Call("clip", arg)
    return Line(Sym(name, s.t, j + 1), (Call(act.name, arg), Call(act.name, Num(s.pre[name][j])),
                                        Num(s.act[name][j])), where)


def _linear(ex: Exercise, w: LayerWeights, s: _Step, gate: int, j: int) -> tuple:  # type: ignore[type-arg]
    """The groups of ``W_i? x_t + W_h? h_prev + b_i? + b_h?``, unit ``j`` of gate block ``gate``."""
    row = gate * ex.hidden_size + j
    return (_dot(w.weight_ih[row], s.x), _dot(w.weight_hh[row], s.h_prev), _bias(ex, w, row))


def _rnn(ex: Exercise, w: LayerWeights, s: _Step, where) -> Iterator[Line]:  # type: ignore[no-untyped-def]
    for j in range(ex.hidden_size):
        yield _gate_line(ex, "h", j, s, ex.formulation.activations[0], _linear(ex, w, s, 0, j),
                         where("h", j))


def _lstm(ex: Exercise, w: LayerWeights, s: _Step, where, round_to: int | None) -> Iterator[Line]:  # type: ignore[no-untyped-def]
    form = ex.formulation
    sigma, g_act, h_act = form.activations
    H = ex.hidden_size
    assert s.c_prev is not None and s.c is not None
    for gi, gate in enumerate(("i", "f", "g")):
        for j in range(H):
            if gate == "f" and form.input_forget:
                i_sym = Sym("i", s.t, j + 1)
                yield Line(Sym("f", s.t, j + 1), (Diff(Num(1.0), i_sym),
                           Diff(Num(1.0), Num(s.act["i"][j])), Num(s.act["f"][j])), where("f", j))
                continue
            groups = _linear(ex, w, s, gi, j)
            if form.peepholes and w.peephole is not None and gate != "g":
                groups += ((Prod((Num(w.peephole[gi][j]), Num(s.c_prev[j]))),),)
            if gate == "f" and form.forget_bias:
                groups += ((Num(form.forget_bias),),)
            fn = g_act if gate == "g" else sigma
            yield _gate_line(ex, gate, j, s, fn, groups, where(gate, j))
    for j in range(H):
        u = j + 1
        yield Line(Sym("c", s.t, u), (
            Sum(((Prod((Sym("f", s.t, u), Sym("c", s.prev_t, u))),
                  Prod((Sym("i", s.t, u), Sym("g", s.t, u)))),)),
            Sum(((Prod((Num(s.act["f"][j]), Num(s.c_prev[j]))),
                  Prod((Num(s.act["i"][j]), Num(s.act["g"][j])))),)),
            Num(s.c[j])), where("c", j))
    for j in range(H):
        groups = _linear(ex, w, s, 3, j)
        if form.peepholes and w.peephole is not None:
            groups += ((Prod((Num(w.peephole[2][j]), Num(s.c[j]))),),)
        yield _gate_line(ex, "o", j, s, sigma, groups, where("o", j))
    out = "m" if s.m is not None else "h"
    values = s.m if s.m is not None else s.h
    for j in range(H):
        u = j + 1
        squashed = _activation(h_act, s.c[j], round_to)
        yield Line(Sym(out, s.t, u), (
            Prod((Sym("o", s.t, u), Call(h_act.name, Sym("c", s.t, u)))),
            Prod((Num(s.act["o"][j]), Call(h_act.name, Num(s.c[j])))),
            Prod((Num(s.act["o"][j]), Num(squashed))),
            Num(values[j])), where(out, j))
    if s.m is not None and w.weight_hr is not None:
        for j, row in enumerate(w.weight_hr):
            yield Line(Sym("h", s.t, j + 1), (Sum((_dot(row, s.m),)), Num(s.h[j])), where("h", j))


def _gru(ex: Exercise, w: LayerWeights, s: _Step, where) -> Iterator[Line]:  # type: ignore[no-untyped-def]
    form = ex.formulation
    sigma, cand = form.activations
    H = ex.hidden_size
    for gi, gate in enumerate(("r", "z")):
        for j in range(H):
            yield _gate_line(ex, gate, j, s, sigma, _linear(ex, w, s, gi, j), where(gate, j))
    for j in range(H):
        row = 2 * H + j
        b_in, b_hn = _bias(ex, w, row) if ex.bias else (Num(0.0), Num(0.0))
        inputs = (*_dot(w.weight_ih[row], s.x), b_in)
        r = s.act["r"]
        if form.reset_after:
            recurrent: tuple[Expr, ...] = (Prod((Num(r[j]), Sum(
                (_dot(w.weight_hh[row], s.h_prev), (b_hn,))))),)
        else:
            recurrent = (*(Prod((Num(wk), Num(r[k]), Num(h))) for k, (wk, h) in
                           enumerate(zip(w.weight_hh[row], s.h_prev, strict=True))), b_hn)
        yield _gate_line(ex, "n", j, s, cand, (inputs, recurrent), where("n", j))
    for j in range(H):
        u = j + 1
        z, n, hp = Sym("z", s.t, u), Sym("n", s.t, u), Sym("h", s.prev_t, u)
        zv, nv, hv = Num(s.act["z"][j]), Num(s.act["n"][j]), Num(s.h_prev[j])
        if form.z_weights == "previous":
            sym = Sum(((Prod((Diff(Num(1.0), z), n)), Prod((z, hp))),))
            num = Sum(((Prod((Diff(Num(1.0), zv), nv)), Prod((zv, hv))),))
        else:
            sym = Sum(((Prod((z, n)), Prod((Diff(Num(1.0), z), hp))),))
            num = Sum(((Prod((zv, nv)), Prod((Diff(Num(1.0), zv), hv))),))
        yield Line(Sym("h", s.t, u), (sym, num, Num(s.h[j])), where("h", j))


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
            yield Line(Sym(name, t, k + 1), (Sum((_dot(row, inp), (Num(b[k]),))), Num(z[k])),
                       Where(name, t, k + 1))
        if p is None:
            continue
        if len(z) == 1:
            yield Line(Sym("p", t, 1), (Call("sigmoid", Sym("z", t, 1)), Call("sigmoid", Num(z[0])),
                                        Num(p[0])), Where("p", t, 1))
        else:
            exps = [math.exp(v) if v < 709 else math.inf for v in z]  # beyond: inf, as a float
            if trace.round_to is not None:
                exps = [round_half_away(e, trace.round_to) for e in exps]
            for k in range(len(z)):
                yield Line(Sym("p", t, k + 1), (
                    Frac(Call("exp", Sym("z", t, k + 1)),
                         Sum((tuple(Call("exp", Sym("z", t, m + 1)) for m in range(len(z))),))),
                    Frac(Call("exp", Num(z[k])), Sum((tuple(Call("exp", Num(v)) for v in z),))),
                    Frac(Num(exps[k]), Sum((tuple(Num(e) for e in exps),))),
                    Num(p[k])), Where("p", t, k + 1))
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
    out = s.name
    if s.t is not None:
        out += f"_{s.t}" if 0 <= s.t < 10 else f"_{{{s.t}}}"
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
