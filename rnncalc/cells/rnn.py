r"""Elman RNN cell, as ``torch.nn.RNNCell`` (ONNX ``RNN``).

.. math::
    a_t = \mathrm{clip}(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})
    h_t = f(a_t)

where ``f`` is the ``hidden`` activation (tanh by default; PyTorch's ``nonlinearity``, ONNX's
``f``), ``x_t`` is the input ``[H_in]``, ``h_{t-1}`` the previous hidden state ``[H]`` (zeros at
the first step unless given), and ``clip`` ONNX's optional clamp to ``[-clip, clip]``. The one
"gate" is named ``h``: ``pre["h"] = a_t``, ``act["h"] = h_t``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rnncalc.cells._diagram import Box, Diagram, Link
from rnncalc.cells._spec import CellGrad, CellSpec, Params, StepOut, arg, clip, finish, passed
from rnncalc.cells.activations import apply, slope

if TYPE_CHECKING:
    import torch

    from rnncalc.expr import Line

GATES = ("h",)


def step(p: Params, x: torch.Tensor, h_prev: torch.Tensor, c_prev: torch.Tensor | None,
         form: Any) -> StepOut:
    a = clip(x @ p.weight_ih.T + p.bias_ih + h_prev @ p.weight_hh.T + p.bias_hh, form.clip)
    h = apply(form.activations[0], a)
    return StepOut(pre={"h": a}, act={"h": h}, h=h, c=None)


def blocks(ex: Any, p: Params, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor | None
           ) -> tuple[dict[str, Any], dict[str, Any], Any, Any]:
    r""":func:`step` on the whole block:

    .. math::
        a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh},    h_t = f(a_t)

    ``a`` is two matrix products straight into its block; ``f(a_t)`` is ``h_t`` itself, which the
    fused kernel computed (memory: the trace and the kernel's temporaries for one slice).
    """
    import torch

    from rnncalc.cells._blocks import states

    kernel = torch.rnn_relu if ex.formulation.activations[0].name == "relu" else torch.rnn_tanh
    h_all = states(kernel, p, x, h0)
    a = torch.addmm(p.bias_ih + p.bias_hh, x, p.weight_ih.T).addmm_(h_all[:-1], p.weight_hh.T)
    h = h_all[1:]
    return {"h": a}, {"h": h}, h, None


def backward(p: Params, s: Any, dh: torch.Tensor, dc_future: torch.Tensor | None,
             form: Any) -> CellGrad:
    r"""``\delta a_t = \delta h_t \odot f'(a_t)`` (``f' = 1 - h_t^2`` for tanh, ``[a_t > 0]`` for
    relu)."""
    (f,) = form.activations
    a = s.pre["h"]
    return finish(p, s, {"h": dh * passed(slope(f, a, s.act["h"]), a, form.clip)}, None, None)


def explain(sheet: Any) -> Iterator[Line]:
    """``h_t[j] = f( W_ih[j] x_t + W_hh[j] h_{t-1} + b )``, unit by unit."""
    for j in range(sheet.ex.hidden_size):
        yield sheet.gate_line("h", j, sheet.ex.formulation.activations[0], sheet.linear(0, j))


def equations(form: Any, names: dict[str, str], clip: Any, b: Any) -> list[str]:
    a = arg("W_ih x_t", b("b_ih"), "W_hh h_{t-1}", b("b_hh"))
    return [f"h_t = {names['hidden']}({clip(a)})"]


def symbols(form: Any, bias: bool) -> tuple[list[str], list[str]]:
    lines = ["  W_ih     [H, H_in] input weights; W_hh [H, H] recurrent weights"]
    if bias:
        lines.append("  b_ih, b_hh  input and recurrent biases, [H]")
    return lines, []


def grad_factors(form: Any, s: Any, g: Any, k: int, gate: str, u: int, t: int, p: Any
                 ) -> tuple[tuple[Any, Any], ...]:
    """``dL/da_t = dL/dh_t * f'(a_t)``."""
    # imported here: only --explain's lines build expressions (a plain run starts sooner)
    from rnncalc.expr import Num, Sym

    return ((Sym("dL/dh", t, u), Num(float(g.dh[k][u]))),)


def recompute(form: Any, mine: Any, values: dict[Any, float], cross: dict[Any, float],
              h_prev: Any, c_prev: Any, H: int) -> None:
    """``check``: h_t is the student's own activation of their pre-activation."""
    for j in range(H):
        values[("h", j)] = values[("act", "h", j)]


# One layer: ``[h_{t-1}, x_t]`` into the activation, out as ``h_t`` (rnncalc.pictures).
DIAGRAM = Diagram(state="", boxes=(Box("h", 1, "hidden"),), ops=(),
                  links=(Link("h", "h_t", "vh"),), out_row=1.5, cols=2)

SPEC = CellSpec(
    diagram=DIAGRAM,
    name="rnn", title="RNN",
    sketch="h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)",
    help="Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).",
    examples="rnncalc rnn  ·  rnncalc rnn --step-by-step  ·  rnncalc rnn --task labeling  ·  "
             "rnncalc rnn --bidirectional  ·  rnncalc rnn -c configs/rnn_stacked.yaml -f json",
    gates=GATES, labels={"h": "h_t"}, roles=("hidden",), activations=("tanh",),
    step=step, equations=equations, symbols=symbols, backward=backward, explain=explain,
    orders={c: GATES for c in ("pytorch", "keras", "onnx", "tf1", "d2l")},
    gate_roles={"h": "hidden"}, words={"h": "hidden state"}, order="h", recompute=recompute,
    grad_factors=grad_factors, d2l={"h": "h"},
    nonlinearity=("tanh", "relu"), fused=frozenset({("tanh",), ("relu",)}), blocks=blocks,
)
