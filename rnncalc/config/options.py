"""The config keys that choose a formulation, a direction and a merge mode: schema and reading.

``convention`` picks a preset (:func:`rnncalc.formulation.preset`); every other key overrides one
option of it. Options that do not apply to the cell are refused, not ignored.
"""

from __future__ import annotations

from typing import Any

from rnncalc.cells import CELLS
from rnncalc.config.suggest import did_you_mean
from rnncalc.config.yamlsafe import Located
from rnncalc.formulation import (
    ACTIVATIONS,
    CONVENTIONS,
    MERGE_MODES,
    ROLES,
    Activation,
    Formulation,
    activation,
    preset,
)

__all__ = ["PROPERTIES", "read_backward", "read_direction", "read_formulation"]

_ALL_ROLES = sorted({r for roles in ROLES.values() for r in roles})
_ACTIVATION = {
    "type": ["string", "object"],
    "additionalProperties": False,
    "required": ["name"],
    "properties": {"name": {"type": "string"}, "alpha": {"type": "number"},
                   "beta": {"type": "number"}},
}

#: Schema properties of these keys, merged into :data:`rnncalc.config.schema.SCHEMA`.
PROPERTIES: dict[str, Any] = {
    "convention": {"enum": list(CONVENTIONS), "description":
                   "Whose equations: sets the GRU form, forget bias and default activations."},
    "activations": {
        "type": "object", "additionalProperties": False,
        "description": "Activation per role: rnn hidden; lstm gate, cell_input, cell_output; gru "
        "gate, candidate. A name, or {name, alpha, beta}.",
        "properties": {role: _ACTIVATION for role in _ALL_ROLES},
    },
    "backward_activations": {
        "type": "object", "additionalProperties": False,
        "description": "The backward direction's own activations by role, where they differ "
        "from activations (an ONNX node's second group).",
        "properties": {role: _ACTIVATION for role in _ALL_ROLES},
    },
    "reset_after": {"type": "boolean", "description": "gru: reset gate applied after W_hn h "
                    "(PyTorch, Keras) or before it (false: ONNX default, d2l, 2014 paper)."},
    "z_weights": {"enum": ["previous", "candidate"], "description": "gru: h = (1-z)*n + z*h_prev "
                  "(previous, default) or h = z*n + (1-z)*h_prev (candidate)."},
    "forget_bias": {"type": "number", "description": "lstm: added to the forget gate's "
                    "pre-activation at every step (TF1: 1.0)."},
    "input_forget": {"type": "boolean", "description": "lstm: f_t = 1 - i_t (ONNX)."},
    "clip": {"type": "number", "exclusiveMinimum": 0, "description":
             "Clamp every pre-activation to [-clip, clip] (ONNX)."},
    "proj_size": {"type": "integer", "minimum": 0, "description":
                  "lstm: h_t = W_hr (o_t * tanh(c_t)) has proj_size units (PyTorch)."},
    "direction": {"enum": ["forward", "reverse", "bidirectional"], "description":
                  "ONNX's word; reverse runs one direction from the last position to the first."},
    "merge_mode": {"enum": list(MERGE_MODES), "description":
                   "How a bidirectional net joins its directions (Keras): concat, sum, mul, ave."},
}

#: The config's keys for the formulation options that apply to some cells only (their specs').
_OPTION_OF = {"reset_after": "reset_after", "z_weights": "z_weights", "forget_bias": "forget_bias",
              "input_forget": "input_forget", "proj_size": "projection"}


def read_formulation(doc: Located, cell: str, convention: str | None = None) -> Formulation:
    """The formulation a config asks for: its convention's preset with its options applied.

    ``convention`` (a command-line override) replaces the config's own.
    """
    data: dict[str, Any] = doc.data
    own = CELLS[cell]
    for key, option in _OPTION_OF.items():
        if key in data and option not in own.options:
            owner = " or ".join(c.name for c in CELLS.values() if option in c.options)
            raise doc.error((key,), f"{key} is an option of the {owner} cell; this exercise's "
                            f"cell is {cell}")
    form = preset(cell, convention or data.get("convention", "pytorch"))
    options: dict[str, Any] = {k: data[k] for k in ("reset_after", "z_weights", "input_forget")
                               if k in data}
    if "forget_bias" in data:
        options["forget_bias"] = float(data["forget_bias"])
    if "clip" in data:
        options["clip"] = float(data["clip"])
    if data.get("proj_size"):
        options["projection"] = True
    acts: dict[str, Activation] = {}
    # the schema's defaults are filled in (nonlinearity: tanh), so only a change is refused
    if "nonlinearity" in data:
        if not own.nonlinearity and data["nonlinearity"] != "tanh":
            owners = " and ".join(f"{c.name}'s" for c in CELLS.values() if c.nonlinearity)
            raise doc.error(("nonlinearity",), f"nonlinearity is the {owners}; for the {cell} "
                            f"cell choose activations by role: {', '.join(ROLES[cell])}")
        if own.nonlinearity:
            acts[own.roles[0]] = activation(data["nonlinearity"])
    acts.update(_activations(doc, cell, "activations", acts))
    if acts:
        options["activations"] = acts
    return form.with_options(**options)


def read_backward(doc: Located, cell: str, form: Formulation) -> Formulation | None:
    """The backward direction's formulation when ``backward_activations`` gives it its own
    activations (an ONNX node's second group), else ``None``: both directions run ``form``."""
    if "backward_activations" not in doc.data:
        return None
    return form.with_options(activations=_activations(doc, cell, "backward_activations", {}))


def _activations(doc: Located, cell: str, key: str, acts: dict[str, Activation]
                 ) -> dict[str, Activation]:
    """``key`` (``activations``, ``backward_activations``) by role; ``acts``: the roles that
    ``nonlinearity`` set already."""
    data: dict[str, Any] = doc.data
    acts = dict(acts)
    for role, value in data.get(key, {}).items():
        path = (key, role)
        if role not in ROLES[cell]:
            raise doc.error(path, f"the {cell} cell has no activation role {role!r}; its roles: "
                            f"{', '.join(ROLES[cell])}")
        spec: dict[str, Any] = {"name": value} if isinstance(value, str) else value
        try:
            act = activation(spec["name"], spec.get("alpha"), spec.get("beta"))
        except KeyError:
            near = did_you_mean(spec["name"], list(ACTIVATIONS))
            hint = f" (did you mean {near!r}?)" if near else ""
            raise doc.error(path, f"unknown activation {spec['name']!r}{hint}; expected one of "
                            f"{', '.join(ACTIVATIONS)}") from None
        if ("alpha" in spec and act.alpha is None) or ("beta" in spec and act.beta is None):
            raise doc.error(path, f"{act.name} takes no alpha or beta")
        # nonlinearity: tanh may be the schema's default, filled in: only another value conflicts
        if role in acts and acts[role] != act and data["nonlinearity"] != "tanh":
            raise doc.error(path, f"nonlinearity says {acts[role]}, activations.{role} says {act}; "
                            "keep one of them")
        acts[role] = act
    return acts


def read_direction(doc: Located, bidirectional: bool | None) -> tuple[bool, bool]:
    """``(bidirectional, reverse)`` from ``direction`` or ``bidirectional`` (they must agree).

    ``bidirectional`` (the command-line override) replaces what the config says.
    """
    data: dict[str, Any] = doc.data
    direction = data.get("direction")
    # bidirectional: false is the schema's default, filled in: only a true can contradict
    if direction not in (None, "bidirectional") and data.get("bidirectional"):
        raise doc.error(("bidirectional",), f"bidirectional: {str(data['bidirectional']).lower()} "
                        f"contradicts direction: {direction}; keep one of them")
    bidir = bool(data.get("bidirectional")) or direction == "bidirectional"
    reverse = direction == "reverse"
    if bidirectional is not None:
        bidir = bidirectional
    return bidir, reverse and not bidir
