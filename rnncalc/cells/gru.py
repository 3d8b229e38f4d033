r"""GRU cell, as ``torch.nn.GRUCell`` (gate order r, z, n), with both candidate forms.

.. math::
    r_t = \sigma(\mathrm{clip}(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}))
    z_t = \sigma(\mathrm{clip}(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}))
    n_t = \tanh(\mathrm{clip}(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})))
          (reset after, PyTorch)   or
    n_t = \tanh(\mathrm{clip}(W_{in} x_t + b_{in} + W_{hn} (r_t \odot h_{t-1}) + b_{hn}))
          (reset before, 2014 paper, d2l, ONNX default)
    h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}
          (z weights the previous state; some sheets: h_t = z_t n_t + (1 - z_t) h_{t-1})

``r`` is the reset gate, ``z`` the update gate, ``n`` the candidate state; ``\sigma`` is the
``gate`` activation and ``\tanh`` the ``candidate`` activation (ONNX's f, g); ``\odot`` the
element-wise product. ``weight_ih`` stacks ``W_ir|W_iz|W_in`` and ``weight_hh`` stacks
``W_hr|W_hz|W_hn``. PyTorch departs from the 2014 paper by applying ``r_t`` after the recurrent
product ``W_hn h_{t-1} + b_hn``; ``Formulation.reset_after`` chooses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rnncalc.arrays import chunks, namespace
from rnncalc.cells._diagram import Box, Diagram, Link, Op
from rnncalc.cells._spec import CellGrad, CellSpec, Params, Product, StepOut, arg, clip, passed
from rnncalc.cells.activations import apply, slope

if TYPE_CHECKING:
    import torch

    from rnncalc.expr import Expr, Line

GATES = ("r", "z", "n")


def step(p: Params, x: torch.Tensor, h_prev: torch.Tensor, c_prev: torch.Tensor | None,
         form: Any) -> StepOut:
    sigma, g_act = form.activations
    W_ir, W_iz, W_in = chunks(p.weight_ih, 3, axis=0)
    W_hr, W_hz, W_hn = chunks(p.weight_hh, 3, axis=0)
    b_ir, b_iz, b_in = chunks(p.bias_ih, 3)
    b_hr, b_hz, b_hn = chunks(p.bias_hh, 3)
    pre = {
        "r": clip(x @ W_ir.T + b_ir + h_prev @ W_hr.T + b_hr, form.clip),
        "z": clip(x @ W_iz.T + b_iz + h_prev @ W_hz.T + b_hz, form.clip),
    }
    act = {gate: apply(sigma, a) for gate, a in pre.items()}
    r, z = act["r"], act["z"]
    if form.reset_after:
        pre["n"] = clip(x @ W_in.T + b_in + r * (h_prev @ W_hn.T + b_hn), form.clip)
    else:
        pre["n"] = clip(x @ W_in.T + b_in + (r * h_prev) @ W_hn.T + b_hn, form.clip)
    act["n"] = n = apply(g_act, pre["n"])
    h = ((1 - z) * n + z * h_prev if form.z_weights == "previous"  # PyTorch, Keras, ONNX
         else z * n + (1 - z) * h_prev)
    return StepOut(pre=pre, act=act, h=h, c=None)


def blocks(ex: Any, p: Params, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor | None
           ) -> tuple[dict[str, Any], dict[str, Any], Any, Any]:
    r"""PyTorch's GRU (:func:`step`, reset after) on the whole block:

    .. math::
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))

    ``h_t = (1 - z_t) n_t + z_t h_{t-1}`` comes from the fused kernel. The input's part of every
    pre-activation is one matrix product into the ``[T, 3H]`` block of ``pre``; the recurrent
    part ``W_{hh} h_{t-1} + b_{hh}`` is one matrix product into the block of ``act``, which each
    activation then overwrites once its part is used (memory: the trace alone).
    """
    import torch

    from rnncalc.cells._blocks import states

    h_all = states(torch.gru, p, x, h0)
    hidden = h0.shape[0]
    a = torch.addmm(p.bias_ih, x, p.weight_ih.T)  # W_i x_t + b_i, then the pre-activations
    gates = torch.addmm(p.bias_hh, h_all[:-1], p.weight_hh.T)  # W_h h_{t-1} + b_h, then act
    pre = dict(zip(("r", "z", "n"), a.chunk(3, dim=1), strict=True))
    act = dict(zip(("r", "z", "n"), gates.chunk(3, dim=1), strict=True))
    a[:, :2 * hidden] += gates[:, :2 * hidden]
    torch.sigmoid(a[:, :2 * hidden], out=gates[:, :2 * hidden])  # r and z
    pre["n"].addcmul_(act["r"], act["n"])  # act["n"] still holds W_hn h_{t-1} + b_hn
    torch.tanh(pre["n"], out=act["n"])
    return pre, act, h_all[1:], None


def backward(p: Params, s: Any, dh: torch.Tensor, dc_future: torch.Tensor | None,
             form: Any) -> CellGrad:
    r"""GRU, both candidate forms (:func:`step`).

    .. math::
        \delta n = \delta h \odot (1 - z)      \delta z = \delta h \odot (h_{t-1} - n)
        (z weighting the candidate: \delta n = \delta h \odot z, \delta z = \delta h (n - h_{t-1}))
        \delta a^n = \delta n \odot \phi'(a^n)      \delta a^z = \delta z \odot \sigma'(a^z)
        reset after:  \delta a^r = \delta a^n \odot (W_{hn} h_{t-1} + b_{hn}) \odot \sigma'(a^r),
                      hidden side of n: \delta a^n \odot r, read from h_{t-1}
        reset before: \delta a^r = (W_{hn}^\top \delta a^n) \odot h_{t-1} \odot \sigma'(a^r),
                      hidden side of n: \delta a^n, read from r \odot h_{t-1}
        \delta h^{fut}_{t-1} = \delta h \odot z (or 1 - z) + W_{hr}^\top \delta a^r
                               + W_{hz}^\top \delta a^z + (hidden side of n, back to h_{t-1})
    """
    sigma, n_act = form.activations
    r, z, n = s.act["r"], s.act["z"], s.act["n"]
    W_hr, W_hz, W_hn = chunks(p.weight_hh, 3, axis=0)
    b_hn = chunks(p.bias_hh, 3)[2]
    previous = form.z_weights == "previous"
    dn, dz = (dh * (1 - z), dh * (s.h_prev - n)) if previous else (dh * z, dh * (n - s.h_prev))
    direct = dh * (z if previous else 1 - z)
    da_n = dn * passed(slope(n_act, s.pre["n"], n), s.pre["n"], form.clip)
    da_z = dz * passed(slope(sigma, s.pre["z"], z), s.pre["z"], form.clip)
    d_r = passed(slope(sigma, s.pre["r"], r), s.pre["r"], form.clip)
    if form.reset_after:
        da_r = da_n * (W_hn @ s.h_prev + b_hn) * d_r
        da_hn, n_reads, back_n = da_n * r, s.h_prev, W_hn.T @ (da_n * r)
    else:
        da_r = (W_hn.T @ da_n) * s.h_prev * d_r
        da_hn, n_reads, back_n = da_n, r * s.h_prev, r * (W_hn.T @ da_n)
    concat = namespace(dh).concat
    da, da_h = concat([da_r, da_z, da_n]), concat([da_r, da_z, da_hn])
    dh_prev = direct + W_hr.T @ da_r + W_hz.T @ da_z + back_n
    reads = s.h_prev if form.reset_after else (s.h_prev, s.h_prev, n_reads)
    return CellGrad({"r": da_r, "z": da_z, "n": da_n}, None, da, da_h, dh_prev, None,
                    {"weight_ih": Product(da, s.x), "weight_hh": Product(da_h, reads)},
                    p.weight_ih)


def explain(sheet: Any) -> Iterator[Line]:
    """r and z unit by unit, then n (r inside, as the form has it), then h."""
    # imported here: only --explain's lines build expressions (a plain run starts sooner)
    from rnncalc.expr import Diff, Line, Num, Prod, Sum, Sym

    ex, w, s, where = sheet.ex, sheet.w, sheet.s, sheet.where
    form = ex.formulation
    sigma, cand = form.activations
    H = ex.hidden_size
    for gi, gate in enumerate(("r", "z")):
        for j in range(H):
            yield sheet.gate_line(gate, j, sigma, sheet.linear(gi, j))
    for j in range(H):
        row = 2 * H + j
        b_in, b_hn = sheet.bias(row) if ex.bias else (Num(0.0), Num(0.0))
        inputs = (*sheet.dot(w.weight_ih[row], s.x), b_in)
        r = s.act["r"]
        if form.reset_after:
            recurrent: tuple[Expr, ...] = (Prod((Num(r[j]), Sum(
                (sheet.dot(w.weight_hh[row], s.h_prev), (b_hn,))))),)
        else:
            recurrent = (*(Prod((Num(wk), Num(r[k]), Num(h))) for k, (wk, h) in
                           enumerate(zip(w.weight_hh[row], s.h_prev, strict=True))), b_hn)
        yield sheet.gate_line("n", j, cand, (inputs, recurrent))
    for j in range(H):
        z, n, hp = Sym("z", s.t, j), Sym("n", s.t, j), Sym("h", s.prev_t, j)
        zv, nv, hv = Num(s.act["z"][j]), Num(s.act["n"][j]), Num(s.h_prev[j])
        if form.z_weights == "previous":
            sym = Sum(((Prod((Diff(Num(1.0), z), n)), Prod((z, hp))),))
            num = Sum(((Prod((Diff(Num(1.0), zv), nv)), Prod((zv, hv))),))
        else:
            sym = Sum(((Prod((z, n)), Prod((Diff(Num(1.0), z), hp))),))
            num = Sum(((Prod((zv, nv)), Prod((Diff(Num(1.0), zv), hv))),))
        yield Line(Sym("h", s.t, j), (sym, num, Num(s.h[j])), where("h", j))


def equations(form: Any, names: dict[str, str], clip: Any, b: Any) -> list[str]:
    lines: list[str] = []
    s, g = names["gate"], names["candidate"]
    for gate in ("r", "z"):
        a = arg(f"W_i{gate} x_t", b(f"b_i{gate}"), f"W_h{gate} h_{{t-1}}", b(f"b_h{gate}"))
        lines.append(f"{gate}_t = {s}({clip(a)})")
    if form.reset_after:
        inner = arg("W_hn h_{t-1}", b("b_hn"))
        rec = f"r_t * ({inner})"
        lines.append(f"n_t = {g}({clip(arg('W_in x_t', b('b_in'), rec))})")
    else:
        a = arg("W_in x_t", b("b_in"), "W_hn (r_t * h_{t-1})", b("b_hn"))
        lines.append(f"n_t = {g}({clip(a)})")
    lines.append("h_t = (1 - z_t) * n_t + z_t * h_{t-1}" if form.z_weights == "previous"
                 else "h_t = z_t * n_t + (1 - z_t) * h_{t-1}")
    return lines


def symbols(form: Any, bias: bool) -> tuple[list[str], list[str]]:
    lines = ["  W_i?     [H, H_in] input weights of gate ? in r, z, n; W_h? [H, H] recurrent"]
    if bias:
        lines.append("  b_i?, b_h?  input and recurrent biases, [H] (a one-bias sheet: b_h? = 0)")
    note = "  GRU: reset gate applied " + (
        "after the recurrent product (PyTorch, Keras reset_after=True, ONNX "
        "linear_before_reset=1)" if form.reset_after else "before the recurrent product (2014 "
        "paper, d2l, Keras reset_after=False, ONNX default)")
    return lines, [note]


def details(form: Any) -> list[str]:
    return ["reset after" if form.reset_after else "reset before",
            "h = (1-z)n + z h_prev" if form.z_weights == "previous" else "h = z n + (1-z) h_prev"]


def grad_factors(form: Any, s: Any, g: Any, k: int, gate: str, u: int, t: int, p: Any
                 ) -> tuple[tuple[Any, Any], ...]:
    """n: ``dL/dh_t * (1 - z_t)``; z: ``dL/dh_t * (h_{t-1} - n_t)``; r: through n's recurrent
    part (reset after) or ``W_hn^T dL/da_n * h_{t-1}`` (reset before)."""
    # imported here: only --explain's lines build expressions (a plain run starts sooner)
    from rnncalc.expr import Diff, Num, Sum, Sym

    def v(x: Any) -> float:
        return float(x[u])

    dh = v(g.dh[k])
    z, n = v(s.act["z"]), v(s.act["n"])
    previous = form.z_weights == "previous"
    if gate == "n":
        return ((Sym("dL/dh", t, u), Num(dh)),
                (Diff(Num(1.0), Sym("z", t, u)) if previous else Sym("z", t, u),
                 Num(1 - z if previous else z)))
    if gate == "z":
        diff = v(s.h_prev) - n if previous else n - v(s.h_prev)
        h_prev, n_sym = Sym("h_prev", t, u), Sym("n", t, u)
        return ((Sym("dL/dh", t, u), Num(dh)),
                (Diff(h_prev, n_sym) if previous else Diff(n_sym, h_prev), Num(diff)))
    H = s.h.shape[-1]
    W_hn = p.weight_hh[2 * H:]
    da_n = g.dpre["n"][k]
    if form.reset_after:
        hn = W_hn @ s.h_prev + p.bias_hh[2 * H:]
        return ((Sym("dL/da_n", t, u), Num(v(da_n))),
                (Sum(((Sym("W_hn h_prev", t, u), Sym("b_hn", None, u)),)), Num(v(hn))))
    back = W_hn.T @ da_n
    return ((Sym("W_hn^T dL/da_n", t, u), Num(v(back))),
            (Sym("h_prev", t, u), Num(v(s.h_prev))))


def grad_reads(form: Any, gate: str, s: Any, c: int, t: int) -> tuple[Any, Any] | None:
    """Reset before: n's recurrent product reads ``r_t * h_{t-1}``."""
    # imported here: only --explain's lines build expressions (a plain run starts sooner)
    from rnncalc.expr import Num, Prod, Sym

    if gate != "n" or form.reset_after:
        return None
    return (Prod((Sym("r", t, c), Sym("h_prev", t, c))),
            Num(float(s.act["r"][c] * s.h_prev[c])))


def recompute(form: Any, mine: Any, values: dict[Any, float], cross: dict[Any, float],
              h_prev: Any, c_prev: Any, H: int) -> None:
    """``check``: h_t from the student's own z_t and n_t."""
    for j in range(H):
        z, n, hp = mine("act", "z", j), mine("act", "n", j), float(h_prev[j])
        values[("h", j)] = ((1 - z) * n + z * hp if form.z_weights == "previous"
                            else z * n + (1 - z) * hp)


def variants(form: Any) -> list[tuple[str, Any]]:
    """``check``'s slips of convention: the other reset form, z and 1 - z swapped."""
    side = "before" if form.reset_after else "after"
    other = "candidate" if form.z_weights == "previous" else "previous"
    return [(f"the reset gate applied {side} the product W_hn h (the other convention)",
             form.with_options(reset_after=not form.reset_after)),
            ("z and 1 - z swapped in h_t", form.with_options(z_weights=other))]


# colah's GRU figure: h along the top; r scales the candidate's recurrent part (PyTorch) or
# h_{t-1} (reset before), drawn as one × into the candidate's box (drawn by rnncalc.pictures).
DIAGRAM = Diagram(
    state="h",
    boxes=(Box("r", 1, "gate"), Box("z", 2, "gate"), Box("n", 4, "candidate")),
    ops=(Op("zh", "×", 2, 0), Op("one_minus", "1−", 3, 1), Op("zn", "×", 4, 1),
         Op("add", "+", 4, 0), Op("rn", "×", 3.3, 1.8)),
    links=(Link("h_{t-1}", "zh", "h"), Link("z", "zh", "v"), Link("z", "one_minus", "vh"),
           Link("one_minus", "zn", "h"), Link("n", "zn", "v"), Link("zn", "add", "v"),
           Link("zh", "add", "h"), Link("add", "h_t", "h"), Link("r", "rn", "vh"),
           Link("rn", "n", "vh")),
    out_row=0, cols=5,
)

# h_t = z_t n_t + (1 - z_t) h_{t-1} (z_weights: candidate): 1 − z scales h_{t-1}, z the candidate.
DIAGRAM_CANDIDATE = Diagram(
    state="h",
    boxes=DIAGRAM.boxes,
    ops=(Op("zh", "×", 2, 0), Op("one_minus", "1−", 2, 0.5), Op("zn", "×", 4, 1),
         Op("add", "+", 4, 0), Op("rn", "×", 3.3, 1.8)),
    links=(Link("h_{t-1}", "zh", "h"), Link("z", "one_minus", "v"), Link("one_minus", "zh", "v"),
           Link("z", "zn", "vh"), Link("n", "zn", "v"), Link("zn", "add", "v"),
           Link("zh", "add", "h"), Link("add", "h_t", "h"), Link("r", "rn", "vh"),
           Link("rn", "n", "vh")),
    out_row=0, cols=5,
)


def _diagram(form: Any) -> Diagram:
    return DIAGRAM if form.z_weights == "previous" else DIAGRAM_CANDIDATE

SPEC = CellSpec(
    diagram=_diagram,
    name="gru", title="GRU",
    sketch="h_t = (1 - z_t) * n_t + z_t * h_(t-1)",
    help="GRU (gates r, z, n; PyTorch's equations unless the config or --convention says "
         "otherwise): every gate and h_t.",
    examples="rnncalc gru --step-by-step  ·  rnncalc gru --compare-conventions  ·  "
             "rnncalc gru -c configs/gru_d2l.yaml",
    gates=GATES, labels={"r": "r  reset", "z": "z  update", "n": "n  candidate"},
    roles=("gate", "candidate"), activations=("sigmoid", "tanh"),
    step=step, equations=equations, symbols=symbols, backward=backward, explain=explain,
    options=("reset_after", "z_weights"), details=details,
    orders={"pytorch": GATES, "keras": ("z", "r", "n"), "onnx": ("z", "r", "n"), "tf1": GATES,
            "d2l": ("z", "r", "n")},
    gate_roles={"r": "gate", "z": "gate", "n": "candidate"},
    words={"r": "reset gate", "z": "update gate", "n": "candidate"},
    order="rznh", recompute=recompute, variants=variants, d2l={"r": "r", "z": "z", "n": "h"},
    grad_factors=grad_factors, grad_reads=grad_reads, split_hidden=frozenset({"n"}),
    fused=frozenset({("sigmoid", "tanh")}), blocks=blocks, seed="configs/gru.yaml",
)
