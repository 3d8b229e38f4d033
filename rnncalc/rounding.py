"""Compute as a student does: each intermediate rounded to ``N`` decimals before it is used further.

Inside :func:`rounding`, the result of every arithmetic operation torch performs (each matrix-vector
or outer product, power, sum, difference, element-wise product, quotient, exponential and
activation) is rounded to ``N`` decimals, half away from zero, as on paper. The cells are not
touched: the same equations run, and each value they produce is the rounded one the next equation
reads. Views and copies (``.T``, ``chunk``, ``stack``, ``cat``) are not arithmetic and pass
through, so the given weights and inputs are never rounded.

>>> import torch
>>> with rounding(2):
...     torch.tensor([0.125, -0.125], dtype=torch.float64) * 1
tensor([ 0.1300, -0.1300], dtype=torch.float64)
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["quantize", "round_half_away", "rounding"]

_ARITHMETIC = {
    "matmul", "__matmul__", "outer", "pow", "__pow__",
    "add", "__add__", "__radd__", "sub", "__sub__", "__rsub__",
    "mul", "__mul__", "__rmul__", "div", "__truediv__", "__rtruediv__", "neg", "__neg__",
    "sigmoid", "tanh", "relu", "exp", "softmax", "sum",
    # the other activations (cells.activations); softplus is torch.logaddexp(x, 0), which
    # array-api-compat's torch namespace hands back as it is (tests/test_explain.py holds each)
    "where", "clamp", "expm1", "softsign", "logaddexp",
}

#: A nudge far below any printed digit and far above float64 noise at exercise magnitudes, so that
#: 0.46205 (stored as 0.46204999999999996) rounds up to 0.4621 as on paper.
_NUDGE = 1e-9


def round_half_away(value: float, round_to: int) -> float:
    """``round_half_away(0.46205, 4) == 0.4621`` (Python's ``round`` gives 0.462: half to even)."""
    scale = 10.0**round_to
    return math.copysign(math.floor(abs(value) * scale + 0.5 + _NUDGE) / scale, value)


def quantize(t: torch.Tensor, round_to: int) -> torch.Tensor:
    """:func:`round_half_away` on every element of a floating tensor."""
    scale = 10.0**round_to
    return torch.sign(t) * torch.floor(t.abs() * scale + 0.5 + _NUDGE) / scale


class _Rounding(TorchFunctionMode):
    def __init__(self, round_to: int) -> None:
        super().__init__()
        self.round_to = round_to

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if (getattr(func, "__name__", "") in _ARITHMETIC and isinstance(out, torch.Tensor)
                and out.is_floating_point()):
            return quantize(out, self.round_to)  # the mode is off inside its own handler
        return out


@contextlib.contextmanager
def rounding(round_to: int | None) -> Iterator[None]:
    """Round every arithmetic result to ``round_to`` decimals inside the block; ``None``: exact."""
    if round_to is None:
        yield
        return
    with _Rounding(round_to):
        yield
