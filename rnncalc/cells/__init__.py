"""One step of each cell, written once for a single step and for a whole block of steps.

Every cell maps ``(params, x, h_prev, c_prev, formulation)`` to ``(pre, act, h, c, extra)``: the
pre-activations and activations of its gates by name, the new states, other intermediates. ``x``
is ``[..., H_in]`` and the states ``[..., H]``, so the same equations evaluate one step or many
steps at once.
"""

from __future__ import annotations

from typing import Protocol

import torch

from rnncalc.cells import gru, lstm, rnn
from rnncalc.cells._types import Params, StepOut
from rnncalc.formulation import Formulation

__all__ = ["CELLS", "Cell", "Params", "StepOut"]


class Cell(Protocol):
    GATES: tuple[str, ...]

    def step(self, p: Params, x: torch.Tensor, h_prev: torch.Tensor,
             c_prev: torch.Tensor | None, form: Formulation) -> StepOut: ...


CELLS: dict[str, Cell] = {"rnn": rnn, "lstm": lstm, "gru": gru}  # type: ignore[dict-item]
