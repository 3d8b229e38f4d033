r"""The whole trace of a long sequence at the speed of torch's fused RNN kernels.

A Python loop costs tens of microseconds a step, far more than a small cell's arithmetic. But every
gate of step ``t`` is a function of ``x_t`` and the states before it only. So:

1. the states ``h_t`` of every step come from torch's fused kernel (``torch.lstm``, ``torch.gru``,
   ``torch.rnn_tanh``, ``torch.rnn_relu``: what ``torch.nn.LSTM`` and friends call), which
   computes exactly PyTorch's formulation;
2. the cell's equations are evaluated once on the whole ``[T, ...]`` block, from ``x`` and
   ``h_{t-1}`` of every step: every pre-activation and activation (the RNN's and GRU's by their
   cells in :mod:`rnncalc.cells`; the LSTM's by PyTorch's gate equations written out in
   :func:`_lstm_blocks`, straight into the trace's blocks);
3. the LSTM's cell state, which the fused kernel does not return step by step, follows from those
   gates: ``c_t = f_t c_{t-1} + i_t g_t`` is a first-order linear recurrence, solved for every
   step at once by a blocked scan (:func:`linear_scan`).

This applies only to PyTorch's formulation (the fused kernels know no other); :func:`applies` says
when. The result equals the step-by-step loop of :mod:`rnncalc.engine` up to rounding (tested
to 1e-12 in float64).
"""

from __future__ import annotations

import torch

from rnncalc.cells import Params
from rnncalc.cells.lstm import GATES
from rnncalc.formulation import preset
from rnncalc.model import Exercise
from rnncalc.trace import DirectionTrace

__all__ = ["MIN_STEPS", "applies", "linear_scan", "run_direction", "takes"]

#: Shorter sequences take the step loop: it is as fast there, and it is the reference.
MIN_STEPS = 16
#: The fused kernel goes this many slices of steps at a time:
#: its temporaries stay a sixteenth of a block. With 8, the memory freed between slices, which
#: the C allocator keeps, took an RNN's peak to 1.6x its trace in some runs; with 32 the slices'
#: own overhead shows.
SLICES = 16
#: :func:`linear_scan` shortens the recurrence this many times per level.
SCAN_BLOCK = 16

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


def takes(ex: Exercise, round_to: int | None = None) -> bool:
    """Whether :func:`rnncalc.engine.run` computes ``ex`` here: long enough, in PyTorch's
    formulation (:func:`applies`), not rounded (``--round`` rounds every step's arithmetic)."""
    return round_to is None and ex.steps >= MIN_STEPS and applies(ex)


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
    r"""``c_t = a_t c_{t-1} + b_t`` for every ``t`` of ``[T, ...]`` blocks, from ``c_{-1} = c0``;
    ``c`` is written over ``b`` (which is returned); ``a`` is only read.

    A blocked scan: the steps go in blocks of :data:`SCAN_BLOCK`. Within every block the
    recurrence is run from zero, all blocks at once (a few vectorized steps), and so are the
    products ``a_s \cdots a_t`` (``s`` the block's first step); the last state of every block then
    follows from the block before, ``c_e = (a_s \cdots a_e) c_{s-1} + c_e``: the same recurrence,
    ``SCAN_BLOCK`` times shorter, solved by this function; finally every other ``c_t`` of a block
    gains ``(a_s \cdots a_t) c_{s-1}``. About ``2 SCAN_BLOCK`` small torch operations per
    ``SCAN_BLOCK``-fold shortening replace ``T`` Python steps; it needs one block the size of
    ``b`` (the products).

    >>> linear_scan(torch.tensor([0.5, 0.5, 2.0]), torch.tensor([1.0, 1.0, 1.0]), torch.tensor(4.0))
    tensor([3.0000, 2.5000, 6.0000])
    """
    steps = len(b)
    if steps <= SCAN_BLOCK:
        b[0].addcmul_(a[0], c0)
        for t in range(1, steps):
            b[t].addcmul_(a[t], b[t - 1])
        return b
    blocks = steps // SCAN_BLOCK
    whole = blocks * SCAN_BLOCK
    c = b[:whole].unflatten(0, (blocks, SCAN_BLOCK))  # [B, L, ...]
    f = a[:whole].unflatten(0, (blocks, SCAN_BLOCK))
    products = torch.empty_like(c)  # a_s ... a_t within each block
    rows, factors, prods = c.unbind(1), f.unbind(1), products.unbind(1)
    prods[0].copy_(factors[0])
    for k in range(1, SCAN_BLOCK):  # every block from zero, all blocks at once
        rows[k].addcmul_(factors[k], rows[k - 1])
        torch.mul(prods[k - 1], factors[k], out=prods[k])
    last = c[:, -1]
    linear_scan(products[:, -1], last, c0)  # the last state of every block, exact
    entering = torch.cat([c0.expand_as(last[:1]), last[:-1]])  # c_{s-1} of every block
    c[:, :-1].addcmul_(products[:, :-1], entering[:, None])
    for t in range(whole, steps):  # the last steps, that fill no block
        b[t].addcmul_(a[t], b[t - 1])
    return b


def run_direction(ex: Exercise, p: Params, xs: torch.Tensor, h0: torch.Tensor,
                  c0: torch.Tensor | None, layer: int, direction: str) -> DirectionTrace:
    """As :func:`rnncalc.engine.run_direction`, every step at once; needs :func:`applies`.

    Each cell's equations for a whole block: :func:`_rnn_blocks`, :func:`_gru_blocks`,
    :func:`_lstm_blocks`.
    """
    positions = tuple(range(len(xs)))
    if direction == "backward":
        positions = positions[::-1]
    x = xs.flip(0) if direction == "backward" else xs
    blocks = _lstm_blocks if ex.cell == "lstm" else _rnn_blocks if ex.cell == "rnn" else _gru_blocks
    pre, act, h, c = blocks(ex, p, x, h0, c0)
    return DirectionTrace(
        layer=layer, direction=direction, positions=positions, x=x, h0=h0, c0=c0,
        pre=pre, act=act, h=h, c=c,
    )


Blocks = tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], torch.Tensor, torch.Tensor | None]


def _slices(steps: int, slices: int = SLICES) -> list[slice]:
    """The steps in ``slices`` slices of at least :data:`MIN_STEPS` steps."""
    rows = max(MIN_STEPS, -(-steps // slices))
    return [slice(start, min(start + rows, steps)) for start in range(0, steps, rows)]


def _states(ex: Exercise, p: Params, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor | None
            ) -> torch.Tensor:
    """``[T + 1, H]``: ``h0`` then every ``h_t`` from the fused kernel (``[:-1]`` are the
    ``h_{t-1}`` of every step, ``[1:]`` the ``h_t``).

    The kernel goes a slice of steps at a time (:func:`_slices`), each slice on from the last
    one's ``h`` and ``c``, exactly: its temporaries (the input's products for every step of the
    call) stay a fraction of the trace. Not the float32 LSTM's kernel (oneDNN's), which packs the
    weights again at every call (8 calls took 1.3x the time of one at 512 units); its
    temporaries are smaller.
    """
    states = x.new_empty(len(x) + 1, h0.shape[0])
    states[0] = h0
    h, c = h0, c0
    one_call = ex.cell == "lstm" and x.dtype == torch.float32
    for part in _slices(len(x), 1 if one_call else SLICES):
        out, h, c = _fused_states(ex, p, x[part], h, c)
        states[part.start + 1:part.stop + 1] = out
    return states


def _rnn_blocks(ex: Exercise, p: Params, x: torch.Tensor, h0: torch.Tensor,
                c0: torch.Tensor | None) -> Blocks:
    r""":mod:`rnncalc.cells.rnn` on the whole block:

    .. math::
        a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh},    h_t = f(a_t)

    ``a`` is two matrix products straight into its block; ``f(a_t)`` is ``h_t`` itself, which the
    fused kernel computed (memory: the trace and the kernel's temporaries for one slice).
    """
    states = _states(ex, p, x, h0, None)
    a = torch.addmm(p.bias_ih + p.bias_hh, x, p.weight_ih.T).addmm_(states[:-1], p.weight_hh.T)
    h = states[1:]
    return {"h": a}, {"h": h}, h, None


def _gru_blocks(ex: Exercise, p: Params, x: torch.Tensor, h0: torch.Tensor,
                c0: torch.Tensor | None) -> Blocks:
    r"""PyTorch's GRU (:mod:`rnncalc.cells.gru`, reset after) on the whole block:

    .. math::
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))

    ``h_t = (1 - z_t) n_t + z_t h_{t-1}`` comes from the fused kernel. The input's part of every
    pre-activation is one matrix product into the ``[T, 3H]`` block of ``pre``; the recurrent
    part ``W_{hh} h_{t-1} + b_{hh}`` is one matrix product into the block of ``act``, which each
    activation then overwrites once its part is used (memory: the trace alone).
    """
    states = _states(ex, p, x, h0, None)
    hidden = h0.shape[0]
    a = torch.addmm(p.bias_ih, x, p.weight_ih.T)  # W_i x_t + b_i, then the pre-activations
    gates = torch.addmm(p.bias_hh, states[:-1], p.weight_hh.T)  # W_h h_{t-1} + b_h, then act
    pre = dict(zip(("r", "z", "n"), a.chunk(3, dim=1), strict=True))
    act = dict(zip(("r", "z", "n"), gates.chunk(3, dim=1), strict=True))
    a[:, :2 * hidden] += gates[:, :2 * hidden]
    torch.sigmoid(a[:, :2 * hidden], out=gates[:, :2 * hidden])  # r and z
    pre["n"].addcmul_(act["r"], act["n"])  # act["n"] still holds W_hn h_{t-1} + b_hn
    torch.tanh(pre["n"], out=act["n"])
    return pre, act, states[1:], None


def _lstm_blocks(ex: Exercise, p: Params, x: torch.Tensor, h0: torch.Tensor,
                 c0: torch.Tensor | None) -> Blocks:
    r"""PyTorch's LSTM (:mod:`rnncalc.cells.lstm` with every option off) on the whole block:

    .. math::
        a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}    (stacked i | f | g | o)
        i_t = \sigma(a_{i,t}),  f_t = \sigma(a_{f,t}),  g_t = \tanh(a_{g,t}),  o_t = \sigma(a_{o,t})
        c_t = f_t \odot c_{t-1} + i_t \odot g_t

    ``h_t = o_t \odot \tanh(c_t)`` of every step comes from the fused kernel, ``c_t`` from
    :func:`linear_scan`. The pre-activations are two matrix products straight into one
    ``[T, 4H]`` block, ``pre[gate]`` a ``[T, H]`` view of it; the activations go into one
    ``[4, T, H]`` block, ``act[gate]`` a contiguous ``[T, H]`` part of it (memory: the trace,
    one ``[T, H]`` block for the scan's products and the kernel's temporaries for one slice).
    """
    assert c0 is not None
    states = _states(ex, p, x, h0, c0)
    a = torch.addmm(p.bias_ih + p.bias_hh, x, p.weight_ih.T).addmm_(states[:-1], p.weight_hh.T)
    pre = dict(zip(GATES, a.chunk(4, dim=1), strict=True))
    # gate by gate, so that each act[gate] is contiguous: the activations write, and the scan
    # reads, whole rows (at 64 units this took the activations and scan from 1.8 to 1.5 ms)
    act = dict(zip(GATES, a.new_empty(4, *pre["i"].shape).unbind(0), strict=True))
    for gate in ("i", "f", "o"):
        torch.sigmoid(pre[gate], out=act[gate])
    torch.tanh(pre["g"], out=act["g"])
    c = torch.mul(act["i"], act["g"])  # i_t g_t, then c_t
    return pre, act, states[1:], linear_scan(act["f"], c, c0)
