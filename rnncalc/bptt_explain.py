r"""The chain rule for one gradient element, written out with numbers (``rnncalc grad --explain``).

For an element ``P[r, c]`` of a layer's parameter (row ``r`` in gate block ``r // H``, unit
``u = r % H``), at every step of the recursion::

    dL/dh_t[u]  = dL/dh(out) + dL/dh(fut): from the output, from step t+1
    (the cell's own state, its lines from its module: lstm's dL/dc_t[u])
    dL/da_t[u]  = (the gate's own factors) * act'(a_t[u])  = value
    term_t      = dL/da_t[u] * (x_t[c] | h_{t-1}[c] | 1)   = value

then ``dL/dP[r, c] = sum of the terms``. The lines are :class:`rnncalc.explain.Line` data, so the
terminal, markdown and LaTeX renderers format them as they format the forward pass's arithmetic.
Every number is read from the trace and the :class:`~rnncalc.bptt.GradTrace`; the activation
slopes are those of :func:`rnncalc.bptt.slope`. ``[u]`` counts units from 0, as ``P[r, c]`` does.
"""

from __future__ import annotations

import re

from rnncalc.bptt import GradTrace, slope
from rnncalc.cells import spec
from rnncalc.engine import params as _params
from rnncalc.errors import ExitCode, RnncalcError
from rnncalc.explain import Call, Expr, Line, Num, Prod, Sum, Sym, Where
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
    values = grad.params[name]
    if values.dim() == 1:  # one recurrent weight per unit (indrnn)
        return f"{name}[{int(values.abs().argmax())}]"
    r, c = divmod(int(values.abs().argmax()), values.shape[1])
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
    where = Where("head", None, r)
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
        lines.append(Line(Sym("term", t), (Prod((Sym("dL/dz", t, r), Sym("h", t, c))),
                                           term, Num(dz * h)), where))
        terms.append(Num(dz * h))
    index = f"[{r},{c}]" if c is not None else f"[{r}]"
    lines.append(Line(Sym(f"dL/d{name}{index}"), (Sum((tuple(terms),)), Num(total)), where))
    return lines


def _chain(trace: Trace, grad: GradTrace, tr, g, p, kind: str, name: str, r: int,  # type: ignore[no-untyped-def]
           c: int | None, total: float) -> list[Line]:
    ex = trace.exercise
    form = ex.formulation
    cell = spec(ex.cell)
    H = tr.h.shape[-1]
    gate = g.gates[r // H]
    u = r % H
    hidden_side = kind.endswith("_hh")
    lines: list[Line] = []
    terms: list[Expr] = []
    for k, t in enumerate(g.positions):
        where = Where(gate, t, u, g.layer, g.direction)
        s = tr.step(tr.positions.index(t))
        v = lambda x: float(x[u])  # noqa: E731
        lines.append(Line(Sym("dL/dh", t, u), (
            Sum(((Sym("dL/dh(out)", t, u), Sym("dL/dh(fut)", t, u)),)),
            Sum(((Num(v(g.dh_out[k])), Num(v(g.dh_future[k]))),)), Num(v(g.dh[k]))), where))
        lines += cell.grad_state(form, s, g, k, u, t, where)
        lines.append(_gate_line(ex, form, s, g, k, gate, u, t, where, p))
        da_side = g.contrib["bias_hh" if hidden_side else "bias_ih"][k][r]
        if kind.startswith("bias"):
            factor: Expr = Num(1.0)
            reads: Expr = Num(1.0)
        elif c is None:  # a recurrent weight per unit (indrnn): unit u reads its own h_{t-1}[u]
            reads, factor = Sym("h_prev", t, u), Num(float(s.h_prev[u]))
        else:
            assert c is not None
            if not hidden_side:
                reads, factor = Sym("x", t, c), Num(float(s.x[c]))
            else:  # what the gate's recurrent product reads (a GRU's n before reset: r*h_prev)
                reads, factor = cell.grad_reads(form, gate, s, c, t) or (
                    Sym("h_prev", t, c), Num(float(s.h_prev[c])))
        value = float(g.contrib[kind][k][r] if c is None else g.contrib[kind][k][r, c])
        side = "dL/da" + ("(hidden)" if gate in cell.split_hidden and hidden_side else "")
        lines.append(Line(Sym("contribution", t), (
            Prod((Sym(f"{side}_{gate}", t, u), reads)),
            Prod((Num(float(da_side)), factor)), Num(value)), where))
        terms.append(Num(value))
    index = f"[{r},{c}]" if c is not None else f"[{r}]"
    lines.append(Line(Sym(f"dL/d{name}{index}"), (Sum((tuple(terms),)), Num(total)),
                      Where("total", g.positions[-1], u, g.layer, g.direction)))
    return lines


def _gate_line(ex, form, s, g, k: int, gate: str, u: int, t: int, where: Where,  # type: ignore[no-untyped-def]
               p) -> Line:
    """``dL/da_gate[u]`` as the product of its factors and the activation's slope."""
    v = lambda x: float(x[u])  # noqa: E731
    value = v(g.dpre[gate][k])
    act = form.act[spec(ex.cell).gate_roles[gate]]
    sl = v(slope(act, s.pre[gate], s.act[gate]))
    fn = Call(f"{act.name}'", Sym(f"a_{gate}", t, u))
    factors = spec(ex.cell).grad_factors(form, s, g, k, gate, u, t, p)
    symbolic = Prod((*(f[0] for f in factors), fn))
    numeric = Prod((*(f[1] for f in factors), Num(sl)))
    return Line(Sym(f"dL/da_{gate}", t, u), (symbolic, numeric, Num(value)), where)
