"""Check a student's answers against a run: each number at the precision written; why it is wrong.

Marks, in the order tried:

- ``right``: the true value, rounded half away from zero to the decimals written (at least
  :data:`MIN_DECIMALS`), is the number written (``0.9866`` for 0.986614; ``1`` for 0.9241 is
  checked as 1.00, wrong); with a ``tolerance``, within it.
- ``rounding`` (counted right): it is what a sheet gets that rounds every intermediate to the
  decimals written (``rnncalc ... --round N``); only when not checking at an explicit ``--round``.
- ``carried`` (counted wrong, told apart): wrong, after an earlier wrong answer (in computing
  order), and what the student's own earlier answers give: the step recomputed from their
  ``h_{t-1}`` (and ``c_{t-1}``, and the layer below's ``h_t``), an activation of their own
  pre-activation, ``c_t``/``h_t`` from their own gates, the head from their own ``h_t``.
- ``wrong``: a new mistake; where a known slip explains the number, ``note`` names it (two gates
  swapped, h and c swapped, an activation left out, LSTM's f and i exchanged in c_t or the tanh
  of c_t left out, a square weight block transposed, GRU's reset gate on the other side or z and
  1 - z swapped, the biases left out, truncated instead of rounded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_DOWN, ROUND_HALF_UP, Context, Decimal
from typing import TYPE_CHECKING, Any

import torch

from rnncalc import gradanswers
from rnncalc.answers import Answers, Given, Key, lookup
from rnncalc.cells import spec
from rnncalc.errors import RnncalcError
from rnncalc.explain import Line, Where, explain
from rnncalc.expr import subscript
from rnncalc.model import Exercise, LayerWeights
from rnncalc.rounding import rounding
from rnncalc.trace import Trace

if TYPE_CHECKING:
    from rnncalc.bptt import GradTrace

__all__ = ["Item", "Marker", "Report", "agrees", "check", "decimals"]

MARKS = ("right", "rounding", "carried", "wrong")

#: The note on a number written in quotes: YAML text, marked as the number it spells.
QUOTED = "written in quotes, read as the number (write numbers without quotes)"

#: Rounding to the decimals a student wrote, however many: the default context stops at 28 digits
#: (a value pasted with 30 decimals raised decimal.InvalidOperation, an internal error).
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def decimals(text: str) -> int:
    """Digits after the point as written: ``decimals("0.9860") == 4``, ``decimals("2.4e-4") == 5``.
    """
    exponent = Decimal(text).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _true(value: float) -> Decimal:
    # 12 significant digits: float64 noise gone (0.98655 is stored as 0.98654999...), digits kept
    return Decimal(f"{value:.12g}")


def agrees(given: Given, value: Any, tolerance: float | None = None) -> bool:
    """Is ``given`` right for the true ``value``, at its written precision or within ``tolerance``?

    >>> g = Given(("h",), 0.9866, "0.9866", None)
    >>> agrees(g, 0.986614), agrees(g, 0.98655), agrees(g, 0.986549)
    (True, True, False)
    """
    if isinstance(given.value, str) or isinstance(value, str):
        return str(given.value) == str(value)
    if value is None or not math.isfinite(float(value)):
        return False
    if tolerance is not None:
        return abs(float(value) - float(given.value)) <= tolerance + 1e-12
    if _significant(given.text) > 12:  # a machine's full precision
        return abs(float(value) - float(given.value)) <= 1e-12 * max(1.0, abs(float(value)))
    return _true(float(value)).quantize(_step(given.text), ROUND_HALF_UP,
                                        context=_EXACT) == Decimal(given.text)


def _significant(text: str) -> int:
    """Significant digits as written, trailing zeros aside: ``_significant("0.98660") == 4``
    (counted, not rounded to a context's precision first)."""
    return len("".join(map(str, Decimal(text).as_tuple().digits)).rstrip("0"))


#: The fewest decimals a number is checked to, whatever it was written with: ``1`` for a gate of
#: 0.9241 is checked as 1.00 (wrong), else whole numbers would mark almost every sigmoid right and
#: an answers file would choose its own tolerance. The grader's ``--tolerance`` replaces it.
MIN_DECIMALS = 2


def checked_decimals(text: str) -> int:
    """The decimals ``text`` is checked to: as written, at least :data:`MIN_DECIMALS`."""
    return max(decimals(text), MIN_DECIMALS)


def _step(text: str) -> Decimal:
    """One unit of the last decimal ``text`` is checked to: ``_step("0.986") == 0.001``,
    ``_step("1") == 0.01``."""
    return Decimal(1).scaleb(-checked_decimals(text), context=_EXACT)


def _truncated(given: Given, value: float) -> bool:
    if not math.isfinite(value):
        return False
    return _true(value).quantize(_step(given.text), ROUND_DOWN,
                                 context=_EXACT) == Decimal(given.text)


@dataclass(frozen=True)
class Item:
    """One answered number, checked."""

    name: str  # as a sheet writes it, indices from 0: "pre f_0[0]", "h_2[0]", "p_1[1]"
    key: Key
    given: Given
    expected: Any
    mark: str  # right | rounding | carried | wrong
    note: str
    where: Where | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": _path(self.key), "line": self.given.line,
                "given": self.given.text, "expected": self.expected, "mark": self.mark,
                "note": self.note}


@dataclass(frozen=True)
class Report:
    items: tuple[Item, ...]
    explain: tuple[Line, ...]  # the arithmetic of the first new mistake
    source: str
    round_to: int | None
    tolerance: float | None
    file_tolerance: float | None = None  # what the answers file wrote: shown, not used
    file_round: int | None = None  # the same

    @property
    def counts(self) -> dict[str, int]:
        return {mark: sum(item.mark == mark for item in self.items) for mark in MARKS}

    @property
    def first_wrong(self) -> Item | None:
        return next((i for i in self.items if i.mark == "wrong"), None) or \
            next((i for i in self.items if i.mark == "carried"), None)

    @property
    def all_right(self) -> bool:
        return all(i.mark in ("right", "rounding") for i in self.items)

    def to_dict(self, precision: int = 4) -> dict[str, Any]:
        from rnncalc.explain import line_text

        first = self.first_wrong
        return {
            "answers": self.source, "round": self.round_to, "tolerance": self.tolerance,
            "summary": {"items": len(self.items), **self.counts, "all_right": self.all_right},
            "items": [i.to_dict() for i in self.items],
            "first_wrong": None if first is None else {
                **first.to_dict(), "explain": [line_text(ln, precision) for ln in self.explain]},
        }


def _path(key: Key) -> str:
    out = ""
    for part in key:
        if isinstance(part, int) or "=" in part:
            out += f"[{part}]"
        elif "." in part:  # a parameter's name, head.W: one key, not two
            out += f'["{part}"]'
        else:
            out += f".{part}" if out else part
    return out


# ----------------------------------------------------------------------------- names


def _t(part: str | int) -> int:
    return int(str(part).partition("=")[2])


def describe(key: Key, ex: Exercise) -> tuple[str, Where | None]:
    """A key's name as a sheet writes it, and the explain line that computes it."""
    k = list(key)
    if k[0] == "layers":
        layer, direction, t, field = _t(k[1]), str(k[3]), _t(k[4]), str(k[5])
        one = ex.num_layers == 1 and len(ex.directions) == 1
        prefix = "" if one else f"layer {layer} {direction}: "
        if field in ("pre", "act"):
            gate, j = str(k[6]), int(k[7])
            return (prefix + ("pre " if field == "pre" else "") + f"{gate}{subscript(t)}[{j}]",
                    Where(gate, t, j, layer, direction))
        j = int(k[6])
        return prefix + f"{field}{subscript(t)}[{j}]", Where(field, t, j, layer, direction)
    if k[0] == "head":
        symbols = {"y": "y", "logits": "z", "probs": "p", "label": "label", "name": "name"}
        if k[1] == "steps":
            t, field = _t(k[2]), str(k[3])
            unit = int(k[4]) if len(k) > 4 else None
            q = symbols[field]
            name = q + subscript(t) + (f"[{unit}]" if unit is not None else "")
            return name, Where(q if q != "name" else "label", t, unit)
        field = str(k[1])
        unit = int(k[2]) if len(k) > 2 else None
        q = symbols[field]
        where = Where(q if q != "name" else "label", None, unit)
        return q + (f"[{unit}]" if unit is not None else ""), where
    if k[0] == "grad":
        return gradanswers.describe(key, ex), None
    return _path(key), None


# ----------------------------------------------------------------------------- checking


def check(ex: Exercise, answers: Answers, *, round_to: int | None = None,
          tolerance: float | None = None, trace: Trace | None = None) -> Report:
    """Check ``answers`` against ``ex`` run exactly (or rounding every intermediate to
    ``round_to`` decimals). ``tolerance`` is the marking policy, the grader's alone (``rnncalc
    check --tolerance``, or the exercise config's ``grading:``): the answers file's own
    ``tolerance`` is never used, so a student cannot make a wrong answer right. ``trace``: that
    run, already computed. To check many files, make one :class:`Marker` and call it on each."""
    return Marker(ex, trace, round_to=round_to)(answers, tolerance)


class Marker:
    """One exercise's run, and what checking needs of it (the runs rounding to N decimals, the
    slips' runs, the arithmetic lines), computed once for any number of answers files."""

    def __init__(self, ex: Exercise, trace: Trace | None = None, *,
                 round_to: int | None = None) -> None:
        from rnncalc.engine import run

        if ex.backward_formulation is not None:  # the slips and carried answers assume one set
            raise RnncalcError(f"{ex.source}: check marks nets whose directions share their "
                               "activations; this one's backward direction has its own "
                               "(backward_activations)")
        self.ex, self.round_to = ex, round_to
        self.trace = run(ex, round_to=round_to) if trace is None else trace
        self.grad = _backprop(self.trace, round_to)
        self.doc = _with_grad(self.trace.to_dict(), self.grad)
        self.rounded: dict[int, dict[str, Any]] = {}
        self.slips = _Slips(ex, self.trace, self.doc, round_to)
        self._lines: list[Line] | None = None

    def __call__(self, answers: Answers, tolerance: float | None = None) -> Report:
        ex, trace, doc, round_to = self.ex, self.trace, self.doc, self.round_to
        tol = tolerance
        given_at = {g.key: g for g in answers.given}
        own = _Own(ex, trace, doc, given_at, round_to, self.grad)
        items: list[Item] = []
        for g in sorted(answers.given, key=lambda g: _order(g.key, ex, trace, self.grad)):
            expected = lookup(doc, g.key)
            name, where = describe(g.key, ex)
            mark, note = "wrong", ""
            if agrees(g, expected, tol):
                mark = "right"
            elif round_to is None and tol is None and _by_rounding(ex, g, self.rounded):
                d = checked_decimals(g.text)
                mark, note = "rounding", (f"right when every intermediate is rounded to "
                                          f"{d} decimals (--round {d})")
            else:
                earlier = any(i.mark in ("wrong", "carried") for i in items)
                carried = own.value(g.key) if earlier else None
                if carried is not None and agrees(g, carried, tol):
                    mark, note = "carried", f"follows from your answers above: {_show(carried, g)}"
                else:
                    note = self.slips.explain(g, tol)
            if g.quoted:  # marked as the number it spells, as on paper; the student is told
                note = f"{note}; {QUOTED}" if note else QUOTED
            items.append(Item(name, g.key, g, expected, mark, note, where))
        report = Report(tuple(items), (), answers.source, round_to, tol, answers.tolerance,
                        answers.round)
        first = report.first_wrong
        lines: tuple[Line, ...] = ()
        if first is not None and first.where is not None:
            if self._lines is None:
                self._lines = explain(trace)
            lines = tuple(ln for ln in self._lines if ln.where == first.where)
        return replace(report, explain=lines)


def _backprop(trace: Trace, round_to: int | None) -> GradTrace | None:
    """The gradients of an exercise that has a loss (or upstream gradients): answers may hold
    them (:mod:`rnncalc.gradanswers`)."""
    if trace.exercise.loss is None:
        return None
    from rnncalc.bptt import backprop

    return backprop(trace, round_to=round_to)


def _with_grad(doc: dict[str, Any], grad: GradTrace | None) -> dict[str, Any]:
    return doc if grad is None else {**doc, "grad": grad.to_dict()}


_HEAD_RANKS = {"y": 0, "logits": 0, "probs": 1, "label": 2, "name": 3}


def _order(key: Key, ex: Exercise, trace: Trace, grad: GradTrace | None = None
           ) -> tuple[Any, ...]:
    """Where a quantity comes in the computation: layer, direction, step, gate, unit; the head;
    then the gradients, in the order backpropagation computes them."""
    if key[0] == "grad":
        return gradanswers.order(key, ex, grad)
    if key[0] == "layers":
        layer, direction = _t(key[1]), str(key[3])
        tr = trace.layers[layer].directions[direction]
        k = tr.positions.index(_t(key[4]))
        field = str(key[5])
        name = str(key[6]) if field in ("pre", "act") else field
        rank = spec(ex.cell).order.find(name)
        return (0, layer, ex.directions.index(direction), k, rank, field != "pre", *key[-1:])
    if key[0] == "head":
        if key[1] == "steps":
            return (2, _t(key[2]), _HEAD_RANKS[str(key[3])], *key[4:])
        return (3, _HEAD_RANKS[str(key[1])], *key[2:])
    return (1, str(key[0]), *key[1:])


def _show(value: Any, g: Given) -> str:
    if isinstance(value, (int, str)):
        return str(value)
    # rounded as agrees() rounds (half away from zero): 1.71105 shows as 1.7111, not 1.7110
    step = Decimal(1).scaleb(-min(max(decimals(g.text), 4), 12), context=_EXACT)  # not 400
    return str(_true(float(value)).quantize(step, ROUND_HALF_UP, context=_EXACT))


def _by_rounding(ex: Exercise, g: Given, cache: dict[int, dict[str, Any]]) -> bool:
    if isinstance(g.value, str):
        return False
    d = checked_decimals(g.text)
    if decimals(g.text) == 0 or d > 12:  # a whole number, or a machine's digits: not a sheet
        return False
    if d not in cache:
        from rnncalc.engine import run

        trace = run(ex, round_to=d)
        cache[d] = _with_grad(trace.to_dict(), _backprop(trace, d))
    return agrees(g, lookup(cache[d], g.key))


# ----------------------------------------------------------------------------- carried


class _Own:
    """What the student's own earlier answers give for a quantity (None: nothing to recompute)."""

    def __init__(self, ex: Exercise, trace: Trace, doc: dict[str, Any],
                 given: dict[Key, Given], round_to: int | None,
                 grad: GradTrace | None = None) -> None:
        self.ex, self.trace, self.doc, self.given = ex, trace, doc, given
        self.round_to, self.grad = round_to, grad
        self.steps: dict[Key, dict[Key, float]] = {}

    def _mine(self, key: Key, fallback: float) -> float:
        g = self.given.get(key)
        return float(g.value) if g is not None and not isinstance(g.value, str) else fallback

    def value(self, key: Key) -> Any:
        if key[0] == "layers":
            values = self._step(key[:5])
            return values.get(key[5:])
        if key[0] == "head":
            return self._head(key)
        if key[0] == "grad" and self.grad is not None:
            return gradanswers.own(key, self.ex, self.trace, self.grad, self._mine)
        return None

    def _step(self, base: Key) -> dict[Key, float]:
        """Every quantity of the step at ``base`` from the student's own values (see module)."""
        if base in self.steps:
            return self.steps[base]
        from rnncalc.cells.activations import apply
        from rnncalc.engine import params as _params

        ex, form = self.ex, self.ex.formulation
        cell = spec(ex.cell)
        layer, direction, t = _t(base[1]), str(base[3]), _t(base[4])
        tr = self.trace.layers[layer].directions[direction]
        k = tr.positions.index(t)
        before = (*base[:4], f"t={tr.positions[k - 1]}") if k > 0 else None

        def prev(state: str, start: torch.Tensor | None) -> torch.Tensor | None:
            exact = (tr.h if state == "h" else tr.c)
            if exact is None or start is None:
                return None
            block = start if before is None else exact[k - 1]
            if before is None:
                return block
            return torch.tensor([self._mine((*before, state, j), float(v))
                                 for j, v in enumerate(block.tolist())], dtype=torch.float64)

        h_prev, c_prev = prev("h", tr.h0), prev("c", tr.c0)
        assert h_prev is not None
        w = ex.weights[layer][ex.directions.index(direction)]
        p = _params(w, torch.float64)
        with torch.no_grad(), rounding(self.round_to):
            x = tr.x[k].to(torch.float64)
            if layer > 0 and ex.merge_mode == "concat":  # the layer below's output, theirs
                x = torch.tensor(self._own_output(layer - 1, t), dtype=torch.float64)
            out = cell.step(p, x, h_prev, c_prev, form)
        cross: dict[Key, float] = {}
        for field, blocks in (("pre", out.pre), ("act", out.act)):
            for gate, v in blocks.items():
                cross.update({(field, gate, j): x for j, x in enumerate(v.tolist())})
        for state, block in (("h", out.h), ("c", out.c), ("m", out.extra.get("m"))):
            if block is not None:
                cross.update({(state, j): x for j, x in enumerate(block.tolist())})

        def mine(*q: str | int) -> float:
            return self._mine((*base, *q), cross[q])

        act = form.act
        values = dict(cross)
        for q in [q for q in cross if q[0] == "act"]:
            gate, j = str(q[1]), int(q[2])
            pre = torch.tensor([mine("pre", gate, j)], dtype=torch.float64)
            values[q] = float(apply(act[cell.gate_roles[gate]], pre)[0])
        # the states from the student's gates (and the gates a cell derives from others)
        cell.recompute(form, mine, values, cross, h_prev, c_prev, ex.hidden_size)
        self.steps[base] = values
        return values

    def _head(self, key: Key) -> Any:
        ex, head = self.ex, self.ex.head
        if head is None or ex.merge_mode != "concat" or ex.reverse:
            return None
        top = len(self.trace.layers) - 1
        if key[1] == "steps":
            t, field = _t(key[2]), str(key[3])
            here: Key = ("head", "steps", f"t={t}")
            inp = self._own_output(top, t)
        else:
            field, here = str(key[1]), ("head",)
            inp = self._own_final(top)
        z_key = "y" if head.task == "regression" else "logits"
        exact_z = lookup(self.doc, (*here, z_key))
        z = [self._mine((*here, z_key, k), float(v)) if field != z_key else
             sum(wk * x for wk, x in zip(row, inp, strict=True)) + head.b[k]
             for k, (row, v) in enumerate(zip(head.W, exact_z, strict=True))]
        if field == z_key:
            return z[int(key[-1])]
        if len(z) == 1:
            p = [1 / (1 + math.exp(min(-z[0], 709.0)))]
        else:
            top_z = max(z)
            e = [math.exp(v - top_z) for v in z]
            p = [v / sum(e) for v in e]
        if field == "probs":
            return p[int(key[-1])]
        exact_p = lookup(self.doc, (*here, "probs"))
        p = [self._mine((*here, "probs", k), float(v)) for k, v in enumerate(exact_p)]
        label = int(p[0] >= 0.5) if len(p) == 1 else max(range(len(p)), key=p.__getitem__)
        if field == "name":
            return head.labels[label] if head.labels else None
        return label

    def _own_output(self, layer: int, t: int) -> list[float]:
        """The head's input at position ``t``: ``[h_forward_t, h_backward_t]``, the student's."""
        return [v for d in self.trace.layers[layer].directions for v in self._own_h(layer, d, t)]

    def _own_final(self, layer: int) -> list[float]:
        """The head's final input: each direction's last state computed, the student's."""
        return [v for d, tr in self.trace.layers[layer].directions.items()
                for v in self._own_h(layer, d, tr.positions[-1])]

    def _own_h(self, layer: int, direction: str, t: int) -> list[float]:
        tr = self.trace.layers[layer].directions[direction]
        base = ("layers", f"layer={layer}", "directions", direction, f"t={t}", "h")
        exact = tr.h[tr.positions.index(t)].tolist()
        return [self._mine((*base, j), v) for j, v in enumerate(exact)]


# ----------------------------------------------------------------------------- slips


class _Slips:
    """Known slips, each a way to get a wrong number: another quantity of the same run, or a run
    of a slightly wrong exercise (a weight block transposed, ...). Runs are made on first need."""

    def __init__(self, ex: Exercise, trace: Trace, doc: dict[str, Any],
                 round_to: int | None) -> None:
        self.ex, self.trace, self.doc, self.round_to = ex, trace, doc, round_to
        self._variants: list[tuple[str, dict[str, Any]]] | None = None

    def explain(self, g: Given, tol: float | None) -> str:
        key = g.key
        if isinstance(g.value, str) or (tol is None and decimals(g.text) < 2):
            return ""  # a number of one decimal matches too much to name a slip
        expected = lookup(self.doc, key)
        for note, value in self._neighbours(key):
            if agrees(g, value, tol):
                return note
        for note, doc in self.variants():
            if agrees(g, lookup(doc, key), tol):
                return f"matches what you get with {note}"
        if tol is None and isinstance(expected, float) and _truncated(g, expected):
            return f"truncated, not rounded: {expected:.{decimals(g.text) + 2}f} rounds to " \
                f"{_true(expected).quantize(_step(g.text), ROUND_HALF_UP, context=_EXACT)}"
        return ""

    def _neighbours(self, key: Key) -> list[tuple[str, Any]]:
        """Other quantities of the same step and unit a slip would write here."""
        if key[0] != "layers":
            return []
        base, field = key[:5], key[5]
        t = _t(key[4])
        out: list[tuple[str, Any]] = []
        if field in ("pre", "act"):
            gate, j = str(key[6]), int(key[7])
            for other in self.ex.gates:
                if other != gate:
                    pre = "pre " if field == "pre" else ""
                    out.append((f"matches {pre}{other}{subscript(t)}[{j}], the "
                                f"{spec(self.ex.cell).words.get(other, other)}: gates swapped?",
                                lookup(self.doc, (*base, field, other, j))))
            if field == "act":
                out.append((f"matches pre {gate}{subscript(t)}[{j}]: the activation left out?",
                            lookup(self.doc, (*base, "pre", gate, j))))
        elif field in ("h", "c"):
            j, other = int(key[6]), "c" if field == "h" else "h"
            if lookup(self.doc, (*base, other)) is not None:
                out.append((f"matches {other}{subscript(t)}[{j}]: h and c swapped?",
                            lookup(self.doc, (*base, other, j))))
            if field == "h" and "h" in self.ex.gates:  # h_t is the one gate's activation
                out.append((f"matches pre h{subscript(t)}[{j}]: the activation left out?",
                            lookup(self.doc, (*base, "pre", "h", j))))
            tr = self.trace.layers[_t(key[1])].directions[str(key[3])]
            k = tr.positions.index(_t(key[4]))
            out += spec(self.ex.cell).state_slips(self.ex, tr, k, field, j)
        return out

    def variants(self) -> list[tuple[str, dict[str, Any]]]:
        if self._variants is None:
            from rnncalc.engine import run

            self._variants = [(note, run(ex, round_to=self.round_to).to_dict())
                              for note, ex in _variants(self.ex)]
        return self._variants


def _variants(ex: Exercise) -> list[tuple[str, Exercise]]:
    """Exercises a known slip computes instead of ``ex``, with what the slip is."""
    out: list[tuple[str, Exercise]] = []
    H = ex.hidden_size
    many = ex.num_layers > 1 or ex.bidirectional
    for layer, row in enumerate(ex.weights):
        for d, w in enumerate(row):
            where = f" (layer {layer} {ex.directions[d]})" if many else ""
            for kind in ("ih", "hh"):
                matrix = w.weight_ih if kind == "ih" else w.weight_hh
                if not isinstance(matrix[0], tuple) or len(matrix[0]) != H:
                    continue  # not square (or indrnn's vector w_hh): no transposing slip
                for gi, gate in enumerate(ex.gates):
                    block = matrix[gi * H:(gi + 1) * H]
                    flipped = tuple(zip(*block, strict=True))
                    if flipped == block:
                        continue
                    new = matrix[:gi * H] + flipped + matrix[(gi + 1) * H:]
                    changed = replace(w, **{f"weight_{kind}": new})
                    name = f"W_{kind[0]}{gate}"  # rnn's one gate h: W_ih, W_hh
                    out.append((f"{name} transposed{where}", _with_weights(ex, layer, d, changed)))
    out += [(note, replace(ex, formulation=form))
            for note, form in spec(ex.cell).variants(ex.formulation)]
    if ex.bias and any(any(w.bias_ih or ()) or any(w.bias_hh or ()) for r in ex.weights for w in r):
        weights = tuple(tuple(replace(w, bias_ih=None, bias_hh=None) for w in r)
                        for r in ex.weights)
        out.append(("the biases left out", replace(ex, weights=weights, bias=False)))
    return out


def _with_weights(ex: Exercise, layer: int, d: int, w: LayerWeights) -> Exercise:
    rows = [list(r) for r in ex.weights]
    rows[layer][d] = w
    return replace(ex, weights=tuple(tuple(r) for r in rows))

