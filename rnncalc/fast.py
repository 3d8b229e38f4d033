r"""The whole trace of a long sequence at the speed of torch's fused RNN kernels.

A Python loop costs tens of microseconds a step, far more than a small cell's arithmetic. But every
gate of step ``t`` is a function of ``x_t`` and the states before it only. So:

1. the states ``h_t`` of every step come from torch's fused kernel (``torch.lstm``, ``torch.gru``,
   ``torch.rnn_tanh``, ``torch.rnn_relu``: what ``torch.nn.LSTM`` and friends call), which
   computes exactly PyTorch's formulation;
2. the cell's own equations (:mod:`rnncalc.cells`) are evaluated once on the whole ``[T, ...]``
   block, from ``x`` and ``h_{t-1}`` of every step: every pre-activation and activation;
3. the LSTM's cell state, which the fused kernel does not return step by step, follows from those
   gates: ``c_t = f_t c_{t-1} + i_t g_t`` is a first-order linear recurrence, solved for every
   step at once by a parallel prefix scan (:func:`linear_scan`).

This applies only to PyTorch's formulation (the fused kernels know no other); :func:`applies` says
when. The result equals the step-by-step loop of :mod:`rnncalc.sequence` up to rounding (tested
to 1e-12 in float64).
"""

from __future__ import annotations

import torch

from rnncalc.cells import CELLS, Params
from rnncalc.formulation import preset
from rnncalc.model import Exercise
from rnncalc.trace import DirectionTrace

__all__ = ["MIN_STEPS", "applies", "linear_scan", "run_direction"]

#: Shorter sequences take the step loop: it is as fast there, and it is the reference.
MIN_STEPS = 16

#: The activations the fused kernels compute, in the roles' order (formulation.ROLES).
_FUSED_ACTIVATIONS: dict[str, set[tuple[str, ...]]] = {
    "rnn": {("tanh",), ("relu",)},
    "lstm": {("sigmoid", "tanh", "tanh")},
    "gru": {("sigmoid", "tanh")},
}


def applies(ex: Exercise) -> bool:
    """Whether torch's fused kernel computes ``ex``'s equations (PyTorch's formulation)."""
    form = ex.formulation
    names = tuple(a.name for a in form.activations)
    if names not in _FUSED_ACTIVATIONS.get(ex.cell, set()):
        return False
    if any((a.alpha, a.beta) != (None, None) for a in form.activations):
        return False
    pytorch = preset(ex.cell).with_options(convention=form.convention, activations=form.activations)
    return form == pytorch and ex.proj_size == 0


def _fused_states(ex: Exercise, p: Params, x: torch.Tensor, h0: torch.Tensor,
                  c0: torch.Tensor | None) -> torch.Tensor:
    """``h_t`` of every step ``[T, H]``, from torch's fused kernel, ``x`` in the order computed."""
    weights = [p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh]
    batch = x[:, None]  # [T, 1, H_in]: one sequence
    # (input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
    if ex.cell == "lstm":
        assert c0 is not None
        out = torch.lstm(batch, (h0[None, None], c0[None, None]), weights, True, 1, 0.0, False,
                         False, False)[0]
    else:
        kernel = torch.gru if ex.cell == "gru" else (
            torch.rnn_relu if ex.formulation.activations[0].name == "relu" else torch.rnn_tanh)
        out = kernel(batch, h0[None, None], weights, True, 1, 0.0, False, False, False)[0]
    return out[:, 0]


def linear_scan(a: torch.Tensor, b: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:
    """``c_t = a_t c_{t-1} + b_t`` for every ``t`` of ``[T, ...]`` blocks, from ``c_{-1} = c0``.

    Hillis and Steele's scan: after the pass with offset ``d``, ``c[t]`` holds the recurrence run
    from step ``t-2d+1`` (or the start) and ``a[t]`` the product of the ``2d`` factors, so
    ``log2(T)`` vectorized passes replace ``T`` Python steps.

    >>> linear_scan(torch.tensor([0.5, 0.5, 2.0]), torch.tensor([1.0, 1.0, 1.0]), torch.tensor(4.0))
    tensor([3.0000, 2.5000, 6.0000])
    """
    c = b.clone()
    c[0] += a[0] * c0
    a = a.clone()
    a[0] = 0
    d = 1
    while d < len(c):
        c[d:] = torch.addcmul(c[d:], a[d:], c[:-d])  # the right side reads the old values
        a[d:] = a[d:] * a[:-d]
        d *= 2
    return c


def run_direction(ex: Exercise, p: Params, xs: torch.Tensor, h0: torch.Tensor,
                  c0: torch.Tensor | None, layer: int, direction: str) -> DirectionTrace:
    """As :func:`rnncalc.sequence.run_direction`, every step at once; needs :func:`applies`."""
    cell = CELLS[ex.cell]
    positions = tuple(range(len(xs)))
    if direction == "backward":
        positions = positions[::-1]
    x = xs.flip(0) if direction == "backward" else xs
    h = _fused_states(ex, p, x, h0, c0)
    h_prev = torch.cat([h0[None], h[:-1]])
    c = None
    if c0 is None:
        out = cell.step(p, x, h_prev, None, ex.formulation)
    else:
        # with c_{t-1} = 0 the cell's own c_t is i_t g_t; then the recurrence adds f_t c_{t-1}
        out = cell.step(p, x, h_prev, torch.zeros_like(h), ex.formulation)
        assert out.c is not None
        c = linear_scan(out.act["f"], out.c, c0)
    return DirectionTrace(
        layer=layer, direction=direction, positions=positions, x=x, h0=h0, c0=c0,
        pre=out.pre, act=out.act, h=h, c=c,
    )
