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

import torch

from rnncalc.cells._diagram import Box, Diagram, Link, Op
from rnncalc.cells._types import Params, StepOut, clip
from rnncalc.cells.activations import apply
from rnncalc.formulation import Formulation

GATES = ("i", "f", "g", "o")


def step(p: Params, x: torch.Tensor, h_prev: torch.Tensor, c_prev: torch.Tensor | None,
         form: Formulation) -> StepOut:
    assert c_prev is not None
    sigma, g_act, h_act = form.activations
    a = x @ p.weight_ih.T + p.bias_ih + h_prev @ p.weight_hh.T + p.bias_hh
    pre = dict(zip(GATES, a.chunk(4, dim=-1), strict=True))
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
