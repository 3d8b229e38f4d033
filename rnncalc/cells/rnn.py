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

import torch

from rnncalc.cells._diagram import Box, Diagram, Link
from rnncalc.cells._types import Params, StepOut, clip
from rnncalc.cells.activations import apply
from rnncalc.formulation import Formulation

GATES = ("h",)


def step(p: Params, x: torch.Tensor, h_prev: torch.Tensor, c_prev: torch.Tensor | None,
         form: Formulation) -> StepOut:
    a = clip(x @ p.weight_ih.T + p.bias_ih + h_prev @ p.weight_hh.T + p.bias_hh, form.clip)
    h = apply(form.activations[0], a)
    return StepOut(pre={"h": a}, act={"h": h}, h=h, c=None)


# One layer: ``[h_{t-1}, x_t]`` into the activation, out as ``h_t`` (rnncalc.pictures).
DIAGRAM = Diagram(state="", boxes=(Box("h", 1, "hidden"),), ops=(),
                  links=(Link("h", "h_t", "vh"),), out_row=1.5, cols=2)
