r"""Backpropagation through time, step by step, from hand-derived equations (no autograd), on the
trace's own arrays: numpy for a small exercise computed without torch, torch tensors for
:func:`rnncalc.run`'s trace (the cells' backward steps are written once, against the array API).

The backward recursion visits the steps of each layer and direction in the reverse of the order
they were computed (a forward direction from ``t = T-1`` down to 0, a backward direction from 0 up).
At each step

.. math::
    \delta h_t = \delta h^{out}_t + \delta h^{fut}_t
    (\delta h^{out}_t: from the head, or from the layer above; \delta h^{fut}_t: from step t+1)

then one cell's backward step gives the gradient of every gate's pre-activation, on the input side
``\delta a`` and on the hidden side ``\delta a^{h}`` (``= \delta a`` except where a cell treats the
hidden side apart: GRU's ``n``), and the gradient passed on,
``\delta h^{fut}_{t-1} = W_{hh}^\top \delta a^{h}`` (and an LSTM's ``\delta c^{fut}_{t-1}``).
That is all the loop computes. Each step's contributions

.. math::
    \Delta W_{ih} = \delta a \otimes x_t          \Delta W_{hh} = \delta a^{h} \otimes h_{t-1}
    \Delta b_{ih} = \delta a                      \Delta b_{hh} = \delta a^{h}

are kept as the vectors they are products of (:class:`rnncalc.cells.CellGrad`), worked out only
for the rows shown; after the recursion the totals are block products over all the ``K`` steps
differentiated, the steps' vectors stacked ``[K, ...]``:

.. math::
    \partial L/\partial W_{ih} = \Delta A^\top X \qquad
    \partial L/\partial W_{hh} = \Delta A_h^\top H_{prev} \qquad
    \partial L/\partial b_{ih} = \textstyle\sum_t \delta a_t \qquad
    \delta X = \Delta A \, W_{ih}

(``[K, G H]^\top [K, H_{in}]``; per gate block where a block reads another vector, a GRU's ``n``
before reset ``r \odot h_{t-1}``; IndRNN's vector ``w_{hh}``: ``\sum_t \delta a^h_t \odot h_{t-1}``;
an LSTM's ``weight_hr`` and peepholes alike). ``--round`` (each intermediate rounded, a torch
function mode) keeps the contributions of every step, each rounded, and adds them up, as a sheet
does.

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

import numpy as np

from rnncalc.arrays import chunks, namespace
from rnncalc.cells import CellGrad, Params, spec
from rnncalc.cells._spec import total, unclipped
from rnncalc.cells.activations import apply, slope
from rnncalc.engine import arithmetic
from rnncalc.engine import params as _params
from rnncalc.errors import RnncalcError
from rnncalc.formulation import Formulation
from rnncalc.gradnames import in_layout
from rnncalc.limits import check_finite
from rnncalc.loss import LossGrad, loss_grad
from rnncalc.model import EXTRA_PARAMS, PARAMS, Exercise, Loss, gate_weight_names, param_name
from rnncalc.steps import shown
from rnncalc.trace import DirectionTrace, Trace

__all__ = ["CellGrad", "DirectionGrad", "GradTrace", "backprop", "gate_weight_names", "slope",
           "unclipped"]


#: A numpy array or a torch tensor (the trace's own kind).
Array = Any


def _list(t: Any) -> Any:
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
    dh_out: Array  # [K, H] from the output (head or layer above)
    dh_future: Array  # [K, H] from step t+1 (t-1 for a backward direction)
    dh: Array  # [K, H] their sum
    dc_future: Array | None  # [K, H] lstm
    dc: Array | None  # [K, H] lstm
    dpre: dict[str, Array]  # gate -> [K, H]
    contrib: dict[str, Array]  # weight_ih [K, G*H, H_in], weight_hh, bias_ih, bias_hh
    # (and EXTRA_PARAMS an lstm's options have)
    dx: Array  # [K, H_in]
    dh0: Array | None  # dL/d(initial h), when the recursion reached the first step
    dc0: Array | None
    totals: dict[str, Array]  # PyTorch names (weight_ih_l0, ...) -> sum of contributions
    dc_out: Array | None = None  # [K, H] lstm: dL/dc_t given from above (upstream_c)
    slopes: dict[str, Array] | None = None  # gate -> [K, H] act'(pre), what dpre used
    tanh_c: Array | None = None  # [K, H] lstm: the cell output's activation of c_t

    @property
    def extra_kinds(self) -> tuple[str, ...]:
        """The options' parameters (``weight_hr``, ``peephole``) this recursion has."""
        return tuple(kind for kind in EXTRA_PARAMS if kind in self.contrib)

    def gate_blocks(self, kind: str, k: int) -> dict[str, Array]:
        """Row ``k``'s contribution to ``kind`` (``weight_ih``, ...) cut into per-gate blocks,
        named like the forward weights: ``{"W_ii": ..., "W_if": ...}``."""
        if kind in EXTRA_PARAMS:  # weight_hr: one [P, H] block; peephole [3, H]: a row per gate
            row = self.contrib[kind][k]
            return dict(zip(EXTRA_PARAMS[kind], row[None] if kind == "weight_hr" else row,
                            strict=True))
        blocks = chunks(self.contrib[kind][k], len(self.gates), axis=0)
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
    z: Array | None  # [n, d_out] the head's outputs the loss reads
    target: Array | None
    dz: Array | None  # [n, d_out] dL/dz
    h_head: Array | None  # [n, width] what the head read (None with upstream)
    dh_head: Array  # [n, width] dL/d(what the head reads); the upstream given: [T, width]
    layers: tuple[dict[str, DirectionGrad], ...]  # [layer][direction]
    params: dict[str, Array]  # PyTorch names, then head.W, head.b
    truncate: int | None
    terms: Array | None = None  # [n] each term's share of the loss (they add up to it)
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


def unmerge(d: Array, parts: list[Array], mode: str) -> list[Array]:
    """The gradient reaching each direction's ``h`` from ``d``, the gradient of their merge:
    concat: its slices; sum: ``d``; ave: ``d / 2``; mul: ``d`` times the other direction's ``h``."""
    if len(parts) == 1:
        return [d]
    if mode == "concat":
        width = parts[0].shape[-1]
        return [d[..., :width], d[..., width:]]
    if mode == "mul":
        return [d * parts[1], d * parts[0]]
    return [d / 2, d / 2] if mode == "ave" else [d, d]


def backprop(trace: Trace, truncate: int | None = None, round_to: int | None = None,
             steps: str | None = "all") -> GradTrace:
    """Backpropagate ``trace.exercise.loss`` through the head, then every layer, top down, on the
    trace's arrays (numpy or torch; the gradients are of the same kind); ``round_to=N`` rounds
    every backward intermediate to ``N`` decimals before it is used further
    (:mod:`rnncalc.rounding`, a torch trace), as the forward trace of
    ``rnncalc.run(ex, round_to=N)`` does.

    ``steps`` selects the steps whose rows (every ``dL/d`` and each parameter's contribution) are
    worked out, as ``--steps`` does for a table (:mod:`rnncalc.steps`; ``None``: the
    tables' default, the first and last few of a long run); the totals are over every step."""
    ex = trace.exercise
    _check_supported(ex)
    assert ex.loss is not None
    if truncate is not None and truncate < 1:
        raise RnncalcError(f"--truncate: expected a number of steps >= 1, got {truncate}")
    dtype = trace.output.dtype
    xp = namespace(trace.output)
    with arithmetic(isinstance(trace.output, np.ndarray), round_to):
        lg, at, z, head_params, dh_head, d_dirs = _head_backward(trace, ex.loss)
        dc_dirs: list[Array | None] = [None] * ex.num_directions
        if ex.loss.upstream_c is not None:  # the top layer's c, directions joined
            up_c = xp.asarray(ex.loss.upstream_c, dtype=dtype)
            dc_dirs = [up_c[..., d * ex.hidden_size:(d + 1) * ex.hidden_size]
                       for d in range(ex.num_directions)]
        layers: list[dict[str, DirectionGrad]] = []
        for layer in reversed(range(ex.num_layers)):
            lt = trace.layers[layer]
            dirs = {}
            d_input = xp.zeros((ex.steps, lt.directions[ex.directions[0]].x.shape[-1]),
                               dtype=dtype)
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


def _slopes(form: Formulation, tr: DirectionTrace, ks: Sequence[int]) -> dict[str, Array]:
    """``act'(pre)`` of every gate at the steps ``ks``: the derivatives the backward steps use
    (``sigmoid'(a) = s (1 - s)``, ``tanh'(a) = 1 - tanh^2 a``, ...), a sheet's own column."""
    rows = list(ks)
    roles = spec(form.cell).gate_roles  # a cell declaring none: its one activation
    return {g: slope(form.act[roles[g]] if g in roles else form.activations[0], tr.pre[g][rows],
                     tr.act[g][rows])
            for g in tr.pre}


def _by_position(tr: DirectionTrace) -> Array:
    return tr.h if tr.direction == "forward" else namespace(tr.h).flip(tr.h, axis=0)


def _head_backward(trace: Trace, loss: Loss) -> tuple[
        LossGrad | None, str | None, Array | None, dict[str, Array], Array, list[Array]]:
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
    xp = namespace(trace.output)
    top = [trace.layers[-1].directions[d] for d in ex.directions]
    by_pos = [_by_position(tr) for tr in top]
    if loss.type == "upstream":
        assert loss.upstream is not None
        up = xp.asarray(loss.upstream, dtype=dtype)
        return None, None, None, {}, up, unmerge(up, by_pos, ex.merge_mode)
    head = trace.head
    assert head is not None and ex.head is not None
    at = "steps" if loss.targets is not None else "final"
    h = trace.output if at == "steps" else head.final_input[None]
    z = head.logits_t if at == "steps" else head.logits[None]
    lg = loss_grad(loss, z)
    W = xp.asarray(ex.head.W, dtype=dtype)
    params = {"head.W": lg.dz.T @ h, "head.b": lg.dz.sum(0)}
    dh = lg.dz @ W
    if at == "steps":
        return lg, at, z, params, dh, unmerge(dh, by_pos, ex.merge_mode)
    finals = [tr.h[-1] for tr in top]  # forward: position T-1; backward: position 0
    d_dirs = []
    for tr, d_final in zip(top, unmerge(dh[0], finals, ex.merge_mode), strict=True):
        d = xp.zeros_like(tr.h)
        d[tr.positions[-1]] = d_final
        d_dirs.append(d)
    return lg, at, z, params, dh, d_dirs


def _direction(ex: Exercise, p: Params, tr: DirectionTrace, dh_out_by_pos: Array,
               truncate: int | None, steps: str | None, exact: bool,
               dc_out_by_pos: Array | None = None) -> tuple[DirectionGrad, Array]:
    """The recursion through one layer and direction, last step computed first; and ``dL/dx_t``
    of every step, by the index computed (what the layer below receives). An LSTM's
    ``dc_out_by_pos`` (dL/dc_t given from above) joins dL/dc_t from the future.

    The loop runs the cell's backward step at every step differentiated and keeps its vectors;
    the totals and ``dL/dx`` are block products over them (:func:`_totals`), the contributions
    are worked out for the rows ``steps`` selects (:mod:`rnncalc.steps`) alone. ``exact``: a
    rounded run (``--round``), whose totals are the sums of the rounded contributions.
    """
    backward = spec(ex.cell).backward
    form = ex.formulation_of(tr.direction)
    xp = namespace(tr.h)
    T = len(tr.positions)
    first = 0 if truncate is None else max(0, T - truncate)
    ks = range(T - 1, first - 1, -1)
    dh_out = dh_out_by_pos[list(tr.positions[first:])]  # [K, H] the order computed, from first
    dc_out = None if dc_out_by_pos is None else dc_out_by_pos[list(tr.positions[first:])]
    every = [tr.positions[k] for k in reversed(range(T))]  # selections count every step
    picked = {every[k] for k in shown(every, steps) if k is not None}
    held = [k for k in ks if tr.positions[k] in picked]
    dh_future = xp.zeros_like(tr.h[0])  # [H] ([P] if projected)
    dc_future = None if tr.c is None else xp.zeros_like(tr.c[0])
    futures: dict[int, tuple[Array, Array | None]] = {}
    cgs: list[CellGrad] = []
    for k in ks:
        j = k - first
        futures[k] = (dh_future, dc_future)
        dc = dc_future if dc_out is None or dc_future is None else dc_future + dc_out[j]
        cg = backward(p, tr.step(k), dh_out[j] + dh_future, dc, form)
        cgs.append(cg)
        dh_future, dc_future = cg.dh_prev, cg.dc_prev
    cgs.reverse()  # the order computed, from first
    rows = [cgs[k - first] for k in held]
    at = [k - first for k in held]
    totals, dx = _totals(cgs, p, exact)
    contrib = {kind: _stack([getattr(cg, kind) for cg in rows], getattr(p, kind))
               for kind in PARAMS}
    contrib.update({kind: _stack([cg.extra[kind] for cg in rows], getattr(p, kind))
                    for kind in EXTRA_PARAMS if getattr(p, kind) is not None})
    dh_future_rows = _stack([futures[k][0] for k in held], tr.h[0])
    return DirectionGrad(
        layer=tr.layer, direction=tr.direction, gates=tuple(tr.pre),
        order=tuple(tr.positions[k] for k in ks), positions=tuple(tr.positions[k] for k in held),
        dh_out=dh_out[at], dh_future=dh_future_rows, dh=dh_out[at] + dh_future_rows,
        dc_future=None if tr.c is None else _stack([futures[k][1] for k in held], tr.c[0]),
        dc=None if tr.c is None else _stack([cg.dc for cg in rows], tr.c[0]),
        dpre={g: _stack([cg.dpre[g] for cg in rows], tr.pre[g][0]) for g in tr.pre},
        contrib=contrib,
        dx=dx[at],
        dh0=dh_future if first == 0 else None, dc0=dc_future if first == 0 else None,
        dc_out=None if dc_out is None else dc_out[at],
        slopes=_slopes(form, tr, held),
        tanh_c=None if tr.c is None else apply(form.act["cell_output"], tr.c[held]),
        # a one-direction net run in reverse keeps the forward names, as its config gives them
        totals={param_name(kind, tr.layer, tr.direction if ex.bidirectional else "forward"): v
                for kind, v in totals.items()},
    ), xp.concat([xp.zeros((first, tr.x.shape[-1]), dtype=tr.x.dtype), dx])


def _totals(cgs: list[CellGrad], p: Params, exact: bool) -> tuple[dict[str, Array], Array]:
    """The totals over the steps' gradients ``cgs`` (by the order computed) and ``dL/dx_t`` of
    every one ``[K, H_in]``: block products (:func:`rnncalc.cells._spec.total`; ``\\delta X =
    \\Delta A W_{ih}``); ``exact`` (``--round``): every step's contribution, rounded, then their
    sums, as a sheet adds them."""
    xp = namespace(cgs[0].da)
    kinds = [*PARAMS, *(k for k in EXTRA_PARAMS if getattr(p, k) is not None)]
    if exact:
        return ({kind: xp.stack([getattr(cg, kind) if kind in PARAMS else cg.extra[kind]
                                 for cg in cgs]).sum(0) for kind in kinds},
                xp.stack([cg.dx for cg in cgs]))
    da = xp.stack([cg.da for cg in cgs])
    da_h = da if all(cg.da_h is cg.da for cg in cgs) else xp.stack([cg.da_h for cg in cgs])
    sums = {"bias_ih": xp.sum(da, axis=0), "bias_hh": xp.sum(da_h, axis=0)}
    lefts = {"weight_ih": da, "weight_hh": da_h}  # (what the products' left vectors stack to)
    return ({kind: sums[kind] if kind in sums else
             total([cg.products[kind] for cg in cgs], lefts.get(kind)) for kind in kinds},
            da @ p.weight_ih)


def _stack(blocks: list[Array], like: Array) -> Array:
    """``blocks`` stacked ``[K, ...]``; none: ``[0, ...]`` of ``like``'s shape."""
    xp = namespace(like)
    return xp.stack(blocks) if blocks else xp.zeros((0, *like.shape), dtype=like.dtype)
