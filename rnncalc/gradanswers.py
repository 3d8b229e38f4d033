"""Gradient answers: what ``rnncalc grad`` shows, under ``grad:`` in an answers file, marked as the
forward answers are (:mod:`rnncalc.check`): where each comes in the backward order, its name as a
sheet writes it, and what the student's own earlier gradients give (a carried error).

Carried, from the student's own numbers (the forward values are the exact ones):

- ``dh_t = dh_out + dh_future``;
- a step's ``dpre``, ``dc``, ``dx``, and the next step's ``dh_future``/``dc_future`` (and the
  ``initial`` ones), by the cell's own backward step from the student's ``dh_t`` and
  ``dc_future``;
- a step's ``dW`` of an input weight, ``dpre_g x_t^T``; of a recurrent weight, ``dpre_g h_{t-1}^T``
  (RNN and LSTM without projection), and ``db`` is ``dpre_g``, from the student's ``dpre``; other
  blocks (a GRU's ``W_hn``, ``b_hn``) by the backward step from their ``dh_t``;
- a parameter's total, the sum of the step's ``dW``/``db`` over the steps;
- the head's ``dh = dz W``, ``head.W`` total ``sum_n dz_n h_n^T``, ``head.b`` ``sum_n dz_n``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rnncalc.cells import CELLS
from rnncalc.expr import subscript

if TYPE_CHECKING:
    from collections.abc import Callable

    from rnncalc.answers import Key
    from rnncalc.bptt import GradTrace
    from rnncalc.model import Exercise
    from rnncalc.trace import Trace

__all__ = ["META", "blank", "describe", "order", "own", "shape_of"]

#: Keys of ``grad`` that are not answers.
META = {"loss_type", "reduction", "at", "target", "upstream", "truncate", "explain",
        # given (upstream_c, dc_out), or shown beside the answers: a sheet's intermediates, each
        # term of the loss, the totals again under the config's own names
        "upstream_c", "dc_out", "slope", "tanh_c", "terms", "params_as_written"}
_HEAD = ("z", "target", "dz", "dh")
_STEP = ("dh_out", "dh_future", "dh", "dc_future", "dc", "dpre", "dW", "db", "dx")


def _t(part: str | int) -> int:
    return int(str(part).partition("=")[2])


def order(key: Key, ex: Exercise, grad: GradTrace | None) -> tuple[Any, ...]:
    """Where a gradient comes in the backward computation (after every forward quantity)."""
    if len(key) < 2:
        return (4, 9)
    section = str(key[1])
    if section == "loss":
        return (4, 0)
    if section == "head":
        return (4, 1, _HEAD.index(str(key[2])) if key[2] in _HEAD else 9, *key[3:])
    if section == "steps" and grad is not None and len(key) > 6:
        layer, direction = _t(key[2]), str(key[4])
        g = grad.layers[layer][direction]
        k = g.positions.index(_t(key[5]))
        field = str(key[6])
        rank = _STEP.index(field) if field in _STEP else 9
        sub = [str(p) for p in key[7:8] if isinstance(p, str)]
        gate = ex.gates.index(sub[0]) if field == "dpre" and sub and sub[0] in ex.gates else 0
        return (4, 2, -layer, ex.directions.index(direction), k, rank, gate,
                *(sub or [""]), *key[7 + len(sub):])
    if section == "initial":
        return (4, 3, str(key[2]), *key[3:])
    if section == "params":
        return (4, 4, str(key[2]), *key[3:])
    return (4, 5, *map(str, key[1:]))


def describe(key: Key, ex: Exercise) -> str:
    """A gradient's name: ``loss``, ``dz_0[0]``, ``dh_1[1]``, ``dpre i_0[0]``, ``dW_hf_1[0,1]``,
    ``weight_hh_l0[0,1]`` (every index from 0, as ``grad --element`` and the forward names)."""
    k = list(key)
    idx = [p for p in k if isinstance(p, int)]
    where = "[" + ",".join(map(str, idx)) + "]" if idx else ""
    if len(k) < 3:
        return "loss" if k[-1] == "loss" else ".".join(map(str, k[1:]))
    if k[1] == "head":
        n = f"_{idx[0]}" if len(idx) > 1 else ""
        return f"head d{str(k[2])[1:]}{n}[{','.join(map(str, idx[1:]))}]" if \
            str(k[2]).startswith("d") else f"head {k[2]}{n}[{','.join(map(str, idx[1:]))}]"
    if k[1] == "steps" and len(k) > 6:
        layer, direction, t, field = _t(k[2]), str(k[4]), _t(k[5]), str(k[6])
        one = ex.num_layers == 1 and len(ex.directions) == 1
        prefix = "" if one else f"layer {layer} {direction}: "
        if field == "dpre":
            return f"{prefix}dpre {k[7]}{subscript(t)}{where}"
        if field in ("dW", "db"):
            return f"{prefix}d{k[7]!s}{subscript(t)}{where}"
        return f"{prefix}{field}{subscript(t)}{where}"
    if k[1] == "initial":
        return f"initial d{k[2]}{where}"
    return f"{k[2]}{where}" if k[1] == "params" else ".".join(map(str, k[1:])) + where


def blank(grad_doc: dict[str, Any]) -> dict[str, Any]:
    """The ``grad`` part of a blank answers file: every number ``None``, steps and layers named."""
    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (v if k in ("t", "layer") else walk(v)) for k, v in node.items()
                    if k not in META}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return None
    return {"grad": walk(grad_doc)}


def shape_of(ex: Exercise) -> dict[str, Any]:
    """The parts of ``GradTrace.to_dict()`` that :func:`blank` keeps, every number 0, from the
    exercise alone (its sizes and its weights' shapes): a blank gradient form needs no arithmetic
    (and no torch). Tests hold it to the computed gradients' shape."""
    from dataclasses import fields

    from rnncalc.errors import RnncalcError
    from rnncalc.model import EXTRA_PARAMS, PARAMS, LayerWeights, gate_weight_names, param_name

    loss = ex.loss
    if loss is None:  # bptt's own words
        raise RnncalcError(f"{ex.source}: rnncalc grad needs a loss (loss: {{type, target}} on a "
                           "head) or upstream gradients (upstream: one dL/d output_t per position)")
    T, H, P = ex.steps, ex.hidden_size, ex.state_size
    out: dict[str, Any] = {}
    if loss.type != "upstream":
        assert ex.head is not None
        n = T if loss.targets is not None else 1  # the head at every step, or on the final state
        d_out, width = _dims(ex.head.W)
        out["loss"] = 0
        out["head"] = {"z": _zeros([n, d_out]), "dz": _zeros([n, d_out]), "dh": _zeros([n, width])}

    def blocks(kind: str, dims: list[int]) -> dict[str, Any]:
        """A parameter's per-step blocks, named as the forward weights."""
        if kind in EXTRA_PARAMS:  # weight_hr: one [P, H] block; peephole [3, H]: a row per gate
            names = EXTRA_PARAMS[kind]
            return {n: _zeros(dims if len(names) == 1 else dims[1:]) for n in names}
        return {gate_weight_names(g)[PARAMS.index(kind)]: _zeros([H, *dims[1:]])
                for g in ex.gates}

    cell_state = CELLS[ex.cell].cell_state
    kinds = [f.name for f in fields(LayerWeights) if ex.bias or not f.name.startswith("bias_")]
    recursion = {"forward": range(T - 1, -1, -1), "backward": range(T)}  # last computed first
    steps, params = [], {}
    for k, layer in enumerate(ex.weights):
        directions = {}
        for direction, w in zip(ex.directions, layer, strict=True):
            dims = {kind: _dims(getattr(w, kind)) for kind in kinds if getattr(w, kind) is not None}
            rows = []
            for t in recursion[direction]:
                row: dict[str, Any] = {"t": t, "dh_out": _zeros([P]), "dh_future": _zeros([P]),
                                       "dh": _zeros([P])}
                if cell_state:
                    row["dc_future"], row["dc"] = _zeros([H]), _zeros([H])
                row["dpre"] = {g: _zeros([H]) for g in ex.gates}
                row["dW"] = {n: b for kind, d in dims.items() if not kind.startswith("bias_")
                             for n, b in blocks(kind, d).items()}
                if ex.bias:
                    row["db"] = {n: b for kind, d in dims.items() if kind.startswith("bias_")
                                 for n, b in blocks(kind, d).items()}
                row["dx"] = _zeros(dims["weight_ih"][1:])
                rows.append(row)
            directions[direction] = rows
            named = direction if ex.bidirectional else "forward"  # a reversed net: forward names
            params.update({param_name(kind, k, named): _zeros(d) for kind, d in dims.items()})
        steps.append({"layer": k, "directions": directions})
    out["steps"] = steps
    out["initial"] = {"h": [_zeros([P]) for _ in range(ex.num_layers * ex.num_directions)]}
    if cell_state:
        out["initial"]["c"] = [_zeros([H]) for _ in range(ex.num_layers * ex.num_directions)]
    if loss.type != "upstream":
        params.update({"head.W": _zeros([d_out, width]), "head.b": _zeros([d_out])})
    out["params"] = params
    return out


def _dims(value: Any) -> list[int]:
    """The shape of nested tuples or lists, read along the first elements."""
    shape = []
    while isinstance(value, tuple | list):
        shape.append(len(value))
        value = value[0] if value else None
    return shape


def _zeros(shape: list[int]) -> Any:
    return [_zeros(shape[1:]) for _ in range(shape[0])] if shape else 0


# ----------------------------------------------------------------------------- carried


_WEIGHT = re.compile(r"^(weight|bias)_(ih|hh)_l(\d+)(_reverse)?$")


def own(key: Key, ex: Exercise, trace: Trace, grad: GradTrace,
        mine: Callable[[Key, float], float]) -> float | None:
    """What the student's own earlier gradients give for ``key`` (None: not recomputed here);
    ``mine(key, exact)`` is the student's number at ``key``, else ``exact``."""
    k = list(key)
    if len(k) < 3:
        return None
    if k[1] == "head":
        return _head(key, ex, grad, mine)
    if k[1] == "params":
        return _total(key, ex, grad, mine)
    if k[1] != "steps" or len(k) < 8:
        return None
    base, field = tuple(k[:6]), str(k[6])
    g = grad.layers[_t(k[2])][str(k[4])]
    step = g.positions.index(_t(k[5]))
    if field == "dh":
        j = int(k[7])
        return (mine((*base, "dh_out", j), float(g.dh_out[step, j]))
                + mine((*base, "dh_future", j), float(g.dh_future[step, j])))
    if field in ("dW", "db"):
        mine_dpre = _step_param(key, ex, trace, grad, mine)
        if mine_dpre is not None or _gate_of(str(k[7]), ex) is None:
            return mine_dpre
        cg = _backward(base, step, ex, trace, grad, mine)
        kind = ("weight_" if field == "dW" else "bias_") + ("ih" if str(k[7])[2] == "i" else "hh")
        gate = str(k[7])[3]  # W_ig -> g, W_ih -> h
        H = ex.hidden_size
        row = ex.gates.index(gate) * H + int(k[8])
        block = getattr(cg, kind)
        # no column: a vector (a bias; indrnn's recurrent weights, one per unit)
        return float(block[row, int(k[9])] if len(k) > 9 else block[row])
    if field in ("dpre", "dc", "dx"):
        cg = _backward(base, step, ex, trace, grad, mine)
        out = cg.dpre[str(k[7])][int(k[8])] if field == "dpre" else \
            getattr(cg, field)[int(k[7])] if getattr(cg, field) is not None else None
        return None if out is None else float(out)
    if field in ("dh_future", "dc_future") and step > 0:  # from the step computed before
        before = (*base[:5], f"t={g.positions[step - 1]}")
        cg = _backward(before, step - 1, ex, trace, grad, mine)
        prev = cg.dh_prev if field == "dh_future" else cg.dc_prev
        return None if prev is None else float(prev[int(k[7])])
    return None


def _backward(base: Key, step: int, ex: Exercise, trace: Trace, grad: GradTrace,
              mine: Callable[[Key, float], float]) -> Any:
    """The cell's backward step at ``base`` from the student's own ``dh_t`` and ``dc_future``."""
    import torch

    from rnncalc.cells import spec
    from rnncalc.engine import params

    layer, direction = _t(base[2]), str(base[4])
    g = grad.layers[layer][direction]
    tr = trace.layers[layer].directions[direction]
    s = tr.step(tr.positions.index(_t(base[5])))
    dtype = tr.h.dtype

    def own(field: str, exact: torch.Tensor) -> torch.Tensor:
        return torch.tensor([mine((*base, field, j), float(v)) for j, v in
                             enumerate(exact[step].tolist())], dtype=dtype)

    dh = own("dh_out", g.dh_out) + own("dh_future", g.dh_future)
    dc_future = None if g.dc_future is None else own("dc_future", g.dc_future)
    p = params(ex.weights[layer][ex.directions.index(direction)], dtype)
    with torch.no_grad():
        return spec(ex.cell).backward(p, s, dh, dc_future, ex.formulation)


def _gate_of(name: str, ex: Exercise) -> tuple[str, str] | None:
    """``W_hf`` -> (``h``, ``f``); an RNN's ``W_ih`` -> (``i``, ``h``); None: not a gate block."""
    if len(name) != 4 or name[2] not in "ih":
        return None
    gate = name[3]  # an RNN's one gate h: W_ih, W_hh
    return (name[2], gate) if gate in ex.gates else None


def _step_param(key: Key, ex: Exercise, trace: Trace, grad: GradTrace,
                mine: Callable[[Key, float], float]) -> float | None:
    k = list(key)
    base, field, name = tuple(k[:6]), str(k[6]), str(k[7])
    which = _gate_of(name, ex)
    if which is None:
        return None
    kind, gate = which
    if gate in CELLS[ex.cell].split_hidden and kind == "h":
        return None  # a GRU's r_t (W_hn h + b_hn): not the plain product
    if kind == "h" and field == "dW" and (
            ex.formulation.projection or CELLS[ex.cell].recurrent == "vector"):
        return None  # W_hr m_t, or indrnn's w_hh * h_{t-1}: not the plain outer product
    layer, direction, t = _t(k[2]), str(k[4]), _t(k[5])
    g = grad.layers[layer][direction]
    step = g.positions.index(t)
    row = int(k[8])
    dpre = mine((*base, "dpre", gate, row), float(g.dpre[gate][step, row]))
    if field == "db":
        return dpre
    tr = trace.layers[layer].directions[direction]
    f = tr.positions.index(t)
    if kind == "i":
        other = float(tr.x[f][int(k[9])])
    else:
        prev = tr.h0 if f == 0 else tr.h[f - 1]
        if prev is None:
            return None
        other = float(prev[int(k[9])])
    return dpre * other


def _total(key: Key, ex: Exercise, grad: GradTrace,
           mine: Callable[[Key, float], float]) -> float | None:
    k = list(key)
    name = str(k[2])
    if name in ("head.W", "head.b"):
        if grad.dz is None or grad.h_head is None:
            return None
        unit = int(k[3])
        total = 0.0
        for n in range(grad.dz.shape[0]):
            dz = mine(("grad", "head", "dz", n, unit), float(grad.dz[n, unit]))
            total += dz * (float(grad.h_head[n, int(k[4])]) if name == "head.W" else 1.0)
        return total
    m = _WEIGHT.match(name)
    if m is None:
        return None
    part, kind, layer, reverse = m.group(1), m.group(2), int(m.group(3)), bool(m.group(4))
    direction = "backward" if reverse else "forward"
    g = grad.layers[layer].get(direction)
    if g is None:
        return None
    H = ex.hidden_size
    row = int(k[3])
    gate = ex.gates[row // H]
    block = ("W_" if part == "weight" else "b_") + (
        f"{kind[0]}{gate}")  # an RNN's one gate h: W_ih, W_hh
    field = "dW" if part == "weight" else "db"
    base = ("grad", "steps", f"layer={layer}", "directions", direction)
    total = 0.0
    for step, t in enumerate(g.positions):
        exact = g.gate_blocks(f"{part}_{kind}", step)[block]
        idx = (row % H, *[int(p) for p in k[4:]])
        total += mine((*base, f"t={t}", field, block, *idx), float(exact[idx]))
    return total


def _head(key: Key, ex: Exercise, grad: GradTrace,
          mine: Callable[[Key, float], float]) -> float | None:
    k = list(key)
    if k[2] != "dh" or grad.dz is None or ex.head is None or len(k) < 5:
        return None
    n, m = int(k[3]), int(k[4])
    return sum(mine(("grad", "head", "dz", n, u), float(grad.dz[n, u])) * ex.head.W[u][m]
               for u in range(grad.dz.shape[1]))
