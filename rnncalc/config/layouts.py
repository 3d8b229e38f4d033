"""Weights in every framework's layout (``layout:``), read into PyTorch's and written back out.

A config's ``layout`` says how its ``weights`` are written; :func:`to_canonical` rewrites such a
config into the default form (PyTorch ``state_dict`` names, rnncalc's own keys for the equations)
before the exercise is built, and :func:`write_weights` writes an exercise's weights in a layout
(``rnncalc convert``). Every reader checks its own shapes, so every error names the user's own
field path and line. The gate orders and orientations come from
:data:`rnncalc.formulation.PACKINGS`.

======================  ==================================================================
layout                  ``weights`` holds (per layer ``l0``, ``l1``, ... when stacked)
======================  ==================================================================
``pytorch``             ``weight_ih_l0`` ``[G*H, H_in]``, ``weight_hh_l0``, ``bias_ih_l0``, ...
``per-gate``            ``W_ii`` ``[H, H_in]``, ``W_hi`` ``[H, H]``, ``b_ii``, ``b_hi``, ...
``onnx``                ``W`` ``[D, G*H, H_in]``, ``R`` ``[D, G*H, H]``, ``B`` ``[D, 2*G*H]``,
                        ``P`` ``[D, 3*H]``; gates lstm i, o, f, c; gru z, r, h
``keras``               ``kernel`` ``[H_in, G*H]``, ``recurrent_kernel`` ``[H, G*H]``, ``bias``
                        (``[2, G*H]`` for a reset_after GRU); gates lstm i, f, c, o; gru z, r, h;
                        ``forward_layer``/``backward_layer`` for a Bidirectional layer
``concat``              ``W_f`` ``[H, H + H_in]`` on ``[h_{t-1}; x_t]`` (order: ``concat:``),
                        one bias ``b_f`` per gate
======================  ==================================================================

``orientation: columns`` (``per-gate`` and ``concat``) states that each matrix is written
transposed, for a row vector on its left (``x_t W``): ``W_ii`` ``[H_in, H]``, ``W_f``
``[H + H_in, H]``. It is never guessed from the shapes (a square matrix fits both).

``layout: onnx`` also takes the node's attributes under their ONNX names (``activations`` as a
list, ``activation_alpha``, ``activation_beta``, ``linear_before_reset``, ``input_forget`` 0/1),
and ``layout: keras`` the layer's ``activation`` and ``recurrent_activation``; both become
rnncalc's own keys (``activations`` by role, ``reset_after``, ...).
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from typing import Any

from rnncalc.aliases import concat_aliases
from rnncalc.cells import CELLS
from rnncalc.config.layout_keys import (
    KERAS_ARGUMENTS,
    LAYOUTS,
    ONNX_ATTRIBUTES,
    PER_GATE_KEYS,
    PROPERTIES,
    uses_layout,
)
from rnncalc.config.suggest import did_you_mean
from rnncalc.config.yamlsafe import Located, Path, shape_of
from rnncalc.errors import ConfigError, ConfigProblems
from rnncalc.formulation import ACTIVATIONS, CONVENTIONS, PACKINGS, preset
from rnncalc.model import DIRECTIONS, GATES, Exercise, LayerWeights, param_name

__all__ = ["KERAS_ARGUMENTS", "LAYOUTS", "ONNX_ATTRIBUTES", "PROPERTIES", "keras_two_biases",
           "to_canonical", "write_weights"]

#: Keras 3's activations, as rnncalc's (Keras's own parameters: hard_sigmoid is relu6(x + 3) / 6,
#: leaky_relu's slope 0.2).
_KERAS_ACTIVATIONS: dict[str, dict[str, Any]] = {
    "tanh": {"name": "tanh"}, "sigmoid": {"name": "sigmoid"}, "relu": {"name": "relu"},
    "linear": {"name": "identity"}, "softsign": {"name": "softsign"},
    "softplus": {"name": "softplus"}, "elu": {"name": "elu", "alpha": 1.0},
    "hard_sigmoid": {"name": "hard_sigmoid", "alpha": 1 / 6, "beta": 0.5},
    "leaky_relu": {"name": "leaky_relu", "alpha": 0.2},
}


def _keras_roles(cell: str) -> dict[str, tuple[str, ...]]:
    """Keras's two arguments: ``recurrent_activation`` is the gates' activation, ``activation``
    every other role's (lstm: cell_input and cell_output; gru: candidate; rnn: hidden)."""
    roles = CELLS[cell].roles
    out = {"activation": tuple(r for r in roles if r != "gate")}
    return out | ({"recurrent_activation": ("gate",)} if "gate" in roles else {})


_GROUP = re.compile(r"^l(\d+)$")
_ONNX_NAMES = {spec.onnx.lower(): name for name, spec in ACTIVATIONS.items() if spec.onnx}


@dataclass
class _Params:
    """One layer in one direction, PyTorch's layout, as plain nested lists of floats."""

    weight_ih: list[list[float]]
    weight_hh: list[list[float]]
    bias_ih: list[float] | None = None
    bias_hh: list[float] | None = None
    peephole: list[list[float]] | None = None  # rows p_i, p_f, p_o


# ---- gate blocks, shared by readers and writers -------------------------------------------------


def _split(rows: list[Any], order: tuple[str, ...]) -> dict[str, list[Any]]:
    """Cut ``rows`` (a stacked matrix or vector) into equal gate blocks named by ``order``."""
    n = len(rows) // len(order)
    return {g: rows[i * n:(i + 1) * n] for i, g in enumerate(order)}


def _reorder(rows: list[Any], source: tuple[str, ...], target: tuple[str, ...]) -> list[Any]:
    """Restack the gate blocks of ``rows`` from order ``source`` into order ``target``."""
    blocks = _split(rows, source)
    return [row for g in target for row in blocks[g]]


def _t(matrix: list[list[float]]) -> list[list[float]]:
    return [list(col) for col in zip(*matrix, strict=True)]


def _order(layout: str, cell: str) -> tuple[str, ...]:
    return PACKINGS[layout].gate_order[cell]


# ---- reading ------------------------------------------------------------------------------------


class _Reader:
    """Checks a layout's arrays against the shapes it expects; errors name the user's own paths."""

    def __init__(self, doc: Located, cell: str) -> None:
        self.doc, self.cell, self.data = doc, cell, doc.data
        self.gates = GATES[cell]
        self.G = len(self.gates)

    def error(self, path: Path, message: str) -> ConfigError:
        return self.doc.error(path, message)

    def array(self, path: Path, value: Any, shape: tuple[int, ...], meaning: str) -> Any:
        """``value`` as nested lists of floats of exactly ``shape``."""
        if shape_of(value) != list(shape):
            raise self.error(path, f"expected shape {list(shape)} ({meaning}), got "
                             f"{shape_of(value) if isinstance(value, list) else repr(value)}")
        return self._numbers(path, value, shape)

    def _numbers(self, path: Path, value: Any, shape: tuple[int, ...]) -> Any:
        if not shape:
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value):
                raise self.error(path, f"expected a finite number, got {value!r}")
            return float(value)
        if not isinstance(value, list) or len(value) != shape[0]:
            raise self.error(path, f"expected a list of {shape[0]} (every row of the same "
                             f"length), got {shape_of(value) or repr(value)}")
        return [self._numbers((*path, i), v, shape[1:]) for i, v in enumerate(value)]

    def flag(self, key: str, default: bool) -> bool:
        """An ONNX integer attribute (0 or 1) or a boolean."""
        value = self.data.get(key, default)
        if value not in (0, 1):  # True == 1, False == 0
            raise self.error((key,), f"expected 0 or 1 (or true/false), got {value!r}")
        return bool(value)

    def hidden(self, default: int | None, where: Path) -> int:
        if "hidden_size" in self.data:
            value = self.data["hidden_size"]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise self.error(("hidden_size",), f"expected a whole number >= 1, got {value!r}")
            return value
        if default is None:
            raise self.error(where, "cannot tell the hidden size from the weights; give "
                             "hidden_size")
        return default

    def input_size(self, layer: int, state: int, dirs: int) -> int | None:
        """What layer ``layer`` reads: the inputs' width, or the layer below's joined output."""
        if layer > 0:
            return state * (dirs if self.data.get("merge_mode", "concat") == "concat" else 1)
        inputs = self.data.get("inputs")
        if isinstance(inputs, list) and inputs and isinstance(inputs[0], list):
            return len(inputs[0])
        return None

    def groups(self, names: tuple[str, ...]) -> list[tuple[Path, dict[str, Any]]]:
        """The per-layer groups of ``weights``: ``l0``, ``l1``, ... or the names directly."""
        weights = self.data.get("weights")
        if not isinstance(weights, dict):
            raise self.error(("weights",), f"expected a mapping, got {weights!r}")
        layers = self.data.get("num_layers", 1)
        if not any(_GROUP.match(str(k)) for k in weights):
            if layers != 1:
                raise self.error(("weights",), f"{', '.join(names)} directly under weights "
                                 f"describe one layer; for {layers} layers group them under "
                                 "l0, l1, ...")
            return [(("weights",), weights)]
        found: dict[int, tuple[Path, dict[str, Any]]] = {}
        for key, group in weights.items():
            m = _GROUP.match(str(key))
            if not m:
                raise self.error(("weights", key), f"expected groups l0, l1, ... (one per layer), "
                                 f"got {key!r} beside them")
            if not isinstance(group, dict):
                raise self.error(("weights", key), f"expected a mapping of {', '.join(names)}, "
                                 f"got {group!r}")
            found[int(m[1])] = (("weights", key), group)
        for k in range(max(layers, max(found) + 1)):
            if k not in found:
                raise self.error(("weights",), f"no weights for layer {k}: expected l{k}")
            if k >= layers:
                raise self.error(found[k][0], f"weights for layer {k} given, but num_layers is "
                                 f"{layers}")
        return [found[k] for k in range(layers)]

    def known(self, path: Path, group: dict[str, Any], names: tuple[str, ...], form: str) -> None:
        for key in group:
            if key not in names:
                near = did_you_mean(key, list(names))
                hint = f"did you mean {near!r}? " if near else ""
                raise self.error((*path, key), f"unknown {form} weight name {key!r}; {hint}"
                                 f"expected one of {', '.join(names)}")


def _directions(data: dict[str, Any]) -> int:
    return 2 if data.get("direction") == "bidirectional" or data.get("bidirectional") else 1


def _read_onnx(r: _Reader) -> tuple[list[list[_Params]], dict[str, Any]]:
    """ONNX RNN/LSTM/GRU: ``W``, ``R``, ``B``, ``P`` with the num_directions axis first."""
    cell, G, D = r.cell, r.G, _directions(r.data)
    order = _order("onnx", cell)
    gates = "|".join({"g": "c", "n": "h"}.get(g, g) for g in order)
    names = ("W", "R", "B", "P") if "peepholes" in CELLS[cell].options else ("W", "R", "B")
    layers = []
    H: int | None = None
    for k, (path, group) in enumerate(r.groups(names)):
        r.known(path, group, names, f"onnx {cell}")
        for name in ("W", "R"):
            if name not in group:
                raise r.error(path, f"missing {name} (the operator's {name} input)")
        R = group["R"]
        shape = shape_of(R)
        H = r.hidden(shape[2] if len(shape) == 3 else None, (*path, "R"))
        in_size = r.input_size(k, H, D) or [*shape_of(group["W"]), 0, 0, 0][2]
        W = r.array((*path, "W"), group["W"], (D, G * H, in_size),
                    f"[num_directions, {G}*hidden, input], gates {gates}" if G > 1
                    else "[num_directions, hidden, input]")
        R = r.array((*path, "R"), R, (D, G * H, H), f"[num_directions, {G}*hidden, hidden]")
        B = r.array((*path, "B"), group["B"], (D, 2 * G * H),
                    f"[num_directions, 2*{G}*hidden] = [Wb, Rb]") if "B" in group else None
        P = r.array((*path, "P"), group["P"], (D, 3 * H),
                    "[num_directions, 3*hidden] = [Pi, Po, Pf]") if "P" in group else None
        row = []
        for d in range(D):
            p = _Params(_reorder(W[d], order, r.gates), _reorder(R[d], order, r.gates))
            if B is not None:
                p.bias_ih = _reorder(B[d][:G * H], order, r.gates)
                p.bias_hh = _reorder(B[d][G * H:], order, r.gates)
            if P is not None:
                pi, po, pf = (P[d][j * H:(j + 1) * H] for j in range(3))
                p.peephole = [pi, pf, po]
            row.append(p)
        layers.append(row)
    return layers, _onnx_attributes(r, D)


def _onnx_attributes(r: _Reader, D: int) -> dict[str, Any]:
    """ONNX's node attributes as rnncalc's own keys (``activations`` by role, ``reset_after``)."""
    from rnncalc.formulation import ROLES

    out: dict[str, Any] = {}
    if "reset_after" in CELLS[r.cell].options:  # the GRU's
        out["reset_after"] = r.flag("linear_before_reset", False)
    elif "linear_before_reset" in r.data:
        raise r.error(("linear_before_reset",), f"only a GRU has linear_before_reset; this is "
                      f"an {r.cell}")
    if "input_forget" in r.data:
        out["input_forget"] = r.flag("input_forget", False)
    names = r.data.get("activations")
    if names is None:
        for key in ("activation_alpha", "activation_beta"):
            if key in r.data:
                raise r.error((key,), f"{key} is given but activations is not")
        return out
    n = len(CELLS[r.cell].roles)
    if not isinstance(names, list) or len(names) != n * D or not all(
            isinstance(a, str) for a in names):
        raise r.error(("activations",), f"expected {n * D} names ({n} per direction: "
                      f"{', '.join(ROLES[r.cell])}), got {names!r}")
    params: dict[str, list[Any]] = {}
    for key in ("alpha", "beta"):  # read before the schema check, which sees the canonical form
        given = r.data.get(f"activation_{key}", [])
        if not isinstance(given, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in given):
            raise r.error((f"activation_{key}",), f"expected a list of finite numbers, got "
                          f"{given!r}")
        params[key] = list(given)
    acts = []
    for i, name in enumerate(names):
        canonical = _ONNX_NAMES.get(name.lower())
        if canonical is None:
            spellings = ", ".join(ACTIVATIONS[a].onnx for a in ACTIVATIONS if ACTIVATIONS[a].onnx)
            raise r.error(("activations", i), f"unknown ONNX activation {name!r}; expected one "
                          f"of {spellings}")
        act: dict[str, Any] = {"name": canonical}
        spec = ACTIVATIONS[canonical]
        # ONNX: alphas (betas) are consumed in order by the functions that take one
        for key, default in (("alpha", spec.alpha), ("beta", spec.beta)):
            if default is not None and params[key]:
                act[key] = params[key].pop(0)
        acts.append(act)
    for key, left in params.items():
        if left:
            raise r.error((f"activation_{key}",), f"{len(left)} value(s) more than the "
                          f"activations that take {key} use")
    out["activations"] = dict(zip(ROLES[r.cell], acts[:n], strict=True))
    if D == 2 and acts[:n] != acts[n:]:  # the backward direction's own group (ONNX allows it)
        out["backward_activations"] = dict(zip(ROLES[r.cell], acts[n:], strict=True))
    return out


def _read_keras(r: _Reader) -> tuple[list[list[_Params]], dict[str, Any]]:
    """Keras: ``kernel``, ``recurrent_kernel``, ``bias``; Bidirectional's two sublayers."""
    cell, G, D = r.cell, r.G, _directions(r.data)
    order = _order("keras", cell)
    gates = "|".join({"g": "c", "n": "h"}.get(g, g) for g in order)
    convention = r.data.get("convention", "keras")
    default = preset(cell, convention).reset_after if convention in CONVENTIONS else True
    reset_after = bool(r.data.get("reset_after", default))
    two_rows = "reset_after" in CELLS[cell].options and reset_after
    names = ("kernel", "recurrent_kernel", "bias")
    subs = ("forward_layer", "backward_layer")[:D] if D == 2 else ()
    layers = []
    for k, (path, group) in enumerate(r.groups(subs or names)):
        parts = [(path, group)]
        if D == 2:
            r.known(path, group, subs, "keras Bidirectional")
            parts = []
            for sub in subs:
                if not isinstance(group.get(sub), dict):
                    raise r.error((*path, sub), f"expected a mapping of {', '.join(names)} "
                                  f"(Bidirectional's {sub}), got {group.get(sub)!r}")
                parts.append(((*path, sub), group[sub]))
        row = []
        for p_path, part in parts:
            r.known(p_path, part, names, f"keras {cell}")
            for name in ("kernel", "recurrent_kernel"):
                if name not in part:
                    raise r.error(p_path, f"missing {name}")
            H = r.hidden(len(part["recurrent_kernel"]) if isinstance(
                part["recurrent_kernel"], list) else None, (*p_path, "recurrent_kernel"))
            in_size = r.input_size(k, H, D) or len(part["kernel"])
            wide = f"{G}*units, gates {gates}" if G > 1 else "units"
            kernel = r.array((*p_path, "kernel"), part["kernel"], (in_size, G * H),
                             f"[input, {wide}]")
            rk = r.array((*p_path, "recurrent_kernel"), part["recurrent_kernel"], (H, G * H),
                         f"[units, {wide}]")
            p = _Params(_reorder(_t(kernel), order, r.gates), _reorder(_t(rk), order, r.gates))
            if "bias" in part:
                if two_rows:
                    bias = r.array((*p_path, "bias"), part["bias"], (2, G * H),
                                   f"[2, {G}*units]: input bias row, recurrent bias row, as a "
                                   "reset_after GRU keeps them")
                    p.bias_ih, p.bias_hh = (_reorder(b, order, r.gates) for b in bias)
                else:
                    bias = r.array((*p_path, "bias"), part["bias"], (G * H,), f"[{wide}]" + (
                        "; a reset_after: false GRU has one bias"
                        if "reset_after" in CELLS[cell].options else ""))
                    p.bias_ih, p.bias_hh = _reorder(bias, order, r.gates), [0.0] * (G * H)
            row.append(p)
        layers.append(row)
    attributes = _keras_activations(r)
    if r.data.get("go_backwards"):  # Keras's reverse-only layer
        if D == 2:
            raise r.error(("go_backwards",), "go_backwards is one Keras layer's; a "
                          "Bidirectional layer's backward_layer reads backwards already")
        attributes["direction"] = "reverse"
    return layers, attributes


def _keras_activations(r: _Reader) -> dict[str, Any]:
    """Keras's ``activation`` / ``recurrent_activation`` as rnncalc's ``activations`` by role."""
    acts: dict[str, Any] = {}
    for key, roles in _keras_roles(r.cell).items():
        if key not in r.data:
            continue
        spec = _KERAS_ACTIVATIONS.get(r.data[key]) if isinstance(r.data[key], str) else None
        if spec is None:
            raise r.error((key,), f"expected one of {', '.join(_KERAS_ACTIVATIONS)} (Keras's "
                          f"names), got {r.data[key]!r}")
        acts.update(dict.fromkeys(roles, spec))
    for key in {"activation", "recurrent_activation"} - set(_keras_roles(r.cell)):
        if key in r.data:
            raise r.error((key,), f"a Keras {r.cell} layer has no {key}")
    if acts and "activations" in r.data:
        raise r.error(("activations",), "give Keras's activation / recurrent_activation or "
                      "rnncalc's activations, not both")
    return {"activations": acts} if acts else {}


def _read_concat(r: _Reader, columns: bool) -> tuple[list[list[_Params]], dict[str, Any]]:
    """Per-gate ``W_f`` on the concatenation ``[h_{t-1}; x_t]`` (or ``[x_t; h_{t-1}]``)."""
    order = r.data.get("concat")
    if order is None:
        raise r.error(("layout",), "layout: concat needs the key concat: [h, x] or [x, h], the "
                      "order of the concatenation W_? multiplies (both occur in published "
                      "sheets, so it is never assumed)")
    if order not in (["h", "x"], ["x", "h"]):
        raise r.error(("concat",), f"expected [h, x] or [x, h] (the order of the concatenation "
                      f"W_? multiplies; both occur, so it is never assumed), got {order!r}")
    D = _directions(r.data)
    aliases = concat_aliases(r.cell)  # Coursera's and colah's W_c, b_c for the candidate g
    names = tuple(f"{p}_{g}" for g in r.gates for p in ("W", "b")) + tuple(aliases)
    layers = []
    for k, group in enumerate(_direction_groups(r, names)):
        row = []
        for g_path, part in group:
            r.known(g_path, part, names, f"concat {r.cell}")
            for alias, name in aliases.items():
                if alias in part and name in part:
                    raise r.error((*g_path, alias), f"{alias} and {name} are the same weight "
                                  f"({CELLS[r.cell].alias_note}); give one of them")
            spelled = {name: alias for alias, name in aliases.items() if alias in part}
            part = {aliases.get(k, k): v for k, v in part.items()}
            first = part.get(f"W_{r.gates[0]}")
            if first is None:
                raise r.error(g_path, f"missing W_{r.gates[0]}")
            guess = (len(first[0]) if columns else len(first)) if isinstance(first, list) \
                and first and isinstance(first[0], list) else None
            H = r.hidden(guess, (*g_path, f"W_{r.gates[0]}"))
            in_size = r.input_size(k, H, D) or (
                (len(first) if columns else len(first[0])) - H)
            width = H + in_size
            what = f"[{'h' if order[0] == 'h' else 'x'}; {'x' if order[0] == 'h' else 'h'}]"
            ih: list[list[float]] = []
            hh: list[list[float]] = []
            bias: list[float] = []
            for g in r.gates:
                name = f"W_{g}"
                if name not in part:
                    theirs = [a for a, ours in aliases.items() if ours == name]
                    raise r.error(g_path, f"missing {name}" + "".join(f" (or {a})" for a in theirs))
                shape = (width, H) if columns else (H, width)
                meaning = "(hidden + input) x hidden" if columns else "hidden x (hidden + input)"
                W = r.array((*g_path, spelled.get(name, name)), part[name], shape,
                            f"{meaning} on {what}")
                W = _t(W) if columns else W
                h_cols = slice(0, H) if order[0] == "h" else slice(in_size, width)
                x_cols = slice(H, width) if order[0] == "h" else slice(0, in_size)
                hh += [row_[h_cols] for row_ in W]
                ih += [row_[x_cols] for row_ in W]
                b = part.get(f"b_{g}")
                bias += [0.0] * H if b is None else r.array(
                    (*g_path, spelled.get(f"b_{g}", f"b_{g}")), b if isinstance(b, list)
                    else [b] * H, (H,),
                    "one per hidden unit")
            has_bias = any(f"b_{g}" in part for g in r.gates)
            row.append(_Params(ih, hh, bias if has_bias else None,
                               [0.0] * len(bias) if has_bias else None))
        layers.append(row)
    return layers, {}


def _direction_groups(r: _Reader, names: tuple[str, ...]) -> list[list[tuple[Path, Any]]]:
    """Per layer, the forward (and ``reverse``) groups of a per-gate form."""
    weights = r.data.get("weights")
    D = _directions(r.data)
    if not isinstance(weights, dict):
        raise r.error(("weights",), f"expected a mapping, got {weights!r}")
    if not any(re.match(r"^l\d+(_reverse)?$", str(k)) for k in weights):
        if D == 2 or r.data.get("num_layers", 1) != 1:
            raise r.error(("weights",), f"{', '.join(names[:2])}, ... directly under weights "
                          "describe one layer in one direction; group them under l0, "
                          "l0_reverse, l1, ...")
        return [[(("weights",), weights)]]
    out = []
    for k in range(r.data.get("num_layers", 1)):
        row = []
        for suffix in ("", "_reverse")[:D]:
            key = f"l{k}{suffix}"
            if not isinstance(weights.get(key), dict):
                raise r.error(("weights",), f"expected a group {key} (a mapping of "
                              f"{', '.join(names[:2])}, ...)")
            path: Path = ("weights", key)
            row.append((path, weights[key]))
        out.append(row)
    extra = [k for k in weights if k not in {key for row in out for (_, key), _ in row}]
    if extra:
        raise r.error(("weights", extra[0]), f"unexpected group {extra[0]!r} for this net")
    return out


def _transpose_per_gate(r: _Reader) -> dict[str, Any]:
    """``orientation: columns`` on the per-gate names: every ``W_??`` written ``[in, out]``.

    The shapes are checked here, in the orientation the user wrote, so that an error shows them
    as written (a projection, ``proj_size``, is left to the builder's checks).
    """
    weights = r.data.get("weights")
    if not isinstance(weights, dict):
        raise r.error(("weights",), f"expected a mapping, got {weights!r}")
    groups = [(k, v) for k, v in weights.items() if isinstance(v, dict)] or [("l0", weights)]
    # W_hr is the GRU's reset gate's recurrent block, or an LSTM's projection (no gate r)
    projection = "W_hr" if "r" not in GATES[r.cell] else None
    recurrent = [v for _, g in groups for k, v in g.items()
                 if str(k).startswith("W_h") and k != projection and isinstance(v, list)]
    H = r.hidden(len(recurrent[0]) if recurrent else None, ("weights",))
    D, checked = _directions(r.data), not r.data.get("proj_size")

    def expected(key: str, layer: int) -> tuple[tuple[int, int], str] | None:
        if key.startswith("W_h") and key != projection:
            return (H, H), "hidden x hidden"
        in_size = r.input_size(layer, H, D)
        if key.startswith("W_i") and in_size:
            return (in_size, H), "input x hidden"
        return None

    def flip(path: Path, group: dict[str, Any], layer: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in group.items():
            m = re.match(r"^l(\d+)", str(key))
            if isinstance(value, dict):
                out[key] = flip((*path, key), value, int(m[1]) if m else layer)
            elif str(key).startswith("W_") and isinstance(value, list):
                shape, meaning = tuple(shape_of(value)), "every row the same length"
                want = expected(str(key), layer) if checked else None
                if want is not None:
                    shape, meaning = want[0], f"{want[1]}, orientation: columns, x W"
                elif len(shape) != 2:
                    raise r.error((*path, key), f"expected a matrix [input, hidden] (orientation:"
                                  f" columns, x W), got shape {list(shape)}")
                out[key] = _t(r.array((*path, key), value, shape, meaning))
            else:
                out[key] = value
        return out

    return flip(("weights",), weights, 0)


# ---- the canonical config ----------------------------------------------------------------------


def to_canonical(doc: Located, cell: str | None = None) -> Located:
    """``doc`` with its ``layout`` read: weights under PyTorch's ``state_dict`` names.

    A config without ``layout`` (or with ``pytorch``) is returned as it is.
    """
    data = doc.data
    if not uses_layout(data):
        return doc
    # check every key against the schema before it is read, except the ONNX attributes spelled
    # unlike rnncalc's keys (a list of activations, input_forget 0/1), which are read below
    from rnncalc.config.schema import structure_problems

    onnx = data.get("layout") == "onnx"
    probe = {k: v for k, v in data.items() if not (onnx and k in ("activations", "input_forget"))}
    problems, _ = structure_problems(Located(copy.deepcopy(probe), doc.lines, doc.source))
    if any(_reads(re.split(r"[.\[]", p.path)[0]) for p in problems):
        raise ConfigProblems(problems)  # a key the translation reads: nothing more to check
    try:  # the layout's own problems beside the others'
        return _translate(doc, cell)
    except ConfigError as exc:
        if not problems:
            raise
        raise ConfigProblems([*problems, exc]) from None


#: Keys that translating a layout never reads: a problem with one (or an unknown key) leaves the
#: weights still to be checked; the builder reports it again from the translated config.
_APART = frozenset({
    "title", "description", "dtype", "inputs", "inputs_file", "batch", "sequence_lens", "initial",
    "loss", "grading", "upstream", "upstream_c", "share_directions", "nonlinearity", "bias",
    "clip", "forget_bias", "z_weights", "backward_activations", "weights_prefix"})


def _reads(key: str) -> bool:
    """Whether translating a layout reads the top-level ``key`` (``""``: the whole config; an
    unknown key it never does)."""
    from rnncalc.config.schema import SCHEMA

    return not key or (key in SCHEMA["properties"] and key not in _APART)


def _translate(doc: Located, cell: str | None) -> Located:
    data = doc.data
    layout = data.get("layout", "pytorch")
    for key in ONNX_ATTRIBUTES:
        if key in data and layout != "onnx":
            raise doc.error((key,), f"{key} is an ONNX attribute: it needs layout: onnx")
    for key in KERAS_ARGUMENTS:
        if key in data and layout != "keras":
            raise doc.error((key,), f"{key} is a Keras argument: it needs layout: keras (or "
                            "give rnncalc's activations by role)")
    for key in PER_GATE_KEYS:
        if key in data and layout not in ("per-gate", "concat"):
            raise doc.error((key,), f"{key} applies to the per-gate layouts (per-gate, concat), "
                            f"not to layout: {layout}")
    if "concat" in data and layout != "concat":
        raise doc.error(("concat",), "concat states the order of layout: concat")
    cell = data.get("cell") or cell  # a disagreement with the command is reported by the builder
    if cell not in GATES:
        raise doc.error(("cell",), f"expected the cell ({', '.join(GATES)}) to read layout: "
                        f"{layout}, got {cell!r}")
    if layout not in CELLS[cell].layouts:
        raise doc.error(("layout",), _no_layout(cell, layout))
    r = _Reader(doc, cell)
    orientation = data.get("orientation", "rows")
    if orientation not in ("rows", "columns"):
        raise doc.error(("orientation",), f"expected rows (W x, [out, in]) or columns (x W, "
                        f"[in, out]), got {orientation!r}")
    drop = ["layout", *ONNX_ATTRIBUTES, *KERAS_ARGUMENTS, *PER_GATE_KEYS]
    if layout == "onnx":
        drop.append("activations")
    new = {k: v for k, v in data.items() if k not in drop}
    lines = {p: line for p, line in doc.lines.items() if not p or p[0] != "weights"}
    if isinstance(data.get("head"), dict):
        new["head"] = _head(r, data["head"], layout, orientation == "columns")
    if layout == "per-gate":
        new["weights"] = _transpose_per_gate(r) if orientation == "columns" else data["weights"]
        lines.update(doc.lines)
        return Located(new, lines, doc.source)
    reader = {"onnx": _read_onnx, "keras": _read_keras,
              "concat": lambda r: _read_concat(r, orientation == "columns")}[layout]
    layers, attributes = reader(r)
    if layout in ("onnx", "keras"):  # the formulation's label says whose equations these are
        new.setdefault("convention", layout)
    for key, value in attributes.items():
        if key in data and key not in (*ONNX_ATTRIBUTES, *KERAS_ARGUMENTS, "activations",
                                       "input_forget"):
            what = "Keras's go_backwards" if key == "direction" and layout == "keras" else \
                "the ONNX attribute"
            raise doc.error((key,), f"{key} is set by {what}; give one of them")
        new[key] = value
        line_of = doc.lines.get((key,), doc.lines.get(("activations",)))
        if line_of is not None:
            lines[(key,)] = line_of
    # rnncalc's per-gate groups (l0, l0_reverse, ...): the one form that also holds peepholes
    new["weights"] = weights = {}
    line = doc.lines.get(("weights",))  # what the builder says of them points at weights
    for k, row in enumerate(layers):
        for d, p in enumerate(row):
            name = f"l{k}" + ("_reverse" if d else "")
            weights[name] = _per_gate(p, r.gates)
    if line is not None:
        lines.update({path: line for path in _paths(("weights",), weights)})
    return Located(new, lines, doc.source)


def _head(r: _Reader, head: dict[str, Any], layout: str, columns: bool) -> dict[str, Any]:
    """The head in rnncalc's form (``W`` ``[outputs, width]``, ``b``): a Keras ``Dense`` layer's
    ``kernel`` ``[width, outputs]`` and ``bias`` under ``layout: keras``; ``W`` written ``[width,
    outputs]`` for ``h W`` under ``orientation: columns`` (the TF book's ``w_output``)."""
    out = dict(head)
    if layout == "keras" and "kernel" in head:
        if "W" in head or "b" in head:
            raise r.error(("head", "kernel"), "give the Dense layer's kernel and bias, or W and "
                          "b, not both")
        W = head["kernel"]
        if not (isinstance(W, list) and W and all(isinstance(row, list) for row in W)):
            raise r.error(("head", "kernel"), f"expected the Dense kernel [width, outputs], a "
                          f"list of rows, got {W!r}"[:200])
        out["W"] = _t(r.array(("head", "kernel"), W, tuple(shape_of(W)), "[width, outputs]"))
        del out["kernel"]
        if "bias" in head:
            out["b"] = out.pop("bias")
    elif columns and isinstance(head.get("W"), list) and head["W"] and all(
            isinstance(row, list) for row in head["W"]):
        W = head["W"]
        out["W"] = _t(r.array(("head", "W"), W, tuple(shape_of(W)),
                              "[width, outputs], orientation: columns, h W"))
    return out


def _paths(path: Path, value: Any) -> list[Path]:
    if not isinstance(value, dict):
        return [path]
    return [path] + [q for k, v in value.items() for q in _paths((*path, k), v)]


def _per_gate(p: _Params, gates: tuple[str, ...]) -> dict[str, Any]:
    """``p`` under rnncalc's per-gate names: ``W_ii``, ``W_hi``, ``b_ii``, ``b_hi``, ``p_i``, ..."""
    out: dict[str, Any] = {}
    blocks = {"W_i": _split(p.weight_ih, gates), "W_h": _split(p.weight_hh, gates)}
    if p.bias_ih is not None:
        blocks["b_i"] = _split(p.bias_ih, gates)
    if p.bias_hh is not None:
        blocks["b_h"] = _split(p.bias_hh, gates)
    for g in gates:
        out.update({f"{prefix}{g}": block[g] for prefix, block in blocks.items()})
    if p.peephole is not None:
        out.update(zip(("p_i", "p_f", "p_o"), p.peephole, strict=True))
    return out


# ---- writing ------------------------------------------------------------------------------------


def _params(w: LayerWeights, G: int, H: int) -> _Params:
    zeros = [0.0] * (G * H)
    return _Params(
        [list(r) for r in w.weight_ih], _plain(w.weight_hh),  # rows, or indrnn's vector
        list(w.bias_ih) if w.bias_ih is not None else zeros,
        list(w.bias_hh) if w.bias_hh is not None else zeros,
        [list(r) for r in w.peephole] if w.peephole is not None else None,
    )


def keras_two_biases(ex: Exercise) -> bool:
    """Keras keeps a second bias row where the reset gate is applied after the recurrent product
    (a reset_after GRU); one bias per gate otherwise."""
    return "reset_after" in CELLS[ex.cell].options and ex.formulation.reset_after


def write_weights(ex: Exercise, layout: str, *, orientation: str = "rows",
                  concat: tuple[str, str] = ("h", "x")) -> tuple[dict[str, Any], list[str]]:
    """``ex``'s weights written in ``layout``, and notes on what the writing changed.

    Raises :class:`ConfigError` where the layout cannot hold the exercise (a Keras LSTM with
    peepholes, a one-bias layout for a GRU whose recurrent bias sits inside ``r * (...)``).
    """
    cell, G, H = ex.cell, len(GATES[ex.cell]), ex.hidden_size
    gates = GATES[cell]
    if layout not in CELLS[cell].layouts:
        raise ConfigError(_no_layout(cell, layout), source=ex.source)
    if any(w.weight_hr is not None for row in ex.weights for w in row) and layout not in (
            "pytorch", "per-gate"):
        raise ConfigError(f"a projection (proj_size) has no place in layout {layout}; "
                          "convert to pytorch or per-gate", source=ex.source)
    rows = [[_params(w, G, H) for w in row] for row in ex.weights]
    notes: list[str] = []
    # a reverse-only net keeps its weights under the forward names (l0, weight_ih_l0)
    suffixes = ["", "_reverse"][:ex.num_directions]
    if layout == "pytorch":
        if ex.formulation.peepholes:
            raise ConfigError("PyTorch's LSTM has no peephole weights; convert to onnx or "
                              "per-gate", source=ex.source)
        out: dict[str, Any] = {}
        for k, given in enumerate(ex.weights):
            for d, w in zip(DIRECTIONS, given, strict=False):
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"):
                    value = getattr(w, kind)
                    if value is not None:
                        out[param_name(kind, k, d)] = _plain(value)
        return out, notes
    if layout == "onnx":
        order = _order("onnx", cell)
        groups = []
        for row in rows:
            group: dict[str, Any] = {
                "W": [_reorder(p.weight_ih, gates, order) for p in row],
                "R": [_reorder(p.weight_hh, gates, order) for p in row],
            }
            if ex.bias:
                group["B"] = [_reorder(p.bias_ih or [], gates, order)
                              + _reorder(p.bias_hh or [], gates, order) for p in row]
            if any(p.peephole is not None for p in row):
                group["P"] = [[*pi, *po, *pf] for pi, pf, po in
                              (p.peephole or [[0.0] * H] * 3 for p in row)]
            groups.append(group)
        return _layers(groups), notes
    one_bias = layout == "concat" or (layout == "keras" and not keras_two_biases(ex))
    if ex.bias and one_bias:
        if keras_two_biases(ex):
            n = slice(2 * H, 3 * H)
            if any(v for row in rows for p in row for v in (p.bias_hh or [])[n]):
                raise ConfigError(f"layout {layout} has one bias per gate, but this GRU's b_hn "
                                  "sits inside r * (W_hn h + b_hn) and cannot join b_in; "
                                  "convert to per-gate, pytorch or onnx", source=ex.source)
        if any(v for row in rows for p in row for v in (p.bias_hh or [])):
            notes.append(f"layout {layout} keeps one bias per gate: b = b_ih + b_hh (the trace "
                         "agrees to rounding)")
    if any(p.peephole is not None for row in rows for p in row) and layout != "per-gate":
        raise ConfigError(f"layout {layout} has no peephole weights; convert to onnx or "
                          "per-gate", source=ex.source)

    def summed(p: _Params) -> list[float]:
        return [a + b for a, b in zip(p.bias_ih or [], p.bias_hh or [], strict=True)]

    if layout == "keras":
        order = _order("keras", cell)
        groups = []
        for row in rows:
            parts = []
            for p in row:
                part: dict[str, Any] = {
                    "kernel": _t(_reorder(p.weight_ih, gates, order)),
                    "recurrent_kernel": _t(_reorder(p.weight_hh, gates, order)),
                }
                if ex.bias:
                    part["bias"] = _reorder(summed(p), gates, order) if one_bias else [
                        _reorder(p.bias_ih or [], gates, order),
                        _reorder(p.bias_hh or [], gates, order)]
                parts.append(part)
            groups.append(dict(zip(("forward_layer", "backward_layer"), parts, strict=False))
                          if ex.bidirectional else parts[0])
        return _layers(groups), notes
    per_dir = []
    for given, row in zip(ex.weights, rows, strict=True):
        for w, p, suffix in zip(given, row, suffixes, strict=True):
            ih, hh = _split(p.weight_ih, gates), _split(p.weight_hh, gates)
            bi, bh = _split(p.bias_ih or [], gates), _split(p.bias_hh or [], gates)
            group = {}
            for g in gates:
                if layout == "concat":
                    halves = (hh[g], ih[g]) if concat[0] == "h" else (ih[g], hh[g])
                    W = [a + b for a, b in zip(*halves, strict=True)]
                    group[f"W_{g}"] = _t(W) if orientation == "columns" else W
                    if ex.bias:
                        group[f"b_{g}"] = [a + b for a, b in zip(bi[g], bh[g], strict=True)]
                else:
                    for name, m in ((f"W_i{g}", ih[g]), (f"W_h{g}", hh[g])):
                        matrix = isinstance(m[0], list)  # (indrnn's W_hh is a vector)
                        group[name] = _t(m) if orientation == "columns" and matrix else m
                    if ex.bias:
                        group[f"b_i{g}"] = bi[g]
                        if any(bh[g]):
                            group[f"b_h{g}"] = bh[g]
            if p.peephole is not None:
                group.update(zip(("p_i", "p_f", "p_o"), p.peephole, strict=True))
            if w.weight_hr is not None:  # per-gate only (refused above for concat)
                W_hr = [list(r) for r in w.weight_hr]
                group["W_hr"] = _t(W_hr) if orientation == "columns" else W_hr
            per_dir.append((suffix, group))
    if len(per_dir) == 1 and not suffixes[0]:
        return per_dir[0][1], notes
    return {f"l{i // len(suffixes)}{suffix}": group
            for i, (suffix, group) in enumerate(per_dir)}, notes


def _no_layout(cell: str, layout: str) -> str:
    """The one line refusing a layout a cell has no place in (ONNX and Keras have no IndRNN)."""
    own = CELLS[cell]
    return (f"layout {layout} has no {own.title} cell; its layouts: {', '.join(own.layouts)}")


def _layers(groups: list[dict[str, Any]]) -> dict[str, Any]:
    return groups[0] if len(groups) == 1 else {f"l{k}": g for k, g in enumerate(groups)}


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, tuple | list) else value
