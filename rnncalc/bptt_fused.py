r"""Backpropagation through one layer and direction by autograd, a chunk of steps at a time: the
totals, and the gradient each step's state receives from the next step.

The cell's own forward equations (its ``step``, :func:`rnncalc.cells.spec`) run again over the
steps differentiated, with the parameters, the inputs and the entering state as autograd leaves;
vector-Jacobian products with ``\delta h^{out}`` (``[K, H]``, from the head or the layer above),
one per chunk of :data:`CHUNK` steps, the last chunk first, give

.. math::
    \partial L/\partial \theta = \sum_t (\text{step } t\text{'s contribution})
    \qquad \delta x_t \qquad \delta h^{fut}_t,\ \delta c^{fut}_t \qquad \delta h_0,\ \delta c_0

The math is the cells' and autograd's; nothing here is a second copy of a backward formula.
:mod:`rnncalc.bptt` then runs the hand-derived backward step only at the steps a user asked to
see, starting from the :math:`\delta h^{fut}_t, \delta c^{fut}_t` this gives.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from rnncalc.cells import Params, spec
from rnncalc.formulation import Formulation
from rnncalc.trace import DirectionTrace

__all__ = ["Fused", "fused"]

#: The parameters a layer and direction may have, in the order the totals are listed.
KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr", "peephole")
#: Steps differentiated at a time (autograd's graph of a chunk is held, never the sequence's).
CHUNK = 64


class Fused(NamedTuple):
    """Steps ``first .. T-1`` of a direction, in the order computed."""

    totals: dict[str, torch.Tensor]  # weight_ih, ... (those the params have) -> dL/dparam
    dh_future: torch.Tensor  # [R, H] dL/dh_t through step t+1 (zero at the last step), R rows
    dc_future: torch.Tensor | None  # [R, H] lstm
    dx: torch.Tensor  # [K, H_in] every step's
    dh0: torch.Tensor  # dL/d(the state entering step ``first``)
    dc0: torch.Tensor | None


def fused(cell: str, form: Formulation, p: Params, tr: DirectionTrace, dh_out: torch.Tensor,
          first: int, rows: list[int], dc_out: torch.Tensor | None = None) -> Fused:
    """The vector-Jacobian product of steps ``first ..`` of ``tr`` with ``dh_out`` (``[K, H]``,
    the order computed); the state entering step ``first`` is a leaf (a constant before it).
    ``dh_future``, ``dc_future``: those of the steps ``rows`` (indices from ``first``) alone
    (autograd keeps more for each state whose gradient it is asked for: 60 KB each here).

    The steps go :data:`CHUNK` at a time, the last first: each chunk starts from the trace's
    state before it and receives, at its last step, the gradient its successor gave its entering
    state. Autograd's graph is one chunk's (about 23 KB a step for a 64-unit LSTM), not the
    sequence's."""
    K = len(dh_out)
    leaves = {k: getattr(p, k) for k in KINDS if getattr(p, k) is not None}
    totals = {k: torch.zeros_like(v) for k, v in leaves.items()}
    dx = dh_out.new_empty(K, tr.x.shape[-1])
    future: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}
    after: tuple[torch.Tensor, torch.Tensor | None] | None = None  # dL/d(state leaving a chunk)
    for start in reversed(range(0, K, CHUNK)):
        stop = min(start + CHUNK, K)
        inner = [k - start for k in rows if start <= k < stop - 1]
        part = _chunk(cell, form, p, leaves, tr, first + start, dh_out[start:stop],
                      None if dc_out is None else dc_out[start:stop], after, inner)
        for kind, g in part.totals.items():
            totals[kind] += g
        dx[start:stop] = part.dx
        future.update({start + j: f for j, f in zip(inner, part.future, strict=True)})
        if after is not None:
            future[stop - 1] = after  # what the next chunk's first step passed back
        after = part.entering
    assert after is not None
    dh0, dc0 = after
    zero = (torch.zeros_like(dh0), None if dc0 is None else torch.zeros_like(dc0))
    chosen = [future.get(k, zero) for k in rows]  # the last step: none after it
    dh_future = torch.stack([f[0] for f in chosen]) if rows else dh0.new_zeros(0, len(dh0))
    dc_future = None if dc0 is None else (
        torch.stack([f[1] for f in chosen]) if rows  # type: ignore[misc]
        else dc0.new_zeros(0, len(dc0)))
    return Fused(totals, dh_future, dc_future, dx, dh0, dc0)


class _Chunk(NamedTuple):
    totals: dict[str, torch.Tensor]
    dx: torch.Tensor
    future: list[tuple[torch.Tensor, torch.Tensor | None]]  # the rows asked for
    entering: tuple[torch.Tensor, torch.Tensor | None]  # dL/d(the state entering the chunk)


def _chunk(cell: str, form: Formulation, p: Params, leaves: dict[str, torch.Tensor],
           tr: DirectionTrace, at: int, dh_out: torch.Tensor, dc_out: torch.Tensor | None,
           after: tuple[torch.Tensor, torch.Tensor | None] | None, rows: list[int]) -> _Chunk:
    """Steps ``at .. at + len(dh_out) - 1`` of ``tr``; ``after``: the gradient of the state
    they leave, from the steps after them; ``rows``: the steps (from ``at``, not the last)
    whose ``dL/dh_t`` through the next step is asked for."""
    step = spec(cell).step
    with torch.enable_grad():
        params = {k: v.detach().requires_grad_() for k, v in leaves.items()}
        q = p._replace(**params)
        xs = tr.x[at:at + len(dh_out)].detach().requires_grad_()
        h = (tr.h0 if at == 0 else tr.h[at - 1]).detach().requires_grad_()
        c = None
        if tr.c is not None:
            assert tr.c0 is not None
            c = (tr.c0 if at == 0 else tr.c[at - 1]).detach().requires_grad_()
        entering, hs, cs = [(h, c)], [], []
        for x in xs.unbind():  # one node for every row's gradient (indexing row by row would
            out = step(q, x, h, c, form)  # give each row's as a whole [K, H_in] block)
            hs.append(out.h)
            cs.append(out.c)
            # the next step reads its own copy: the gradient of the copy is what that step
            # passes back (dh_future), apart from what the output passes (dh_out)
            h = out.h.clone()
            c = None if out.c is None else out.c.clone()
            entering.append((h, c))
        asked = [entering[0], *(entering[j + 1] for j in rows)]
        states = [s for pair in asked for s in pair if s is not None]
        # <h, dh_out> summed: its gradient with respect to h is dh_out exactly (a scalar to
        # differentiate: given grad_outputs, torch.autograd imports sympy, 3 s)
        surrogate = (torch.stack(hs) * dh_out).sum()
        if dc_out is not None:  # dL/dc_t given from above (an LSTM's upstream_c)
            surrogate = surrogate + (torch.stack(cs) * dc_out).sum()  # type: ignore[arg-type]
        if after is not None:  # the next chunk's first step reads the last state
            surrogate = surrogate + (hs[-1] * after[0]).sum()
            if after[1] is not None:
                surrogate = surrogate + (cs[-1] * after[1]).sum()  # type: ignore[operator]
        grads = torch.autograd.grad(surrogate, [*params.values(), xs, *states],  # type: ignore[list-item]
                                    allow_unused=True, materialize_grads=True)
    totals = dict(zip(params, grads[:len(params)], strict=True))
    per = 1 if c is None else 2  # gradients per state: h (and c)
    pairs = [(g[0], g[1] if per == 2 else None) for g in
             (grads[i:i + per] for i in range(len(params) + 1, len(grads), per))]
    return _Chunk(totals, grads[len(params)], pairs[1:], pairs[0])
