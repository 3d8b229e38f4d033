r"""Backpropagation through one layer and direction in one pass of autograd: the totals, and the
gradient each step's state receives from the next step, for every step at once.

The cell's own forward equations (its ``step``, :func:`rnncalc.cells.spec`) run again over the
steps differentiated, with the parameters, the inputs and the entering state as autograd leaves;
one vector-Jacobian product with ``\delta h^{out}`` (``[K, H]``, from the head or the layer
above) gives

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
    (autograd keeps more for each state whose gradient it is asked for: 60 KB each here)."""
    step = spec(cell).step
    with torch.enable_grad():
        leaves = {k: getattr(p, k).detach().requires_grad_() for k in KINDS
                  if getattr(p, k) is not None}
        q = p._replace(**leaves)
        xs = tr.x[first:].detach().requires_grad_()
        h = (tr.h0 if first == 0 else tr.h[first - 1]).detach().requires_grad_()
        c = None
        if tr.c is not None:
            assert tr.c0 is not None
            c = (tr.c0 if first == 0 else tr.c[first - 1]).detach().requires_grad_()
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
        K = len(hs)
        asked = [entering[0], *(entering[k + 1] for k in rows if k + 1 < K)]
        states = [s for pair in asked for s in pair if s is not None]
        # <h, dh_out> summed: its gradient with respect to h is dh_out exactly (a scalar to
        # differentiate: given grad_outputs, torch.autograd imports sympy, 3 s)
        surrogate = (torch.stack(hs) * dh_out).sum()
        if dc_out is not None:  # dL/dc_t given from above (an LSTM's upstream_c)
            surrogate = surrogate + (torch.stack(cs) * dc_out).sum()  # type: ignore[arg-type]
        grads = torch.autograd.grad(surrogate, [*leaves.values(), xs, *states],  # type: ignore[list-item]
                                    allow_unused=True, materialize_grads=True)
    totals = dict(zip(leaves, grads[:len(leaves)], strict=True))
    dx, rest = grads[len(leaves)], list(grads[len(leaves) + 1:])
    per = 1 if c is None else 2  # gradients per state: h (and c)
    (dh0, *dc0), rest = rest[:per], rest[per:]
    zero = [torch.zeros_like(g) for g in (dh0, *dc0)]
    given = iter(rest[per * i: per * i + per] for i in range(len(rest) // per))
    future = [next(given) if k + 1 < K else zero for k in rows]  # the last step: none after it
    dh_future = torch.stack([f[0] for f in future]) if rows else dh0.new_zeros(0, len(dh0))
    dc_future = None if c is None else (
        torch.stack([f[1] for f in future]) if rows else dh0.new_zeros(0, len(dc0[0])))
    return Fused(totals, dh_future, dc_future, dx, dh0, dc0[0] if dc0 else None)
