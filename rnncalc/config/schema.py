"""The JSON Schema of a config: printed by ``rnncalc schema``, used to check a config's structure.

The schema checks keys and the types of values; shapes and the agreement between sizes are checked
where the exercise is built (:mod:`rnncalc.config.build`), since they depend on one another.

``python -m rnncalc.config.schema`` writes what is derived from it ahead of time, each kept current
by a test: the checker ``_schema_check.py`` and ``schema.json``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from rnncalc.cells import CELLS as ALL_CELLS
from rnncalc.config.batch import PROPERTIES as _BATCH_PROPERTIES
from rnncalc.config.layout_keys import PROPERTIES as _LAYOUT_PROPERTIES
from rnncalc.config.options import PROPERTIES as _FORMULATION_PROPERTIES
from rnncalc.config.suggest import did_you_mean
from rnncalc.config.yamlsafe import Located
from rnncalc.errors import listed, shown

__all__ = ["CELLS", "SCHEMA", "TASKS", "check_structure", "did_you_mean"]

CELLS = tuple(ALL_CELLS)
TASKS = ("regression", "classification", "labeling")

_NUMBER = {"type": "number"}
_VECTOR = {"type": "array", "items": _NUMBER, "minItems": 1}
_MATRIX = {"type": "array", "items": _VECTOR, "minItems": 1}
_VECTORS = {"type": ["number", "array"], "minItems": 1}  # a vector, or one per layer and direction

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "rnncalc exercise",
    "description": "A recurrent-network exercise: inputs, weights, optional head. See README.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "title": {"type": "string", "description": "A name for the exercise, shown in the output."},
        **_FORMULATION_PROPERTIES,
        **_LAYOUT_PROPERTIES,
        **_BATCH_PROPERTIES,
        "description": {"type": "string"},
        "cell": {"enum": list(CELLS), "description": "Which cell; may be omitted when the "
                 "command names it (rnncalc rnn, rnncalc lstm)."},
        "inputs": {"type": ["array", "object"], "minItems": 1, "items": {
                   "type": ["number", "array"], "minItems": 1, "items": _NUMBER},
                   "description": "x_0, x_1, ...: one vector per time step (a number "
                   "for one feature; a column [[a], [b]] per step; or {shape, values} flat)."},
        "inputs_file": {"type": "string", "minLength": 1, "examples": ["inputs.npy"],
                        "description": "Instead of inputs: a numpy file relative to this "
                        "config's folder, .npy ([T, input_size], or [B, T, input_size] for a "
                        "batch) or .npz (arrays inputs, and target or targets for the loss); "
                        "read without pickles. See docs/configs.md."},
        "hidden_size": {"type": "integer", "minimum": 1},
        "num_layers": {"type": "integer", "minimum": 1, "default": 1},
        "bidirectional": {"type": "boolean", "default": False},
        "share_directions": {"type": "boolean", "default": False, "description":
                             "The backward direction of each layer uses its forward weights."},
        # no schema default: a filled-in "tanh" would contradict activations.hidden
        "nonlinearity": {"enum": ["tanh", "relu"], "description": "rnn: tanh (default) or relu"},
        "bias": {"type": "boolean", "description": "Default: true if any bias is given."},
        "dtype": {"enum": ["float64", "float32"], "default": "float64"},
        "initial": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"h": _VECTORS, "c": _VECTORS},
        },
        "weights": {
            "type": "object",
            "description": "PyTorch state_dict names (weight_ih_l0, ...), or per-gate matrices "
            "(W_ii, W_hi, b_ii, ...), directly or grouped by layer and direction (l0, l0_reverse).",
            "additionalProperties": {"type": ["number", "array", "object"]},
        },
        "weights_file": {"type": "string", "minLength": 1, "examples": ["model.pt"],
                         "description": "Instead of weights: a PyTorch state_dict file "
                         "(torch.save(module.state_dict(), F)), relative to this config's folder; "
                         "loaded with weights_only=True. --weights on the command line wins."},
        "weights_prefix": {"type": "string", "description": "The recurrent module's prefix in "
                           "a whole model's state_dict file (rnn for rnn.weight_ih_l0); needed "
                           "when the file holds several."},
        "head": {
            "type": "object",
            "additionalProperties": False,
            "required": ["task"],
            "anyOf": [{"required": ["W"]}, {"required": ["kernel"]}],  # kernel: layout keras
            "properties": {
                "task": {"enum": list(TASKS)},
                "W": {"type": ["number", "array", "object"], "description": "[outputs, width] "
                      "([width, outputs] under orientation: columns)"},
                "b": {"type": ["number", "array", "object"]},
                "kernel": {"type": "array", "description": "layout: keras: the Dense kernel "
                           "[width, outputs]"},
                "bias": {"type": "array", "description": "layout: keras: the Dense bias"},
                "labels": {"type": "array", "items": {"type": ["string", "number"]}},
            },
        },
        "loss": {
            "type": "object",
            "description": "What `rnncalc grad` differentiates, on the head's output: `target` for "
            "the head on the final state, `targets` one per position.",
            "additionalProperties": False,
            "required": ["type"],
            "properties": {
                "type": {"enum": ["mse", "half_sse", "cross_entropy", "bce"]},
                "reduction": {"enum": ["mean", "sum"]},  # no "default": half_sse has none
                "target": {"type": ["number", "array"]},
                "targets": {"type": "array", "minItems": 1},
            },
        },
        "grading": {"type": "object", "description": "How `rnncalc check` scores answers (the "
                    "grader's, never a student's): points (a number, or {default: 1, h: 2, "
                    "'gate=f': 0.5, 't=2': 3}), carried and rounding (full, half or none), "
                    "tolerance, round. See docs/grading.md."},
        "upstream_c": {**_MATRIX, "description": "lstm: with or without upstream, dL/dc_t of "
                       "the top layer from above (Coursera's dc_next), one vector per position "
                       "or fewer (the last positions'); directions joined."},
        "upstream": {**_MATRIX, "description": "Instead of a loss: dL/d output_t of the top "
                     "layer, one vector per position (both directions joined), or fewer: the last "
                     "positions', the rest zero."},
    },
    "anyOf": [{"required": ["inputs"]}, {"required": ["batch"]}, {"required": ["inputs_file"]}],
    "oneOf": [{"required": ["weights"]}, {"required": ["weights_file"]}],
}

_TYPE_WORDS = {
    "number": "a number", "integer": "a whole number", "array": "a list", "object": "a mapping",
    "string": "a string", "boolean": "true or false",
}


_GENERATED = Path(__file__).with_name("_schema_check.py")
#: SCHEMA as ``rnncalc schema`` prints it, written ahead like the checker: ``rnncalc init`` and
#: ``rnncalc schema`` read this file (:mod:`rnncalc.scaffold`) rather than import the config reader.
SCHEMA_FILE = Path(__file__).with_name("schema.json")


def schema_text() -> str:
    """The text of ``schema.json``: SCHEMA as JSON, indented for people to read."""
    import json

    return json.dumps(SCHEMA, indent=2) + "\n"


def checker_source() -> str:
    """The source of ``_schema_check.py``: fastjsonschema's checker for SCHEMA, compiled ahead.

    Compiling the schema at run time costs 60-80 ms, more than the rest of ``rnncalc validate``;
    the module is generated instead (``python -m rnncalc.config.schema``) and a test keeps it
    current. Defaults are never written into the data (``use_default=False``). It imports its
    exceptions and ``Decimal`` from :mod:`rnncalc.config._schema_runtime`, so that running it
    imports neither fastjsonschema nor decimal.
    """
    import fastjsonschema

    code = fastjsonschema.compile_to_code(SCHEMA, use_default=False)
    exceptions = "JsonSchemaValueException, JsonSchemaValuesException"
    for module, names in (("decimal", "Decimal"), ("fastjsonschema", exceptions)):
        imports = f"from {module} import {names}\n"
        if imports not in code:  # another fastjsonschema: see what its checkers import
            raise RuntimeError(f"fastjsonschema's checker no longer imports {imports!r}")
        code = code.replace(imports, f"from rnncalc.config._schema_runtime import {names}\n")
    if "Decimal(" in code:  # the stand-in serves isinstance only
        raise RuntimeError("fastjsonschema's checker makes a Decimal")
    body = "\n".join(line for line in code.splitlines() if not line.startswith("VERSION = "))
    head = (
        "# Generated by `python -m rnncalc.config.schema` from SCHEMA; do not edit.\n"
        "# mypy: ignore-errors\n"
    )
    return f"{head}{body}\n"


@cache
def _validator() -> Any:
    from rnncalc.config import _schema_check

    return _schema_check.validate


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    return repr(value)


def _schema_at(path: tuple[str | int, ...]) -> dict[str, Any]:
    node: dict[str, Any] = SCHEMA
    for part in path:
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(part) or node.get("additionalProperties") or {}
    return node


def check_structure(doc: Located) -> None:
    """Raise the first structural error of ``doc`` as a one-line :class:`ConfigError`."""
    from rnncalc.config._schema_runtime import JsonSchemaValueException

    if not isinstance(doc.data, dict):
        raise doc.error((), f"expected a mapping of config keys, got {_describe(doc.data)}")
    try:
        _validator()(doc.data)
    except JsonSchemaValueException as exc:
        path = _data_path(doc.data, (exc.path or ["data"])[1:])
        # An unknown key is reported on its own line, and before a "missing" key it may be
        # the misspelling of (fastjsonschema checks required keys first).
        unknown = _unknown_keys(exc.value, path) if exc.rule in _KEY_RULES else []
        if unknown:
            raise doc.error((*path, unknown[0]), _unknown_message(unknown, path)) from None
        missing = _missing(exc)
        if missing and not path:  # a key written wrong is more telling than one not written
            _check_present(doc, missing)
        raise doc.error((*path, missing) if missing else path, _message(exc, path)) from None
    for key in _WHOLE:  # JSON Schema counts 2.0 as an integer; sizes are counted in whole numbers
        value = doc.data.get(key)
        if isinstance(value, float):
            raise doc.error((key,), f"expected a whole number, got {value!r}; write it "
                            f"{int(value)}")


def _check_present(doc: Located, missing: str) -> None:
    """Raise the error of a key ``doc`` has, if any, rather than that ``missing`` is missing:
    ``hidden_size: 0`` with no weights is first of all a hidden size of 0. (fastjsonschema
    checks required keys first; the keys present are checked with a stand-in for the missing.)"""
    from rnncalc.config._schema_runtime import JsonSchemaValueException

    stand_in: dict[str, Any] | None = {"weights": {}}.get(missing)
    if stand_in is None:
        return
    try:
        _validator()({**doc.data, missing: stand_in})
    except JsonSchemaValueException as exc:
        path = _data_path(doc.data, (exc.path or ["data"])[1:])
        if path and path[0] != missing and exc.rule not in _KEY_RULES:
            raise doc.error(path, _message(exc, path)) from None
    except Exception:  # the stand-in is not what is wrong: say what is missing
        return


#: The keys whose schema type is ``integer``.
_WHOLE = tuple(key for key, spec in SCHEMA["properties"].items() if spec.get("type") == "integer")


_KEY_RULES = ("required", "additionalProperties", "oneOf", "anyOf")


def _data_path(data: Any, parts: list[str]) -> tuple[str | int, ...]:
    """fastjsonschema's ``["inputs", "0", "1"]`` -> ``("inputs", 0, 1)``: indices into lists."""
    path: list[str | int] = []
    for part in parts:
        if isinstance(data, list):
            path.append(int(part))
            data = data[int(part)]
        else:
            path.append(part)
            data = data.get(part) if isinstance(data, dict) else None
    return tuple(path)


def _unknown_keys(value: Any, path: tuple[str | int, ...]) -> list[str]:
    allowed = _schema_at(path).get("properties", {})
    return [k for k in value if k not in allowed] if isinstance(value, dict) else []


def _unknown_message(keys: list[str], path: tuple[str | int, ...]) -> str:
    """The first few unknown keys, each with the key it may have meant, and a count of the rest
    (90,000 of them take a moment and a line, not seconds and megabytes)."""
    allowed = sorted(_schema_at(path).get("properties", {}))
    words = []
    for key in keys[:3]:
        near = did_you_mean(key, allowed) if len(str(key)) <= 100 else None
        words.append(f"unknown key {shown(key)}" + (f" (did you mean {near!r}?)" if near else ""))
    more = f" and {len(keys) - 3:,} more unknown keys" if len(keys) > 3 else ""
    return "; ".join(words) + more + f"; allowed: {listed(allowed, 90)} (rnncalc schema)"


def _missing(exc: Any) -> str | None:
    """The required key whose absence ``exc`` reports (the field an error record names)."""
    if exc.rule == "required":
        return next(k for k in exc.rule_definition if k not in exc.value)
    if exc.rule == "oneOf" and "weights" not in exc.value:  # the top level's: weights or file
        return "weights"
    if exc.rule == "anyOf":  # inputs (or batch); the head's W (or a Keras Dense kernel)
        return str(exc.rule_definition[0]["required"][0])
    return None


def _message(exc: Any, path: tuple[str | int, ...]) -> str:
    rule, definition, value = exc.rule, exc.rule_definition, exc.value
    if rule == "oneOf":  # the top level's only one: weights or weights_file
        if "weights" in value:
            return "give weights or weights_file, not both"
        return "missing required key 'weights' (or weights_file: a PyTorch state_dict file)"
    if rule == "anyOf":
        first, *others = (repr(alt["required"][0]) for alt in definition)
        return f"missing required key {first} (or {' or '.join(others)})"
    if rule == "required":
        missing = [k for k in definition if k not in value]
        return f"missing required key {missing[0]!r}"
    if rule == "type":
        kinds = [str(k) for k in (definition if isinstance(definition, list) else [definition])]
        words = " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
        return f"expected {words}, got {_describe(value)}"
    if rule == "enum":
        return f"expected one of {', '.join(map(str, definition))}; got {_describe(value)}"
    if rule == "minimum":
        return f"expected at least {definition}, got {_describe(value)}"
    if rule == "minItems":
        return f"expected a non-empty list, got {_describe(value)}" if definition == 1 else (
            f"expected at least {definition} items, got {len(value)}")
    return exc.message.replace("data.", "").replace("data ", "")


if __name__ == "__main__":
    _GENERATED.write_text(checker_source())
    SCHEMA_FILE.write_text(schema_text())
