"""The shapes every cell takes and returns."""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["Params", "StepOut"]


class Params(NamedTuple):
    """One layer and direction in PyTorch's layout; absent biases are zeros."""

    weight_ih: torch.Tensor  # [G*H, H_in]
    weight_hh: torch.Tensor  # [G*H, H]
    bias_ih: torch.Tensor  # [G*H]
    bias_hh: torch.Tensor  # [G*H]


class StepOut(NamedTuple):
    pre: dict[str, torch.Tensor]
    act: dict[str, torch.Tensor]
    h: torch.Tensor
    c: torch.Tensor | None
