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
#: The gates of a long sequence are evaluated this many slices of steps at a time.
SLICES = 8

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


def _fused_states(
    ex: Exercise, p: Params, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``h_t`` of every step ``[T, H]`` from torch's fused kernel (``x`` in the order computed),
    and the last ``h`` and ``c``, from which a next slice of steps goes on exactly."""
    weights = [p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh]
    batch = x[:, None]  # [T, 1, H_in]: one sequence
    # (input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
    if ex.cell == "lstm":
        assert c0 is not None
        out, h_n, c_n = torch.lstm(batch, (h0[None, None], c0[None, None]), weights, True, 1, 0.0,
                                   False, False, False)
        return out[:, 0], h_n[0, 0], c_n[0, 0]
    kernel = torch.gru if ex.cell == "gru" else (
        torch.rnn_relu if ex.formulation.activations[0].name == "relu" else torch.rnn_tanh)
    out, h_n = kernel(batch, h0[None, None], weights, True, 1, 0.0, False, False, False)
    return out[:, 0], h_n[0, 0], None


def linear_scan(a: torch.Tensor, b: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:
    """``c_t = a_t c_{t-1} + b_t`` for every ``t`` of ``[T, ...]`` blocks, from ``c_{-1} = c0``;
    ``c`` is written over ``b`` (which is returned).

    Hillis and Steele's scan: after the pass with offset ``d``, ``c[t]`` holds the recurrence run
    from step ``t-2d+1`` (or the start) and ``a[t]`` the product of the ``2d`` factors, so
    ``log2(T)`` vectorized passes replace ``T`` Python steps. Besides ``b``, it needs two blocks
    the size of ``a``.

    >>> linear_scan(torch.tensor([0.5, 0.5, 2.0]), torch.tensor([1.0, 1.0, 1.0]), torch.tensor(4.0))
    tensor([3.0000, 2.5000, 6.0000])
    """
    c = b
    c[0] += a[0] * c0
    a = a.clone()
    a[0] = 0
    scratch = torch.empty_like(a)
    d = 1
    while d < len(c):
        n = len(c) - d
        torch.mul(a[d:], c[:n], out=scratch[:n])  # from the values before this pass
        c[d:] += scratch[:n]
        if 2 * d < len(c):
            torch.mul(a[d:], a[:n], out=scratch[:n])
            a[d:] = scratch[:n]
        d *= 2
    return c


def run_direction(ex: Exercise, p: Params, xs: torch.Tensor, h0: torch.Tensor,
                  c0: torch.Tensor | None, layer: int, direction: str) -> DirectionTrace:
    """As :func:`rnncalc.sequence.run_direction`, every step at once; needs :func:`applies`.

    The fused kernel and the gates go :data:`SLICES` slices of steps at a time (the kernel goes
    on from the last slice's ``h`` and ``c``, exactly), written into the trace's own blocks, so
    the temporaries stay a fraction of the trace (memory: the trace and a few ``[T, H]`` blocks).
    """
    cell = CELLS[ex.cell]
    positions = tuple(range(len(xs)))
    if direction == "backward":
        positions = positions[::-1]
    x = xs.flip(0) if direction == "backward" else xs
    steps, hidden = len(x), h0.shape[0]
    h = x.new_empty(steps, hidden)
    pre = {g: x.new_empty(steps, hidden) for g in cell.GATES}
    act = {g: x.new_empty(steps, hidden) for g in cell.GATES}
    ig = None if c0 is None else x.new_empty(steps, hidden)  # i_t g_t, the lstm's input to c_t
    rows = max(MIN_STEPS, -(-steps // SLICES))
    h_last, c_last = h0, c0
    for start in range(0, steps, rows):
        stop = min(start + rows, steps)
        h[start:stop], h_last, c_last = _fused_states(ex, p, x[start:stop], h_last, c_last)
        h_prev = h[start - 1:stop - 1] if start else torch.cat([h0[None], h[:stop - 1]])
        # with c_{t-1} = 0 the cell's own c_t is i_t g_t; the recurrence adds f_t c_{t-1} below
        c_prev = None if ig is None else x.new_zeros(stop - start, hidden)
        out = cell.step(p, x[start:stop], h_prev, c_prev, ex.formulation)
        for g in cell.GATES:
            pre[g][start:stop] = out.pre[g]
            act[g][start:stop] = out.act[g]
        if ig is not None:
            assert out.c is not None
            ig[start:stop] = out.c
    c = None if ig is None or c0 is None else linear_scan(act["f"], ig, c0)
    return DirectionTrace(
        layer=layer, direction=direction, positions=positions, x=x, h0=h0, c0=c0,
        pre=pre, act=act, h=h, c=c,
    )
