r"""The chain rule for one gradient element, written out with numbers (``rnncalc grad --explain``).

For an element ``P[r, c]`` of a layer's parameter (row ``r`` in gate block ``r // H``, unit
``u = r % H``), at every step of the recursion::

    dL/dh_t[u]  = dL/dh(out) + dL/dh(fut): from the output, from step t+1
    dL/dc_t[u]  = dL/dh_t[u]*o_t[u]*tanh'(c_t[u]) + dL/dc_{t+1}[u]*f_{t+1}[u]     (lstm)
    dL/da_t[u]  = (the gate's own factors) * act'(a_t[u])  = value
    term_t      = dL/da_t[u] * (x_t[c] | h_{t-1}[c] | 1)   = value

then ``dL/dP[r, c] = sum of the terms``. The lines are :class:`rnncalc.explain.Line` data, so the
terminal, markdown and LaTeX renderers format them as they format the forward pass's arithmetic.
Every number is read from the trace and the :class:`~rnncalc.bptt.GradTrace`; the activation
slopes are those of :func:`rnncalc.bptt.slope`. ``[u]`` counts units from 1, as sheets do.
"""

from __future__ import annotations

import re

from rnncalc.bptt import GradTrace, slope
from rnncalc.cells.activations import apply
from rnncalc.engine import params as _params
from rnncalc.errors import ExitCode, RnncalcError
from rnncalc.explain import Call, Diff, Expr, Line, Num, Prod, Sum, Sym, Where
from rnncalc.model import param_name
from rnncalc.trace import Trace

__all__ = ["default_element", "explain_element"]

_ELEMENT = re.compile(r"^\s*([\w.]+)\s*\[\s*(\d+)\s*(?:,\s*(\d+)\s*)?\]\s*$")


class ElementError(RnncalcError):
    exit_code = ExitCode.USAGE


def _parse(text: str, grad: GradTrace) -> tuple[str, int, int | None]:
    m = _ELEMENT.match(text)
    if not m or m[1] not in grad.params:
        raise ElementError(f"--element: expected PARAMETER[row,col] or PARAMETER[i] with a "
                           f"parameter of {', '.join(grad.params)}; got {text!r}")
    name, r, c = m[1], int(m[2]), None if m[3] is None else int(m[3])
    shape = tuple(grad.params[name].shape)
    if len(shape) != (1 if c is None else 2) or r >= shape[0] or (c is not None and c >= shape[1]):
        raise ElementError(f"--element: {name} has shape {list(shape)}; {text!r} is outside it "
                           "(indices count from 0)")
    return name, r, c


def default_element(grad: GradTrace) -> str:
    """The element of the first layer's ``weight_hh`` with the largest gradient."""
    name = next(n for n in grad.params if n.startswith("weight_hh_l0"))
    r, c = divmod(int(grad.params[name].abs().argmax()), grad.params[name].shape[1])
    return f"{name}[{r},{c}]"


def explain_element(trace: Trace, grad: GradTrace, element: str) -> list[Line]:
    """The lines of the chain rule for ``element`` (``"weight_hh_l0[0,1]"``, ``"head.b[0]"``)."""
    name, r, c = _parse(element, grad)
    total = float(grad.params[name][r] if c is None else grad.params[name][r, c])
    if name.startswith("head."):
        return _head(grad, name, r, c, total)
    ex = trace.exercise
    form = ex.formulation
    options = [name for name, on in (
        ("peepholes", form.peepholes), ("clip", form.clip is not None),
        ("a projection", form.projection), ("input_forget", form.input_forget)) if on]
    if options:
        raise ElementError(f"--explain writes the chain rule without {', '.join(options)}; "
                           "the step tables (--step-by-step) show every factor of it here")
    for layer, dirs in enumerate(grad.layers):
        for d, (direction, g) in enumerate(dirs.items()):
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                if param_name(kind, layer, direction if d else "forward") != name:
                    continue
                tr = trace.layers[layer].directions[direction]
                p = _params(ex.weights[layer][d], tr.h.dtype)
                return _chain(trace, grad, tr, g, p, kind, name, r, c, total)
    raise ElementError(f"--element: no parameter {name!r}")  # pragma: no cover


def _head(grad: GradTrace, name: str, r: int, c: int | None, total: float) -> list[Line]:
    assert grad.dz is not None and grad.h_head is not None
    where = Where("head", None, r + 1)
    terms: list[Expr] = []
    lines = []
    for n in range(len(grad.dz)):
        t = n if grad.at == "steps" else None
        dz = float(grad.dz[n, r])
        if c is None:
            terms.append(Num(dz))
            continue
        h = float(grad.h_head[n, c])
        term = Prod((Num(dz), Num(h)))
        lines.append(Line(Sym("term", t), (Prod((Sym("dL/dz", t, r + 1), Sym("h", t, c + 1))),
                                           term, Num(dz * h)), where))
        terms.append(Num(dz * h))
    index = f"[{r},{c}]" if c is not None else f"[{r}]"
    lines.append(Line(Sym(f"dL/d{name}{index}"), (Sum((tuple(terms),)), Num(total)), where))
    return lines


def _chain(trace: Trace, grad: GradTrace, tr, g, p, kind: str, name: str, r: int,  # type: ignore[no-untyped-def]
           c: int | None, total: float) -> list[Line]:
    ex = trace.exercise
    form = ex.formulation
    H = tr.h.shape[-1]
    gate = g.gates[r // H]
    u = r % H
    U = u + 1
    hidden_side = kind.endswith("_hh")
    lines: list[Line] = []
    terms: list[Expr] = []
    for k, t in enumerate(g.positions):
        where = Where(gate, t, U, g.layer, g.direction)
        s = tr.step(tr.positions.index(t))
        v = lambda x: float(x[u])  # noqa: E731
        lines.append(Line(Sym("dL/dh", t, U), (
            Sum(((Sym("dL/dh(out)", t, U), Sym("dL/dh(fut)", t, U)),)),
            Sum(((Num(v(g.dh_out[k])), Num(v(g.dh_future[k]))),)), Num(v(g.dh[k]))), where))
        if g.dc is not None:
            h_act = form.activations[2]
            sl = v(slope(h_act, s.c, apply(h_act, s.c)))
            lines.append(Line(Sym("dL/dc", t, U), (
                Sum(((Prod((Sym("dL/dh", t, U), Sym("o", t, U), Call(f"{h_act.name}'",
                                                                      Sym("c", t, U)))),
                      Sym("dL/dc(fut)", t, U)),)),
                Sum(((Prod((Num(v(g.dh[k])), Num(v(s.act["o"])), Num(sl))),
                      Num(v(g.dc_future[k]))),)), Num(v(g.dc[k]))), where))
        lines.append(_gate_line(ex, form, s, g, k, gate, u, t, where, p))
        da_side = g.contrib["bias_hh" if hidden_side else "bias_ih"][k][r]
        if kind.startswith("bias"):
            factor: Expr = Num(1.0)
            reads: Expr = Num(1.0)
        else:
            assert c is not None
            if not hidden_side:
                reads, factor = Sym("x", t, c + 1), Num(float(s.x[c]))
            elif ex.cell == "gru" and gate == "n" and not form.reset_after:
                reads = Prod((Sym("r", t, c + 1), Sym("h_prev", t, c + 1)))
                factor = Num(float(s.act["r"][c] * s.h_prev[c]))
            else:
                reads, factor = Sym("h_prev", t, c + 1), Num(float(s.h_prev[c]))
        value = float(g.contrib[kind][k][r] if c is None else g.contrib[kind][k][r, c])
        side = "dL/da" + ("(hidden)" if ex.cell == "gru" and gate == "n" and hidden_side else "")
        lines.append(Line(Sym("contribution", t), (
            Prod((Sym(f"{side}_{gate}", t, U), reads)),
            Prod((Num(float(da_side)), factor)), Num(value)), where))
        terms.append(Num(value))
    index = f"[{r},{c}]" if c is not None else f"[{r}]"
    lines.append(Line(Sym(f"dL/d{name}{index}"), (Sum((tuple(terms),)), Num(total)),
                      Where("total", g.positions[-1], U, g.layer, g.direction)))
    return lines


def _gate_line(ex, form, s, g, k: int, gate: str, u: int, t: int, where: Where,  # type: ignore[no-untyped-def]
               p) -> Line:
    """``dL/da_gate[u]`` as the product of its factors and the activation's slope."""
    U = u + 1
    v = lambda x: float(x[u])  # noqa: E731
    value = v(g.dpre[gate][k])
    act = form.activations[0]
    if ex.cell == "rnn" or (ex.cell == "lstm" and gate == "g") or (ex.cell == "gru"
                                                                      and gate == "n"):
        act = form.activations[-1] if ex.cell == "gru" else form.activations[
            0 if ex.cell == "rnn" else 1]
    sl = v(slope(act, s.pre[gate], s.act[gate]))
    fn = Call(f"{act.name}'", Sym(f"a_{gate}", t, U))
    dh, dc = v(g.dh[k]), None if g.dc is None else v(g.dc[k])
    factors: tuple[tuple[Expr, Expr], ...]
    if ex.cell == "rnn":
        factors = ((Sym("dL/dh", t, U), Num(dh)),)
    elif ex.cell == "lstm":
        other = {"i": ("g", s.act["g"]), "f": ("c_prev", s.c_prev), "g": ("i", s.act["i"]),
                 "o": (f"{form.activations[2].name}(c)", None)}[gate]
        first = (Sym("dL/dh", t, U), Num(dh)) if gate == "o" else (
            Sym("dL/dc", t, U), Num(dc or 0.0))
        second_value = v(other[1] if other[1] is not None else apply(form.activations[2], s.c))
        factors = (first, (Sym(other[0], t, U), Num(second_value)))
    else:
        z, n = v(s.act["z"]), v(s.act["n"])
        previous = form.z_weights == "previous"
        if gate == "n":
            factors = ((Sym("dL/dh", t, U), Num(dh)),
                       (Diff(Num(1.0), Sym("z", t, U)) if previous else Sym("z", t, U),
                        Num(1 - z if previous else z)))
        elif gate == "z":
            diff = v(s.h_prev) - n if previous else n - v(s.h_prev)
            h_prev, n_sym = Sym("h_prev", t, U), Sym("n", t, U)
            factors = ((Sym("dL/dh", t, U), Num(dh)),
                       (Diff(h_prev, n_sym) if previous else Diff(n_sym, h_prev), Num(diff)))
        else:
            H = s.h.shape[-1]
            W_hn = p.weight_hh[2 * H:]
            da_n = g.dpre["n"][k]
            if form.reset_after:
                hn = W_hn @ s.h_prev + p.bias_hh[2 * H:]
                factors = ((Sym("dL/da_n", t, U), Num(v(da_n))),
                           (Sum(((Sym("W_hn h_prev", t, U), Sym("b_hn", None, U)),)),
                            Num(v(hn))))
            else:
                back = W_hn.T @ da_n
                factors = ((Sym("W_hn^T dL/da_n", t, U), Num(v(back))),
                           (Sym("h_prev", t, U), Num(v(s.h_prev))))
    symbolic = Prod((*(f[0] for f in factors), fn))
    numeric = Prod((*(f[1] for f in factors), Num(sl)))
    return Line(Sym(f"dL/da_{gate}", t, U), (symbolic, numeric, Num(value)), where)
