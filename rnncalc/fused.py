r"""The whole trace of a long sequence at the speed of torch's fused RNN kernels.

A Python loop costs tens of microseconds a step, far more than a small cell's arithmetic. But every
gate of step ``t`` is a function of ``x_t`` and the states before it only. So:

1. the states ``h_t`` of every step come from torch's fused kernel (``torch.lstm``, ``torch.gru``,
   ``torch.rnn_tanh``, ``torch.rnn_relu``: what ``torch.nn.LSTM`` and friends call), which
   computes exactly PyTorch's formulation;
2. the cell's equations are evaluated once on the whole ``[T, ...]`` block, from ``x`` and
   ``h_{t-1}`` of every step: every pre-activation and activation, by the cell's own ``blocks``
   (in its module in :mod:`rnncalc.cells`), straight into the trace's blocks;
3. the LSTM's cell state, which the fused kernel does not return step by step, follows from those
   gates: ``c_t = f_t c_{t-1} + i_t g_t`` is a first-order linear recurrence, solved for every
   step at once by a blocked scan (:func:`rnncalc.cells._blocks.linear_scan`).

This applies only to PyTorch's formulation (the fused kernels know no other) of a cell that has a
fused kernel (its spec's ``fused``); :func:`applies` says when. The result equals the step-by-step
loop of :mod:`rnncalc.engine` up to rounding (tested to 1e-12 in float64).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rnncalc.cells import spec
from rnncalc.formulation import preset
from rnncalc.trace import DirectionTrace

if TYPE_CHECKING:
    import torch

    from rnncalc.cells import Params
    from rnncalc.model import Exercise

__all__ = ["MIN_STEPS", "applies", "run_direction", "takes"]

#: Shorter sequences take the step loop: it is as fast there, and it is the reference.
MIN_STEPS = 16


def applies(ex: Exercise) -> bool:
    """Whether torch's fused kernel computes ``ex``'s equations (PyTorch's formulation)."""
    form = ex.formulation
    if ex.backward_formulation is not None:  # each direction its own activations
        return False
    cell = spec(ex.cell)
    if cell.blocks is None or tuple(a.name for a in form.activations) not in cell.fused:
        return False
    if any((a.alpha, a.beta) != (None, None) for a in form.activations):
        return False
    pytorch = preset(ex.cell).with_options(convention=form.convention, activations=form.activations)
    return form == pytorch and ex.proj_size == 0


def takes(ex: Exercise, round_to: int | None = None) -> bool:
    """Whether :func:`rnncalc.engine.run` computes ``ex`` here: long enough, in PyTorch's
    formulation (:func:`applies`), not rounded (``--round`` rounds every step's arithmetic)."""
    return round_to is None and ex.steps >= MIN_STEPS and applies(ex)


def run_direction(ex: Exercise, p: Params, xs: torch.Tensor, h0: torch.Tensor,
                  c0: torch.Tensor | None, layer: int, direction: str) -> DirectionTrace:
    """As :func:`rnncalc.engine.run_direction`, every step at once (the cell's ``blocks``);
    needs :func:`applies`."""
    positions = tuple(range(len(xs)))
    if direction == "backward":
        positions = positions[::-1]
    x = xs.flip(0) if direction == "backward" else xs
    blocks = spec(ex.cell).blocks
    assert blocks is not None
    pre, act, h, c = blocks(ex, p, x, h0, c0)
    return DirectionTrace(
        layer=layer, direction=direction, positions=positions, x=x, h0=h0, c0=c0,
        pre=pre, act=act, h=h, c=c,
    )
