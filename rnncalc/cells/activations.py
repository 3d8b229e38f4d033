"""The activation functions a role may use, on tensors; named as in :mod:`rnncalc.formulation`.

Each is the formula of :data:`rnncalc.formulation.ACTIVATIONS` (ONNX's definitions), written with
torch's own functions where torch has one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from rnncalc.formulation import Activation

__all__ = ["FUNCTIONS", "apply"]

Fn = Callable[[torch.Tensor, float, float], torch.Tensor]

FUNCTIONS: dict[str, Fn] = {
    "sigmoid": lambda x, a, b: torch.sigmoid(x),
    "tanh": lambda x, a, b: torch.tanh(x),
    "relu": lambda x, a, b: torch.relu(x),
    "identity": lambda x, a, b: x,
    "affine": lambda x, a, b: a * x + b,
    "hard_sigmoid": lambda x, a, b: torch.clamp(a * x + b, 0.0, 1.0),
    "leaky_relu": lambda x, a, b: torch.where(x >= 0, x, a * x),
    "thresholded_relu": lambda x, a, b: torch.where(x > a, x, torch.zeros_like(x)),
    "elu": lambda x, a, b: torch.where(x >= 0, x, a * torch.expm1(x)),
    "scaled_tanh": lambda x, a, b: a * torch.tanh(b * x),
    "softsign": lambda x, a, b: F.softsign(x),
    # log(1 + e^x) exactly, as ONNX; F.softplus returns x itself above its threshold of 20
    "softplus": lambda x, a, b: torch.logaddexp(x, torch.zeros_like(x)),
}


def apply(act: Activation, x: torch.Tensor) -> torch.Tensor:
    """``act(x)`` element-wise: ``apply(activation("leaky_relu", 0.1), x)``."""
    return FUNCTIONS[act.name](x, act.alpha or 0.0, act.beta or 0.0)
