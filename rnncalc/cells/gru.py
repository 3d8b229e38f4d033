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

import torch

from rnncalc.cells._diagram import Box, Diagram, Link, Op
from rnncalc.cells._types import Params, StepOut, clip
from rnncalc.cells.activations import apply
from rnncalc.formulation import Formulation

GATES = ("r", "z", "n")


def step(p: Params, x: torch.Tensor, h_prev: torch.Tensor, c_prev: torch.Tensor | None,
         form: Formulation) -> StepOut:
    sigma, g_act = form.activations
    W_ir, W_iz, W_in = p.weight_ih.chunk(3, dim=0)
    W_hr, W_hz, W_hn = p.weight_hh.chunk(3, dim=0)
    b_ir, b_iz, b_in = p.bias_ih.chunk(3)
    b_hr, b_hz, b_hn = p.bias_hh.chunk(3)
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
