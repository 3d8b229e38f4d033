"""What the cells' steps on a whole block share: the states of every step from torch's fused
kernel, a linear recurrence solved for every step at once.

Imported by the cells' functions when they run (it imports torch), never by the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from rnncalc.cells._spec import Params

__all__ = ["SCAN_BLOCK", "SLICES", "linear_scan", "states"]

#: The fused kernel goes this many slices of steps at a time:
#: its temporaries stay a sixteenth of a block. With 8, the memory freed between slices, which
#: the C allocator keeps, took an RNN's peak to 1.6x its trace in some runs; with 32 the slices'
#: own overhead shows.
SLICES = 16
#: A slice has at least this many steps (shorter ones cost more in calls than they save).
MIN_SLICE = 16
#: :func:`linear_scan` shortens the recurrence this many times per level.
SCAN_BLOCK = 16


def _kernel_states(
    kernel: Callable[..., Any], p: Params, x: torch.Tensor, h0: torch.Tensor,
    c0: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``h_t`` of every step ``[T, H]`` from torch's fused ``kernel`` (``x`` in the order
    computed), and the last ``h`` and ``c``, from which a next slice of steps goes on exactly."""
    weights = [p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh]
    batch = x[:, None]  # [T, 1, H_in]: one sequence
    # (input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
    if c0 is not None:
        out, h_n, c_n = kernel(batch, (h0[None, None], c0[None, None]), weights, True, 1, 0.0,
                               False, False, False)
        return out[:, 0], h_n[0, 0], c_n[0, 0]
    out, h_n = kernel(batch, h0[None, None], weights, True, 1, 0.0, False, False, False)
    return out[:, 0], h_n[0, 0], None


def _slices(steps: int, slices: int = SLICES) -> list[slice]:
    """The steps in ``slices`` slices of at least :data:`MIN_SLICE` steps."""
    rows = max(MIN_SLICE, -(-steps // slices))
    return [slice(start, min(start + rows, steps)) for start in range(0, steps, rows)]


def states(kernel: Callable[..., Any], p: Params, x: torch.Tensor, h0: torch.Tensor,
           c0: torch.Tensor | None = None, slices: int = SLICES) -> torch.Tensor:
    """``[T + 1, H]``: ``h0`` then every ``h_t`` from the fused ``kernel`` (``[:-1]`` are the
    ``h_{t-1}`` of every step, ``[1:]`` the ``h_t``).

    The kernel goes a slice of steps at a time (:func:`_slices`), each slice on from the last
    one's ``h`` and ``c``, exactly: its temporaries (the input's products for every step of the
    call) stay a fraction of the trace.
    """
    out_states = x.new_empty(len(x) + 1, h0.shape[0])
    out_states[0] = h0
    h, c = h0, c0
    for part in _slices(len(x), slices):
        out, h, c = _kernel_states(kernel, p, x[part], h, c)
        out_states[part.start + 1:part.stop + 1] = out
    return out_states


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

