r"""Elman RNN cell, as ``torch.nn.RNNCell``.

.. math::
    a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}
    h_t = \mathrm{act}(a_t)

where ``act`` is tanh or relu (``nonlinearity``), ``x_t`` is the input ``[H_in]``, ``h_{t-1}`` the
previous hidden state ``[H]`` (zeros at the first step unless given). The one "gate" is named ``h``:
``pre["h"] = a_t``, ``act["h"] = h_t``.
"""

from __future__ import annotations

import torch

from rnncalc.cells._types import Params, StepOut

GATES = ("h",)

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


def step(p: Params, x: torch.Tensor, h_prev: torch.Tensor, c_prev: torch.Tensor | None,
         nonlinearity: str = "tanh") -> StepOut:
    a = x @ p.weight_ih.T + p.bias_ih + h_prev @ p.weight_hh.T + p.bias_hh
    h = ACTIVATIONS[nonlinearity](a)
    return StepOut(pre={"h": a}, act={"h": h}, h=h, c=None)
