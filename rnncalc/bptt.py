r"""Backpropagation through time, step by step, from hand-derived equations (no autograd).

The backward recursion visits the steps of each layer and direction in the reverse of the order
they were computed (a forward direction from ``t = T-1`` down to 0, a backward direction from 0 up).
At each step

.. math::
    \delta h_t = \delta h^{out}_t + \delta h^{fut}_t
    (\delta h^{out}_t: from the head, or from the layer above; \delta h^{fut}_t: from step t+1)

then one cell's backward step gives the gradient of every gate's pre-activation ``\delta a``, and

.. math::
    \Delta W_{ih} = \delta a \otimes x_t          \Delta W_{hh} = \delta a^{h} \otimes h_{t-1}
    \Delta b_{ih} = \delta a                      \Delta b_{hh} = \delta a^{h}
    \delta x_t = W_{ih}^\top \delta a             \delta h^{fut}_{t-1} = W_{hh}^\top \delta a^{h}

are this step's contributions (``\delta a^{h} = \delta a`` except where a cell treats the hidden
side apart: GRU's ``n``). The totals are the sums of the contributions, per layer and direction.

Each cell's own equations are its backward step's docstring, in its module (:mod:`rnncalc.cells`):
``rnn.backward``, ``lstm.backward`` (with the LSTM's options), ``gru.backward``,
``indrnn.backward``. ``clip`` passes a gradient only where the pre-activation was inside
``(-clip, clip)`` (``\delta a`` is for the pre-activation before the clamp; a value exactly at
the bound counts as clipped).

**Truncation** (``truncate=K``): each layer and direction differentiates only its last ``K`` steps
computed; the state entering them, and everything before, is a constant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rnncalc.bptt_fused import Fused, fused
from rnncalc.cells import CellGrad, Params, spec
from rnncalc.cells._spec import unclipped
from rnncalc.cells.activations import apply, slope
from rnncalc.engine import params as _params
from rnncalc.errors import RnncalcError
from rnncalc.formulation import Formulation
from rnncalc.gradnames import in_layout
from rnncalc.limits import check_finite
from rnncalc.loss import LossGrad, loss_grad
from rnncalc.model import EXTRA_PARAMS, PARAMS, Exercise, Loss, gate_weight_names, param_name
from rnncalc.rounding import rounding
from rnncalc.steps import shown
from rnncalc.trace import DirectionTrace, Trace

__all__ = ["CellGrad", "DirectionGrad", "GradTrace", "backprop", "gate_weight_names", "slope",
           "unclipped"]


def _list(t: torch.Tensor | None) -> Any:
    return None if t is None else t.tolist()


@dataclass(frozen=True)
class DirectionGrad:
    """The backward recursion through one layer and direction; blocks ``[K, ...]`` in the order
    computed by the recursion (the reverse of the forward order), one row per step selected
    (``backprop``'s ``steps``); the totals and ``dh0``, ``dc0`` are over every step."""

    layer: int
    direction: str
    gates: tuple[str, ...]
    order: tuple[int, ...]  # t of every step the recursion went through, in its order
    positions: tuple[int, ...]  # t of each row held (steps selected, in the same order)
    dh_out: torch.Tensor  # [K, H] from the output (head or layer above)
    dh_future: torch.Tensor  # [K, H] from step t+1 (t-1 for a backward direction)
    dh: torch.Tensor  # [K, H] their sum
    dc_future: torch.Tensor | None  # [K, H] lstm
    dc: torch.Tensor | None  # [K, H] lstm
    dpre: dict[str, torch.Tensor]  # gate -> [K, H]
    contrib: dict[str, torch.Tensor]  # weight_ih [K, G*H, H_in], weight_hh, bias_ih, bias_hh
    # (and EXTRA_PARAMS an lstm's options have)
    dx: torch.Tensor  # [K, H_in]
    dh0: torch.Tensor | None  # dL/d(initial h), when the recursion reached the first step
    dc0: torch.Tensor | None
    totals: dict[str, torch.Tensor]  # PyTorch names (weight_ih_l0, ...) -> sum of contributions
    dc_out: torch.Tensor | None = None  # [K, H] lstm: dL/dc_t given from above (upstream_c)
    slopes: dict[str, torch.Tensor] | None = None  # gate -> [K, H] act'(pre), what dpre used
    tanh_c: torch.Tensor | None = None  # [K, H] lstm: the cell output's activation of c_t

    @property
    def extra_kinds(self) -> tuple[str, ...]:
        """The options' parameters (``weight_hr``, ``peephole``) this recursion has."""
        return tuple(kind for kind in EXTRA_PARAMS if kind in self.contrib)

    def gate_blocks(self, kind: str, k: int) -> dict[str, torch.Tensor]:
        """Row ``k``'s contribution to ``kind`` (``weight_ih``, ...) cut into per-gate blocks,
        named like the forward weights: ``{"W_ii": ..., "W_if": ...}``."""
        if kind in EXTRA_PARAMS:  # weight_hr: one [P, H] block; peephole [3, H]: a row per gate
            row = self.contrib[kind][k]
            return dict(zip(EXTRA_PARAMS[kind], row[None] if kind == "weight_hr" else row,
                            strict=True))
        blocks = self.contrib[kind][k].chunk(len(self.gates), dim=0)
        index = PARAMS.index(kind)
        return {gate_weight_names(g)[index]: b for g, b in zip(self.gates, blocks, strict=True)}

    def to_list(self, bias: bool) -> list[dict[str, Any]]:
        kinds = PARAMS if bias else PARAMS[:2]
        rows = []
        for k, t in enumerate(self.positions):
            row: dict[str, Any] = {
                "t": t, "dh_out": _list(self.dh_out[k]), "dh_future": _list(self.dh_future[k]),
                "dh": _list(self.dh[k]),
            }
            if self.dc is not None and self.dc_future is not None:
                if self.dc_out is not None:
                    row["dc_out"] = _list(self.dc_out[k])
                row["dc_future"], row["dc"] = _list(self.dc_future[k]), _list(self.dc[k])
            if self.tanh_c is not None:
                row["tanh_c"] = _list(self.tanh_c[k])
            if self.slopes is not None:
                row["slope"] = {g: _list(v[k]) for g, v in self.slopes.items()}
            row["dpre"] = {g: _list(v[k]) for g, v in self.dpre.items()}
            row["dW"] = {n: _list(b) for kind in (*kinds[:2], *self.extra_kinds)
                         for n, b in self.gate_blocks(kind, k).items()}
            if bias:
                row["db"] = {n: _list(b) for kind in kinds[2:]
                             for n, b in self.gate_blocks(kind, k).items()}
            row["dx"] = _list(self.dx[k])
            rows.append(row)
        return rows


@dataclass(frozen=True)
class GradTrace:
    """Everything ``rnncalc grad`` shows: the loss, the head's gradients, every step, the totals."""

    loss: Loss
    value: float | None  # the loss (None with upstream)
    at: str | None  # "final" (the head on the final state) | "steps" | None (upstream)
    z: torch.Tensor | None  # [n, d_out] the head's outputs the loss reads
    target: torch.Tensor | None
    dz: torch.Tensor | None  # [n, d_out] dL/dz
    h_head: torch.Tensor | None  # [n, width] what the head read (None with upstream)
    dh_head: torch.Tensor  # [n, width] dL/d(what the head reads); the upstream given: [T, width]
    layers: tuple[dict[str, DirectionGrad], ...]  # [layer][direction]
    params: dict[str, torch.Tensor]  # PyTorch names, then head.W, head.b
    truncate: int | None
    terms: torch.Tensor | None = None  # [n] each term's share of the loss (they add up to it)
    written: dict[str, Any] | None = None  # the totals in the config's own layout (gradnames)

    def to_dict(self) -> dict[str, Any]:
        """The ``grad`` object of the JSON output (README, "rnncalc grad")."""
        out: dict[str, Any] = {"loss_type": self.loss.type}
        if self.value is not None:
            out["loss"] = self.value
            out["reduction"] = self.loss.reduction
            out["head"] = {"at": self.at, "z": _list(self.z), "target": _list(self.target),
                           "dz": _list(self.dz), "dh": _list(self.dh_head),
                           "terms": _list(self.terms)}
        else:
            out["upstream"] = _list(self.dh_head)
            if self.loss.upstream_c is not None:
                out["upstream_c"] = [list(row) for row in self.loss.upstream_c]
        if self.truncate is not None:
            out["truncate"] = self.truncate
        bias = any(name.startswith("bias_") for name in self.params)
        out["steps"] = [
            {"layer": k, "directions": {d: g.to_list(bias) for d, g in dirs.items()}}
            for k, dirs in enumerate(self.layers)
        ]
        grads = [g for dirs in self.layers for g in dirs.values()]  # PyTorch's h_0 order
        if all(g.dh0 is not None for g in grads):
            out["initial"] = {"h": [_list(g.dh0) for g in grads]}
            if grads[0].dc0 is not None:
                out["initial"]["c"] = [_list(g.dc0) for g in grads]
        out["params"] = {name: _list(v) for name, v in self.params.items()}
        if self.written is not None:  # beside the state_dict names, the config's own
            out["params_as_written"] = self.written
        return out


def _check_supported(ex: Exercise) -> None:
    """Refuse, rather than guess, what has no backward formula here yet."""
    spec(ex.cell)  # an unknown cell: an error, never another cell's backward step
    if ex.loss is None:
        raise RnncalcError(f"{ex.source}: rnncalc grad needs a loss (loss: {{type, target}} on a "
                           "head) or upstream gradients (upstream: one dL/d output_t per position)")


def unmerge(d: torch.Tensor, parts: list[torch.Tensor], mode: str) -> list[torch.Tensor]:
    """The gradient reaching each direction's ``h`` from ``d``, the gradient of their merge:
    concat: its slices; sum: ``d``; ave: ``d / 2``; mul: ``d`` times the other direction's ``h``."""
    if len(parts) == 1:
        return [d]
    if mode == "concat":
        return list(d.split([p.shape[-1] for p in parts], dim=-1))
    if mode == "mul":
        return [d * parts[1], d * parts[0]]
    return [d / 2, d / 2] if mode == "ave" else [d, d]


def backprop(trace: Trace, truncate: int | None = None, round_to: int | None = None,
             steps: str | None = "all") -> GradTrace:
    """Backpropagate ``trace.exercise.loss`` through the head, then every layer, top down;
    ``round_to=N`` rounds every backward intermediate to ``N`` decimals before it is used further
    (:mod:`rnncalc.rounding`), as the forward trace of ``rnncalc.run(ex, round_to=N)`` does.

    ``steps`` selects the steps whose rows (every ``dL/d`` and each parameter's contribution) are
    worked out, as ``--steps`` does for a table (:mod:`rnncalc.steps`; ``None``: the
    tables' default, the first and last few of a long run); the totals are over every step."""
    ex = trace.exercise
    _check_supported(ex)
    assert ex.loss is not None
    if truncate is not None and truncate < 1:
        raise RnncalcError(f"--truncate: expected a number of steps >= 1, got {truncate}")
    dtype = trace.output.dtype
    with torch.no_grad(), rounding(round_to):
        lg, at, z, head_params, dh_head, d_dirs = _head_backward(trace, ex.loss)
        dc_dirs: list[torch.Tensor | None] = [None] * ex.num_directions
        if ex.loss.upstream_c is not None:  # the top layer's c, directions joined
            up_c = torch.tensor(ex.loss.upstream_c, dtype=dtype)
            dc_dirs = list(up_c.split(ex.hidden_size, dim=-1))
        layers: list[dict[str, DirectionGrad]] = []
        for layer in reversed(range(ex.num_layers)):
            lt = trace.layers[layer]
            dirs = {}
            d_input = torch.zeros(ex.steps, len(lt.directions[ex.directions[0]].x[0]), dtype=dtype)
            for d, direction in enumerate(ex.directions):
                tr = lt.directions[direction]
                p = _params(ex.weights[layer][d], dtype)
                g, dx = _direction(ex, p, tr, d_dirs[d], truncate, steps, round_to is not None,
                                   dc_dirs[d])
                dirs[direction] = g
                d_input[list(tr.positions)] += dx
            layers.insert(0, dirs)
            dc_dirs = [None] * ex.num_directions  # given for the top layer only
            if layer:
                below = trace.layers[layer - 1].directions
                d_dirs = unmerge(d_input, [_by_position(below[d]) for d in ex.directions],
                                 ex.merge_mode)
        totals = {name: v for dirs in layers for g in dirs.values() for name, v in g.totals.items()
                  if ex.bias or not name.startswith("bias_")}
        grad = GradTrace(
            loss=ex.loss, value=None if lg is None else lg.value, at=at, z=z,
            target=None if lg is None else lg.target, dz=None if lg is None else lg.dz,
            h_head=None if lg is None or trace.head is None else (
                trace.output if at == "steps" else trace.head.final_input[None]),
            dh_head=dh_head, layers=tuple(layers), params={**totals, **head_params},
            truncate=truncate, terms=None if lg is None else lg.terms,
            written=in_layout(ex, totals),
        )
        check_finite(grad, ex.source, "grad")  # a loss of 1e600 is no answer
        return grad


def _slopes(form: Formulation, tr: DirectionTrace, ks: Sequence[int]
            ) -> dict[str, torch.Tensor]:
    """``act'(pre)`` of every gate at the steps ``ks``: the derivatives the backward steps use
    (``sigmoid'(a) = s (1 - s)``, ``tanh'(a) = 1 - tanh^2 a``, ...), a sheet's own column."""
    rows = list(ks)
    roles = spec(form.cell).gate_roles  # a cell declaring none: its one activation
    return {g: slope(form.act[roles[g]] if g in roles else form.activations[0], tr.pre[g][rows],
                     tr.act[g][rows])
            for g in tr.pre}


def _by_position(tr: DirectionTrace) -> torch.Tensor:
    return tr.h if tr.direction == "forward" else tr.h.flip(0)


def _head_backward(trace: Trace, loss: Loss) -> tuple[
        LossGrad | None, str | None, torch.Tensor | None, dict[str, torch.Tensor], torch.Tensor,
        list[torch.Tensor]]:
    r"""The loss at the head, and back through it (``z = W h + b``):

    .. math::
        \partial L/\partial W = \sum_n \delta z_n \otimes h_n      \partial L/\partial b =
        \sum_n \delta z_n      \partial L/\partial h_n = W^\top \delta z_n

    ``h_n`` is the top layer's output at each position, or its final state (``h_{T-1}`` forward
    and, in a bidirectional net, the backward state at position 0). Returns the loss, where the
    head was read, its outputs, the head's parameter gradients, ``dL/dh_n``, and the gradient
    reaching each direction's ``h`` by position ``[T, H]``.
    """
    ex = trace.exercise
    dtype = trace.output.dtype
    top = [trace.layers[-1].directions[d] for d in ex.directions]
    by_pos = [_by_position(tr) for tr in top]
    if loss.type == "upstream":
        assert loss.upstream is not None
        up = torch.tensor(loss.upstream, dtype=dtype)
        return None, None, None, {}, up, unmerge(up, by_pos, ex.merge_mode)
    head = trace.head
    assert head is not None and ex.head is not None
    at = "steps" if loss.targets is not None else "final"
    h = trace.output if at == "steps" else head.final_input[None]
    z = head.logits_t if at == "steps" else head.logits[None]
    lg = loss_grad(loss, z)
    W = torch.tensor(ex.head.W, dtype=dtype)
    params = {"head.W": lg.dz.T @ h, "head.b": lg.dz.sum(0)}
    dh = lg.dz @ W
    if at == "steps":
        return lg, at, z, params, dh, unmerge(dh, by_pos, ex.merge_mode)
    finals = [tr.h[-1] for tr in top]  # forward: position T-1; backward: position 0
    d_dirs = []
    for tr, d_final in zip(top, unmerge(dh[0], finals, ex.merge_mode), strict=True):
        d = torch.zeros_like(tr.h)
        d[tr.positions[-1]] = d_final
        d_dirs.append(d)
    return lg, at, z, params, dh, d_dirs


def _direction(ex: Exercise, p: Params, tr: DirectionTrace, dh_out_by_pos: torch.Tensor,
               truncate: int | None, steps: str | None, exact: bool,
               dc_out_by_pos: torch.Tensor | None = None) -> tuple[DirectionGrad, torch.Tensor]:
    """The recursion through one layer and direction, last step computed first; and ``dL/dx_t``
    of every step, by the index computed (what the layer below receives). An LSTM's
    ``dc_out_by_pos`` (dL/dc_t given from above) joins dL/dc_t from the future.

    The totals and the gradients passed between steps come from one fused pass
    (:mod:`rnncalc.bptt_fused`); the cell's backward step runs only at the rows ``steps`` selects
    (:mod:`rnncalc.steps`). ``exact``: a rounded run (``--round``) differentiates step by
    step, as on paper, each intermediate rounded; its totals are the sums of the contributions.
    """
    backward = spec(ex.cell).backward
    form = ex.formulation_of(tr.direction)
    T = len(tr.positions)
    first = 0 if truncate is None else max(0, T - truncate)
    ks = range(T - 1, first - 1, -1)
    dh_out = dh_out_by_pos[list(tr.positions[first:])]  # [K, H] the order computed, from first
    dc_out = None if dc_out_by_pos is None else dc_out_by_pos[list(tr.positions[first:])]
    every = [tr.positions[k] for k in reversed(range(T))]  # selections count every step
    picked = {every[k] for k in shown(every, steps) if k is not None}
    held = [k for k in ks if tr.positions[k] in picked]
    at = [k - first for k in held]
    f = (_stepwise if exact else fused)(ex.cell, form, p, tr, dh_out, first, at, dc_out)
    rows = [backward(p, tr.step(k), dh_out[j] + f.dh_future[i],
                     None if f.dc_future is None else
                     f.dc_future[i] if dc_out is None else f.dc_future[i] + dc_out[j], form)
            for i, (k, j) in enumerate(zip(held, at, strict=True))]
    contrib = {kind: _stack([getattr(cg, kind) for cg in rows], getattr(p, kind))
               for kind in PARAMS}
    contrib.update({kind: _stack([cg.extra[kind] for cg in rows], getattr(p, kind))
                    for kind in EXTRA_PARAMS if getattr(p, kind) is not None})
    lstm = tr.c is not None
    H = tr.h.shape[-1]
    return DirectionGrad(
        layer=tr.layer, direction=tr.direction, gates=tuple(tr.pre),
        order=tuple(tr.positions[k] for k in ks), positions=tuple(tr.positions[k] for k in held),
        dh_out=dh_out[at], dh_future=f.dh_future, dh=dh_out[at] + f.dh_future,
        dc_future=f.dc_future,
        dc=torch.stack([cg.dc for cg in rows]) if lstm and rows else (  # type: ignore[misc]
            tr.h.new_zeros(0, H) if lstm else None),
        dpre={g: torch.stack([cg.dpre[g] for cg in rows]) if rows else tr.h.new_zeros(0, H)
              for g in tr.pre},
        contrib=contrib,
        dx=torch.stack([cg.dx for cg in rows]) if rows else tr.x.new_zeros(0, tr.x.shape[-1]),
        dh0=f.dh0 if first == 0 else None, dc0=f.dc0 if first == 0 else None,
        dc_out=None if dc_out is None else dc_out[at],
        slopes=_slopes(form, tr, held),
        tanh_c=None if tr.c is None else apply(form.act["cell_output"], tr.c[held]),
        # a one-direction net run in reverse keeps the forward names, as its config gives them
        totals={param_name(kind, tr.layer, tr.direction if ex.bidirectional else "forward"): v
                for kind, v in f.totals.items()},
    ), torch.cat([tr.x.new_zeros(first, tr.x.shape[-1]), f.dx])


def _stack(blocks: list[torch.Tensor], param: torch.Tensor) -> torch.Tensor:
    return torch.stack(blocks) if blocks else param.new_zeros(0, *param.shape)


def _stepwise(cell: str, form: Formulation, p: Params, tr: DirectionTrace, dh_out: torch.Tensor,
              first: int, rows: list[int], dc_out: torch.Tensor | None = None) -> Fused:
    """:func:`~rnncalc.bptt_fused.fused`, by the backward recursion one step at a time, as a
    hand-worked sheet does it (under ``--round``, every intermediate rounded before the next step
    reads it)."""
    backward = spec(cell).backward
    T = len(tr.positions)
    dh_future = torch.zeros(tr.h.shape[-1], dtype=tr.h.dtype)
    dc_future = None if tr.c is None else torch.zeros_like(tr.c[0])  # [H] (h: [P] if projected)
    futures: list[tuple[torch.Tensor, torch.Tensor | None]] = []
    cgs = []
    for k in range(T - 1, first - 1, -1):
        futures.append((dh_future, dc_future))
        dc_in = dc_future if dc_out is None or dc_future is None else dc_future + dc_out[k - first]
        cg = backward(p, tr.step(k), dh_out[k - first] + dh_future, dc_in, form)
        cgs.append(cg)
        dh_future, dc_future = cg.dh_prev, cg.dc_prev
    futures.reverse()
    cgs.reverse()
    totals = {kind: torch.stack([getattr(cg, kind) for cg in cgs]).sum(0) for kind in PARAMS}
    totals.update({kind: torch.stack([cg.extra[kind] for cg in cgs]).sum(0)
                   for kind in EXTRA_PARAMS if kind in cgs[0].extra})
    chosen = [futures[j] for j in rows]
    return Fused(
        totals, _stack([f[0] for f in chosen], dh_future),
        None if dc_future is None else _stack([f[1] for f in chosen], dc_future),  # type: ignore[misc]
        torch.stack([cg.dx for cg in cgs]), dh_future, dc_future)
