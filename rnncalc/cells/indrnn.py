r"""IndRNN cell (Li et al., 2018, "Independently Recurrent Neural Network"): each unit reads only
its own previous state.

.. math::
    a_t = \mathrm{clip}(W_{ih} x_t + b_{ih} + w_{hh} \odot h_{t-1} + b_{hh})
    h_t = f(a_t)

where ``f`` is the ``hidden`` activation (relu by default, as in the paper; ``nonlinearity:
relu|tanh``), ``x_t`` the input ``[H_in]``, ``h_{t-1}`` the previous hidden state ``[H]`` (zeros
at the first step unless given), ``w_{hh}`` the recurrent weights ``[H]``, one per unit,
multiplied element-wise (``\odot``): ``torch.nn.RNN`` with ``W_hh = diag(w_hh)``. State_dict
names as ``torch.nn.RNN``'s (``weight_ih_l{k}`` ``[H, H_in]``, ``weight_hh_l{k}`` ``[H]``,
``bias_ih_l{k}``, ``bias_hh_l{k}``, ``_reverse``); per-gate ``W_ih``, ``W_hh`` (a vector),
``b_ih``, ``b_hh``. The one "gate" is named ``h`` as the RNN's. torch has no fused IndRNN kernel:
every length runs the step loop. ONNX and Keras have no IndRNN layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rnncalc.cells import rnn
from rnncalc.cells._spec import CellGrad, CellSpec, Params, Product, StepOut, arg, clip, passed
from rnncalc.cells.activations import apply, slope

if TYPE_CHECKING:
    import torch

    from rnncalc.expr import Line

GATES = ("h",)


def step(p: Params, x: torch.Tensor, h_prev: torch.Tensor, c_prev: torch.Tensor | None,
         form: Any) -> StepOut:
    a = clip(x @ p.weight_ih.T + p.bias_ih + p.weight_hh * h_prev + p.bias_hh, form.clip)
    h = apply(form.activations[0], a)
    return StepOut(pre={"h": a}, act={"h": h}, h=h, c=None)


def backward(p: Params, s: Any, dh: torch.Tensor, dc_future: torch.Tensor | None,
             form: Any) -> CellGrad:
    r"""``\delta a_t = \delta h_t \odot f'(a_t)``; ``\Delta w_{hh} = \delta a_t \odot h_{t-1}``,
    ``\delta h^{fut}_{t-1} = w_{hh} \odot \delta a_t``."""
    (f,) = form.activations
    a = s.pre["h"]
    da = dh * passed(slope(f, a, s.act["h"]), a, form.clip)
    return CellGrad({"h": da}, None, da, da, p.weight_hh * da, None,
                    {"weight_ih": Product(da, s.x),
                     "weight_hh": Product(da, s.h_prev, elementwise=True)}, p.weight_ih)


def explain(sheet: Any) -> Iterator[Line]:
    """``h_t[j] = f( W_ih[j] x_t + w_hh[j] h_{t-1}[j] + b )``, unit by unit."""
    return rnn.explain(sheet)  # Sheet.linear reads a vector weight_hh element-wise


def equations(form: Any, names: dict[str, str], clip: Any, b: Any) -> list[str]:
    a = arg("W_ih x_t", b("b_ih"), "w_hh * h_{t-1}", b("b_hh"))
    return [f"h_t = {names['hidden']}({clip(a)})"]


def symbols(form: Any, bias: bool) -> tuple[list[str], list[str]]:
    lines = ["  W_ih     [H, H_in] input weights; w_hh [H] recurrent weights, one per unit"]
    if bias:
        lines.append("  b_ih, b_hh  input and recurrent biases, [H]")
    return lines, ["  IndRNN (Li et al. 2018): torch.nn.RNN with W_hh = diag(w_hh)"]


SPEC = CellSpec(
    name="indrnn", title="IndRNN",
    sketch="h_t = relu(W_ih x_t + b_ih + w_hh * h_(t-1) + b_hh)",
    help="IndRNN: h_t = act(W_ih x_t + b_ih + w_hh * h_{t-1} + b_hh), w_hh a vector (Li et al, "
         "2018; relu by default).",
    examples="rnncalc indrnn --step-by-step  ·  rnncalc indrnn --explain t=1  ·  "
             "rnncalc indrnn -f json",
    gates=GATES, labels={"h": "h_t"}, roles=("hidden",), activations=("relu",),
    step=step, equations=equations, symbols=symbols, backward=backward, explain=explain,
    orders={"pytorch": GATES},
    gate_roles={"h": "hidden"}, words={"h": "hidden state"}, order="h",
    recompute=rnn.recompute, grad_factors=rnn.grad_factors,
    recurrent="vector", nonlinearity=("relu", "tanh"), layouts=("pytorch", "per-gate"),
    diagram=rnn.DIAGRAM,
)
