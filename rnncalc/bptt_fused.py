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
    """Steps ``first .. T-1`` of a direction, in the order computed; blocks ``[K, ...]``."""

    totals: dict[str, torch.Tensor]  # weight_ih, ... (those the params have) -> dL/dparam
    dh_future: torch.Tensor  # [K, H] dL/dh_t through step t+1 (zero at the last step)
    dc_future: torch.Tensor | None  # [K, H] lstm
    dx: torch.Tensor  # [K, H_in]
    dh0: torch.Tensor  # dL/d(the state entering step ``first``)
    dc0: torch.Tensor | None


def fused(cell: str, form: Formulation, p: Params, tr: DirectionTrace, dh_out: torch.Tensor,
          first: int) -> Fused:
    """The vector-Jacobian product of steps ``first ..`` of ``tr`` with ``dh_out`` (``[K, H]``,
    the order computed); the state entering step ``first`` is a leaf (a constant before it)."""
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
        entering_h, entering_c, hs = [h], [c], []
        for x in xs:
            out = step(q, x, h, c, form)
            hs.append(out.h)
            # the next step reads its own copy: the gradient of the copy is what that step
            # passes back (dh_future), apart from what the output passes (dh_out)
            h = out.h.clone()
            c = None if out.c is None else out.c.clone()
            entering_h.append(h)
            entering_c.append(c)
        states = entering_h[:-1] + ([] if c is None else entering_c[:-1])
        # <h, dh_out> summed: its gradient with respect to h is dh_out exactly (a scalar to
        # differentiate: given grad_outputs, torch.autograd imports sympy, 3 s)
        surrogate = (torch.stack(hs) * dh_out).sum()
        grads = torch.autograd.grad(surrogate, [*leaves.values(), xs, *states],  # type: ignore[list-item]
                                    allow_unused=True, materialize_grads=True)
    K = len(hs)
    totals = dict(zip(leaves, grads[:len(leaves)], strict=True))
    dx, rest = grads[len(leaves)], grads[len(leaves) + 1:]
    dh_in = torch.stack(rest[:K])  # [dh0, dh_future of steps 0 .. K-2]
    zero = torch.zeros_like(dh_in[:1])
    dh_future = torch.cat([dh_in[1:], zero])
    dc_future = dc0 = None
    if c is not None:
        dc_in = torch.stack(rest[K:])
        dc_future, dc0 = torch.cat([dc_in[1:], torch.zeros_like(dc_in[:1])]), dc_in[0]
    return Fused(totals, dh_future, dc_future, dx, dh_in[0], dc0)
