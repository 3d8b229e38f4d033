r"""LSTM cell, as ``torch.nn.LSTMCell`` (gate order i, f, g, o), with ONNX's and TF1's options.

.. math::
    i_t = \sigma(\mathrm{clip}(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi} + p_i \odot c_{t-1}))
    f_t = \sigma(\mathrm{clip}(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf} + p_f \odot c_{t-1}
          + b_{forget}))
    g_t = \tanh(\mathrm{clip}(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}))
    c_t = f_t \odot c_{t-1} + i_t \odot g_t
    o_t = \sigma(\mathrm{clip}(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho} + p_o \odot c_t))
    m_t = o_t \odot \tanh(c_t)
    h_t = W_{hr} m_t     (with a projection; otherwise h_t = m_t)

``i`` is the input ("add") gate, ``f`` the forget gate, ``g`` the cell candidate, ``o`` the output
gate; ``\odot`` the element-wise product. ``\sigma`` is the ``gate`` activation, the ``tanh`` of
``g_t`` the ``cell_input`` activation and the ``tanh`` of ``c_t`` the ``cell_output`` activation
(ONNX's f, g, h). ``weight_ih`` stacks ``W_ii|W_if|W_ig|W_io`` and ``weight_hh`` stacks
``W_hi|W_hf|W_hg|W_ho``. ``pre[gate]`` is the argument of the gate's activation, ``act[gate]``
its value.

Options (all off in PyTorch's formulation): peepholes ``p_i, p_f, p_o`` (ONNX's placement: i and
f read ``c_{t-1}``, o reads ``c_t``); ``clip`` clamps each pre-activation after its biases and
peepholes (as onnxruntime; ``c_t`` itself is not clipped); ``forget_bias`` (TF1) is added to the
forget gate's pre-activation at every step; ``input_forget`` (ONNX) couples the gates:
``f_t = 1 - i_t`` (``pre["f"]`` is then still the forget gate's own, unused, pre-activation);
``weight_hr`` is PyTorch's ``proj_size`` projection, recorded as ``m`` before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rnncalc.arrays import chunks, namespace
from rnncalc.cells._diagram import Box, Diagram, Link, Op
from rnncalc.cells._spec import (
    CellGrad,
    CellSpec,
    Params,
    Product,
    StepOut,
    arg,
    clip,
    finish,
    passed,
)
from rnncalc.cells.activations import apply, num, slope

if TYPE_CHECKING:
    import torch

    from rnncalc.expr import Line, Where

GATES = ("i", "f", "g", "o")


def step(p: Params, x: torch.Tensor, h_prev: torch.Tensor, c_prev: torch.Tensor | None,
         form: Any) -> StepOut:
    assert c_prev is not None
    sigma, g_act, h_act = form.activations
    a = x @ p.weight_ih.T + p.bias_ih + h_prev @ p.weight_hh.T + p.bias_hh
    pre = dict(zip(GATES, chunks(a, 4), strict=True))
    if p.peephole is not None:
        pre["i"] = pre["i"] + p.peephole[0] * c_prev
        pre["f"] = pre["f"] + p.peephole[1] * c_prev
    if form.forget_bias:
        pre["f"] = pre["f"] + form.forget_bias
    for gate in ("i", "f", "g"):
        pre[gate] = clip(pre[gate], form.clip)
    act = {"i": apply(sigma, pre["i"])}
    act["f"] = 1 - act["i"] if form.input_forget else apply(sigma, pre["f"])
    act["g"] = apply(g_act, pre["g"])
    c = act["f"] * c_prev + act["i"] * act["g"]
    if p.peephole is not None:
        pre["o"] = pre["o"] + p.peephole[2] * c
    pre["o"] = clip(pre["o"], form.clip)
    act["o"] = apply(sigma, pre["o"])
    m = act["o"] * apply(h_act, c)
    if p.weight_hr is None:
        return StepOut(pre=pre, act=act, h=m, c=c)
    return StepOut(pre=pre, act=act, h=m @ p.weight_hr.T, c=c, extra={"m": m})


def blocks(ex: Any, p: Params, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor | None
           ) -> tuple[dict[str, Any], dict[str, Any], Any, Any]:
    r"""PyTorch's LSTM (:func:`step` with every option off) on the whole block:

    .. math::
        a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}    (stacked i | f | g | o)
        i_t = \sigma(a_{i,t}),  f_t = \sigma(a_{f,t}),  g_t = \tanh(a_{g,t}),  o_t = \sigma(a_{o,t})
        c_t = f_t \odot c_{t-1} + i_t \odot g_t

    ``h_t = o_t \odot \tanh(c_t)`` of every step comes from the fused kernel, ``c_t`` from
    :func:`linear_scan`. The pre-activations are two matrix products straight into one
    ``[T, 4H]`` block, ``pre[gate]`` a ``[T, H]`` view of it; the activations go into one
    ``[4, T, H]`` block, ``act[gate]`` a contiguous ``[T, H]`` part of it (memory: the trace,
    one ``[T, H]`` block for the scan's products and the kernel's temporaries for one slice).
    """
    import torch

    from rnncalc.cells._blocks import SLICES, linear_scan, states

    assert c0 is not None
    # one call for float32 (oneDNN's kernel packs the weights again at every call: 8 calls took
    # 1.3x the time of one at 512 units); its temporaries are smaller
    h_all = states(torch.lstm, p, x, h0, c0, 1 if x.dtype == torch.float32 else SLICES)
    a = torch.addmm(p.bias_ih + p.bias_hh, x, p.weight_ih.T).addmm_(h_all[:-1], p.weight_hh.T)
    pre = dict(zip(GATES, a.chunk(4, dim=1), strict=True))
    # gate by gate, so that each act[gate] is contiguous: the activations write, and the scan
    # reads, whole rows (at 64 units this took the activations and scan from 1.8 to 1.5 ms)
    act = dict(zip(GATES, a.new_empty(4, *pre["i"].shape).unbind(0), strict=True))
    for gate in ("i", "f", "o"):
        torch.sigmoid(pre[gate], out=act[gate])
    torch.tanh(pre["g"], out=act["g"])
    c = torch.mul(act["i"], act["g"])  # i_t g_t, then c_t
    return pre, act, h_all[1:], linear_scan(act["f"], c, c0)


def backward(p: Params, s: Any, dh: torch.Tensor, dc_future: torch.Tensor | None,
             form: Any) -> CellGrad:
    r"""The LSTM's backward step (gate order i, f, g, o), with any activation per role:
    ``\sigma`` (gates), the cell input's (``g``) and the cell output's (``\tanh c``).

    **LSTM** (``c_t = f_t c_{t-1} + i_t g_t``, ``h_t = o_t \tanh c_t``):

    .. math::
        \delta c_t = \delta h_t \odot o_t \odot (1 - \tanh^2 c_t) + \delta c^{fut}_t
        \delta a^o_t = \delta h_t \odot \tanh c_t \odot o_t (1 - o_t)
        \delta a^i_t = \delta c_t \odot g_t \odot i_t (1 - i_t)
        \delta a^f_t = \delta c_t \odot c_{t-1} \odot f_t (1 - f_t)
        \delta a^g_t = \delta c_t \odot i_t \odot (1 - g_t^2)
        \delta c^{fut}_{t-1} = \delta c_t \odot f_t

    **Options** (ONNX, TF1, PyTorch's ``proj_size``): peepholes add ``p_o \odot \delta a^o_t``
    to ``\delta c_t`` and ``p_i \odot \delta a^i_t + p_f \odot \delta a^f_t`` to
    ``\delta c^{fut}_{t-1}``, with contributions ``\delta a^i_t c_{t-1}, \delta a^f_t c_{t-1},
    \delta a^o_t c_t`` to ``peephole`` (rows ``p_i, p_f, p_o``); ``input_forget``
    (``f_t = 1 - i_t``) gives ``\delta a^i_t = \delta c_t (g_t - c_{t-1}) \sigma'`` and no
    ``\delta a^f``; a projection ``h_t = W_{hr} m_t`` gives ``\delta m_t = W_{hr}^\top \delta h_t``
    (which takes the place of ``\delta h_t`` above) and contributions ``\delta h_t \otimes m_t``
    to ``weight_hr``;
    ``forget_bias`` is a constant.
    """
    assert s.c is not None and s.c_prev is not None and dc_future is not None
    sigma, g_act, h_act = form.activations
    i, f, g, o = (s.act[k] for k in GATES)
    extra = {}
    if p.weight_hr is not None:  # h_t = W_hr m_t: the cell's own output is m_t
        extra["weight_hr"] = Product(dh, s.extra["m"])
        dh = p.weight_hr.T @ dh
    d = {k: passed(slope(act, s.pre[k], s.act[k]), s.pre[k], form.clip)
         for k, act in zip(GATES, (sigma, sigma, g_act, sigma), strict=True)}  # da/d(gate)
    out_c = apply(h_act, s.c)
    dpre = {"o": dh * out_c * d["o"]}
    dc = dh * o * slope(h_act, s.c, out_c) + dc_future
    if p.peephole is not None:  # o_t reads c_t
        dc = dc + p.peephole[2] * dpre["o"]
    if form.input_forget:  # f_t = 1 - i_t
        dpre["i"] = dc * (g - s.c_prev) * d["i"]
        dpre["f"] = namespace(dc).zeros_like(dc)
    else:
        dpre["i"] = dc * g * d["i"]
        dpre["f"] = dc * s.c_prev * d["f"]
    dpre["g"] = dc * i * d["g"]
    dc_prev = dc * f
    if p.peephole is not None:  # i_t and f_t read c_{t-1}
        dc_prev = dc_prev + p.peephole[0] * dpre["i"] + p.peephole[1] * dpre["f"]
        stack = namespace(dc).stack
        extra["peephole"] = Product(stack([dpre["i"], dpre["f"], dpre["o"]]),
                                    stack([s.c_prev, s.c_prev, s.c]), elementwise=True)
    return finish(p, s, {k: dpre[k] for k in GATES}, dc, dc_prev, extra)


def explain(sheet: Any) -> Iterator[Line]:
    """i, f, g unit by unit, then c, o, and h (or m and the projection's h)."""
    # imported here: only --explain's lines build expressions (a plain run starts sooner)
    from rnncalc.expr import Call, Diff, Line, Num, Prod, Sum, Sym

    ex, w, s, where = sheet.ex, sheet.w, sheet.s, sheet.where
    form = ex.formulation
    sigma, g_act, h_act = form.activations
    H = ex.hidden_size
    assert s.c_prev is not None and s.c is not None
    for gi, gate in enumerate(("i", "f", "g")):
        for j in range(H):
            if gate == "f" and form.input_forget:
                i_sym = Sym("i", s.t, j)
                yield Line(Sym("f", s.t, j), (Diff(Num(1.0), i_sym),
                           Diff(Num(1.0), Num(s.act["i"][j])), Num(s.act["f"][j])), where("f", j))
                continue
            groups = sheet.linear(gi, j)
            if form.peepholes and w.peephole is not None and gate != "g":
                groups += ((Prod((Num(w.peephole[gi][j]), Num(s.c_prev[j]))),),)
            if gate == "f" and form.forget_bias:
                groups += ((Num(form.forget_bias),),)
            fn = g_act if gate == "g" else sigma
            yield sheet.gate_line(gate, j, fn, groups)
    for j in range(H):
        yield Line(Sym("c", s.t, j), (
            Sum(((Prod((Sym("f", s.t, j), Sym("c", s.prev_t, j))),
                  Prod((Sym("i", s.t, j), Sym("g", s.t, j)))),)),
            Sum(((Prod((Num(s.act["f"][j]), Num(s.c_prev[j]))),
                  Prod((Num(s.act["i"][j]), Num(s.act["g"][j])))),)),
            Num(s.c[j])), where("c", j))
    for j in range(H):
        groups = sheet.linear(3, j)
        if form.peepholes and w.peephole is not None:
            groups += ((Prod((Num(w.peephole[2][j]), Num(s.c[j]))),),)
        yield sheet.gate_line("o", j, sigma, groups)
    out = "m" if s.m is not None else "h"
    values = s.m if s.m is not None else s.h
    for j in range(H):
        squashed = sheet.activation(h_act, s.c[j])
        yield Line(Sym(out, s.t, j), (
            Prod((Sym("o", s.t, j), Call(h_act.name, Sym("c", s.t, j)))),
            Prod((Num(s.act["o"][j]), Call(h_act.name, Num(s.c[j])))),
            Prod((Num(s.act["o"][j]), Num(squashed))),
            Num(values[j])), where(out, j))
    if s.m is not None and w.weight_hr is not None:
        for j, row in enumerate(w.weight_hr):
            yield Line(Sym("h", s.t, j), (Sum((sheet.dot(row, s.m),)), Num(s.h[j])),
                       where("h", j))


def equations(form: Any, names: dict[str, str], clip: Any, b: Any) -> list[str]:
    lines: list[str] = []
    s, g, h = names["gate"], names["cell_input"], names["cell_output"]
    h_prev = "h_{t-1}"

    def pre(gate: str, *extra: str) -> str:
        return clip(arg(f"W_i{gate} x_t", b(f"b_i{gate}"), f"W_h{gate} {h_prev}",
                         b(f"b_h{gate}"), *extra))

    peep = form.peepholes
    lines.append(f"i_t = {s}({pre('i', 'p_i * c_{t-1}' if peep else '')})")
    if form.input_forget:
        lines.append("f_t = 1 - i_t")
    else:
        fb = f"{num(form.forget_bias)}" if form.forget_bias else ""
        lines.append(f"f_t = {s}({pre('f', 'p_f * c_{t-1}' if peep else '', fb)})")
    lines.append(f"g_t = {g}({pre('g')})")
    lines.append("c_t = f_t * c_{t-1} + i_t * g_t")
    lines.append(f"o_t = {s}({pre('o', 'p_o * c_t' if peep else '')})")
    if form.projection:
        lines.append(f"m_t = o_t * {h}(c_t)")
        lines.append("h_t = W_hr m_t")
    else:
        lines.append(f"h_t = o_t * {h}(c_t)")
    return lines


def symbols(form: Any, bias: bool) -> tuple[list[str], list[str]]:
    h_size = "P" if form.projection else "H"
    lines = ["  c_{t-1}  previous cell state, [H]",
             f"  W_i?     [H, H_in] input weights of gate ? in i, f, g, o; W_h? [H, {h_size}] "
             "recurrent"]
    if bias:
        lines.append("  b_i?, b_h?  input and recurrent biases, [H] (a one-bias sheet: b_h? = 0)")
    if form.peepholes:
        lines.append("  p_i, p_f, p_o  peephole weights, [H], multiplied element-wise")
    if form.projection:
        lines.append("  W_hr     [P, H] projection; h_t has P units (PyTorch proj_size)")
    return lines, []


def details(form: Any) -> list[str]:
    parts = [f"forget_bias {num(form.forget_bias)}"] if form.forget_bias else []
    return parts + [w for w, on in (("peepholes", form.peepholes),
                                    ("input_forget", form.input_forget),
                                    ("projection", form.projection)) if on]


def grad_factors(form: Any, s: Any, g: Any, k: int, gate: str, u: int, t: int, p: Any
                 ) -> tuple[tuple[Any, Any], ...]:
    """o: ``dL/dh_t * h(c_t)``; i: ``dL/dc_t * g_t``; f: ``dL/dc_t * c_{t-1}``;
    g: ``dL/dc_t * i_t``."""
    # imported here: only --explain's lines build expressions (a plain run starts sooner)
    from rnncalc.expr import Num, Sym

    dh, dc = float(g.dh[k][u]), None if g.dc is None else float(g.dc[k][u])
    other = {"i": ("g", s.act["g"]), "f": ("c_prev", s.c_prev), "g": ("i", s.act["i"]),
             "o": (f"{form.activations[2].name}(c)", None)}[gate]
    first = (Sym("dL/dh", t, u), Num(dh)) if gate == "o" else (Sym("dL/dc", t, u), Num(dc or 0.0))
    second = float((other[1] if other[1] is not None else apply(form.activations[2], s.c))[u])
    return (first, (Sym(other[0], t, u), Num(second)))


def grad_state(form: Any, s: Any, g: Any, k: int, u: int, t: int, where: Where) -> list[Line]:
    """``grad --explain``'s line for the cell state: ``dL/dc_t = dL/dh_t * o_t * h'(c_t) +
    dL/dc(fut)``, the second term what ``c_{t+1}`` passes back through ``f_{t+1}``."""
    # imported here: only --explain's lines build expressions (a plain run starts sooner)
    from rnncalc.expr import Call, Line, Num, Prod, Sum, Sym

    if g.dc is None:
        return []
    v = lambda x: float(x[u])  # noqa: E731
    h_act = form.activations[2]
    sl = v(slope(h_act, s.c, apply(h_act, s.c)))
    return [Line(Sym("dL/dc", t, u), (
        Sum(((Prod((Sym("dL/dh", t, u), Sym("o", t, u), Call(f"{h_act.name}'", Sym("c", t, u)))),
              Sym("dL/dc(fut)", t, u)),)),
        Sum(((Prod((Num(v(g.dh[k])), Num(v(s.act["o"])), Num(sl))), Num(v(g.dc_future[k]))),)),
        Num(v(g.dc[k]))), where)]


def recompute(form: Any, mine: Any, values: dict[Any, float], cross: dict[Any, float],
              h_prev: Any, c_prev: Any, H: int) -> None:
    """``check``: c_t from the student's own gates, h_t from their own c_t (no peepholes)."""
    import torch

    if form.input_forget:  # f_t = 1 - i_t: not an activation of f's own pre-activation
        values.update({q: v for q, v in cross.items() if q[:2] == ("act", "f")})
    if c_prev is None or form.peepholes:
        return
    for j in range(H):
        f, i, g = (mine("act", gate, j) for gate in ("f", "i", "g"))
        values[("c", j)] = f * float(c_prev[j]) + i * g
        if not form.projection:
            squash = float(apply(form.activations[2], torch.tensor([mine("c", j)],
                                                                  dtype=torch.float64))[0])
            values[("h", j)] = mine("act", "o", j) * squash


def state_slips(ex: Any, tr: Any, k: int, field: str, j: int) -> list[tuple[str, float]]:
    """c_t with f and i exchanged; h_t without the tanh of c_t (PyTorch's lstm only)."""
    if ex.formulation.peepholes or ex.formulation.projection:
        return []
    c_prev = tr.c_prev
    if c_prev is None or tr.c is None:
        return []
    i, f, g, o = (float(tr.act[gate][k, j]) for gate in "ifgo")
    if field == "c":
        return [("matches i*c_{t-1} + f*g: the forget and input gates exchanged in c_t?",
                 i * float(c_prev[k, j]) + f * g)]
    return [("matches o_t*c_t: the tanh of c_t left out?", o * float(tr.c[k, j]))]


# colah's LSTM figure: c along the top, the gates' boxes below it (drawn by rnncalc.pictures).
# With a projection the last × makes ``m_t`` and ``h_t = W_hr m_t`` leaves on the right.
DIAGRAM = Diagram(
    state="c",
    boxes=(Box("f", 1, "gate"), Box("i", 2, "gate"), Box("g", 3, "cell_input"),
           Box("o", 4, "gate")),
    ops=(Op("fc", "×", 1, 0), Op("ig", "×", 3, 1), Op("add", "+", 3, 0),
         Op("tanh_c", "", 5, 1, role="cell_output"), Op("oh", "×", 5, 2, value="m")),
    links=(Link("c_{t-1}", "fc", "h"), Link("f", "fc", "v"), Link("fc", "add", "h"),
           Link("i", "ig", "vh"), Link("g", "ig", "v"), Link("ig", "add", "v"),
           Link("add", "c_t", "h"), Link("add", "tanh_c", "hv"), Link("tanh_c", "oh", "v"),
           Link("o", "oh", "vh"), Link("oh", "h_t", "h")),
    out_row=2, cols=6,
)

SPEC = CellSpec(
    diagram=DIAGRAM,
    name="lstm", title="LSTM",
    sketch="c_t = f_t * c_(t-1) + i_t * g_t,  h_t = o_t * tanh(c_t)",
    help="LSTM (PyTorch's equations, gates i, f, g, o): every gate, c_t and h_t.",
    examples="rnncalc lstm --step-by-step  ·  rnncalc lstm -c configs/lstm.yaml --format json",
    gates=GATES,
    labels={"i": "i  input (add)", "f": "f  forget", "g": "g  cell candidate", "o": "o  output"},
    roles=("gate", "cell_input", "cell_output"), activations=("sigmoid", "tanh", "tanh"),
    step=step, equations=equations, symbols=symbols, backward=backward, explain=explain,
    options=("forget_bias", "peepholes", "input_forget", "projection"), details=details,
    orders={"pytorch": GATES, "keras": GATES, "onnx": ("i", "o", "f", "g"),
            "tf1": ("i", "g", "f", "o"), "d2l": ("i", "f", "o", "g")},
    gate_roles={"i": "gate", "f": "gate", "g": "cell_input", "o": "gate"},
    words={"i": "input gate", "f": "forget gate", "g": "cell candidate", "o": "output gate"},
    order="ifgcomh", recompute=recompute, grad_factors=grad_factors, state_slips=state_slips,
    grad_state=grad_state, d2l={"i": "i", "f": "f", "g": "c", "o": "o"},
    aliases={"per-gate": {f"{p}c": f"{p}g" for p in ("W_i", "W_h", "b_i", "b_h")},
             "concat": {"W_c": "W_g", "b_c": "b_g"}},
    alias_note="Coursera, colah: c is the candidate g",
    cell_state=True, fused=frozenset({("sigmoid", "tanh", "tanh")}), blocks=blocks,
)
