r"""LSTM cell, as ``torch.nn.LSTMCell`` (gate order i, f, g, o).

.. math::
    i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})
    f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})
    g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})
    o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})
    c_t = f_t \odot c_{t-1} + i_t \odot g_t
    h_t = o_t \odot \tanh(c_t)

``i`` is the input ("add") gate, ``f`` the forget gate, ``g`` the cell candidate, ``o`` the output
gate; ``\sigma`` the logistic sigmoid, ``\odot`` the element-wise product. ``weight_ih`` stacks
``W_ii|W_if|W_ig|W_io`` and ``weight_hh`` stacks ``W_hi|W_hf|W_hg|W_ho``. ``pre[gate]`` is the
argument of the gate's activation, ``act[gate]`` its value.
"""

from __future__ import annotations

import torch

from rnncalc.cells._types import Params, StepOut

GATES = ("i", "f", "g", "o")


def step(p: Params, x: torch.Tensor, h_prev: torch.Tensor, c_prev: torch.Tensor | None,
         nonlinearity: str = "tanh") -> StepOut:
    assert c_prev is not None
    a = x @ p.weight_ih.T + p.bias_ih + h_prev @ p.weight_hh.T + p.bias_hh
    pre = dict(zip(GATES, a.chunk(4, dim=-1), strict=True))
    act = {
        "i": torch.sigmoid(pre["i"]),
        "f": torch.sigmoid(pre["f"]),
        "g": torch.tanh(pre["g"]),
        "o": torch.sigmoid(pre["o"]),
    }
    c = act["f"] * c_prev + act["i"] * act["g"]
    h = act["o"] * torch.tanh(c)
    return StepOut(pre=pre, act=act, h=h, c=c)
