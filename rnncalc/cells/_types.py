"""The shapes every cell takes and returns."""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["Params", "StepOut", "clip"]


class Params(NamedTuple):
    """One layer and direction in PyTorch's layout; absent biases are zeros."""

    weight_ih: torch.Tensor  # [G*H, H_in]
    weight_hh: torch.Tensor  # [G*H, H] ([4*H, P] for a projected lstm)
    bias_ih: torch.Tensor  # [G*H]
    bias_hh: torch.Tensor  # [G*H]
    weight_hr: torch.Tensor | None = None  # lstm projection [P, H]
    peephole: torch.Tensor | None = None  # lstm [3, H]: rows p_i, p_f, p_o


class StepOut(NamedTuple):
    pre: dict[str, torch.Tensor]
    act: dict[str, torch.Tensor]
    h: torch.Tensor
    c: torch.Tensor | None
    extra: dict[str, torch.Tensor] = {}  # noqa: RUF012  # other intermediates (lstm projection: "m")


def clip(a: torch.Tensor, bound: float | None) -> torch.Tensor:
    """ONNX's ``clip``: clamp a pre-activation to ``[-bound, bound]``; ``None`` leaves it."""
    return a if bound is None else a.clamp(-bound, bound)
