"""The JSON Schema of a config: printed by ``rnncalc schema``, used to check a config's structure.

The schema checks keys and the types of values; shapes and the agreement between sizes are checked
where the exercise is built (:mod:`rnncalc.config.build`), since they depend on one another.

``python -m rnncalc.config.schema`` writes what is derived from it ahead of time, each kept current
by a test: the checker ``_schema_check.py`` and ``schema.json``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rnncalc.cells import CELLS as ALL_CELLS
from rnncalc.config.layout_keys import PROPERTIES as _LAYOUT_PROPERTIES
from rnncalc.config.options import PROPERTIES as _FORMULATION_PROPERTIES
from rnncalc.config.suggest import did_you_mean
from rnncalc.config.yamlsafe import Located, format_path
from rnncalc.errors import ConfigError, ConfigProblems, listed, shown

__all__ = ["CELLS", "SCHEMA", "TASKS", "check_structure", "did_you_mean", "structure_problems",
           "surely_fits"]

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
        # read by rnncalc.config.batch, which a config without a batch does without
        "batch": {"type": "array", "minItems": 1, "items": {"type": ["array", "object"]},
                  "description": "A batch: one entry per sequence, the same weights for all; an "
                  "entry is the sequence's inputs, or {inputs, initial, target, targets, "
                  "upstream}."},
        "sequence_lens": {"type": "array", "minItems": 1,
                          "items": {"type": "integer", "minimum": 1},
                          "description": "With batch (ONNX): each sequence's length; the "
                          "entries' inputs past it are padding and dropped."},
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
    current. Defaults are never written into the data (``use_default=False``); every error is
    collected, not the first alone (``fast_fail=False``). It imports its
    exceptions and ``Decimal`` from :mod:`rnncalc.config._schema_runtime`, so that running it
    imports neither fastjsonschema nor decimal.
    """
    import fastjsonschema

    code = fastjsonschema.compile_to_code(SCHEMA, use_default=False, fast_fail=False)
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


def _errors(data: dict[str, Any]) -> list[Any]:
    """The generated checker's errors in ``data`` (none, if it only looked doubtful)."""
    from rnncalc.config._schema_check import validate
    from rnncalc.config._schema_runtime import JsonSchemaValuesException

    try:
        validate(data)
    except JsonSchemaValuesException as exc:
        return exc.errors
    return []


#: Python's types for JSON Schema's, strictly (a bool is no number, 2.0 no integer, a
#: :class:`~rnncalc.config.yamlsafe.Huge` no float): :func:`surely_fits` leaves the rest in doubt.
_TYPES = {"number": (int, float), "integer": (int,), "string": (str,), "boolean": (bool,),
          "array": (list,), "object": (dict,), "null": (type(None),)}
_NUMERIC = _TYPES["number"]
_NOTES = frozenset({"$schema", "title", "description", "default", "examples"})


def surely_fits(value: Any, schema: dict[str, Any]) -> bool:
    """Whether ``value`` surely meets ``schema``: every keyword SCHEMA uses, read strictly;
    ``False`` when in doubt (a keyword it does not know, a number of another type than int or
    float). The generated checker then says what is wrong, if anything: a usual config is
    checked without compiling it (~30 ms and 10 MB where no bytecode is written, every start).

    >>> surely_fits({"inputs": [[1, 2]], "weights": {}}, SCHEMA), surely_fits([], SCHEMA)
    (True, False)
    """
    kind = type(value)
    for key, rule in schema.items():
        if key in _NOTES:
            continue
        if key == "type":
            if not any(kind in _TYPES[t] for t in ([rule] if type(rule) is str else rule)):
                return False
        elif key == "additionalProperties" and "properties" in schema:
            continue  # checked with the properties
        elif key in ("properties", "additionalProperties"):
            if kind is dict:
                named = schema.get("properties", {})
                extra = schema.get("additionalProperties", True)
                for k, v in value.items():
                    sub = named.get(k, extra)
                    if not (surely_fits(v, sub) if type(sub) is dict else sub):
                        return False
        elif key == "items":
            if kind is list and not (all(type(v) in _NUMERIC for v in value) if rule == _NUMBER
                                     else all(surely_fits(v, rule) for v in value)):
                return False
        elif key == "required":
            if kind is dict and not all(k in value for k in rule):
                return False
        elif key == "anyOf":
            if not any(surely_fits(value, alt) for alt in rule):
                return False
        elif key == "oneOf":  # exactly one: only of alternatives that are known exactly
            if any(alt.keys() != {"required"} for alt in rule) or kind is not dict or sum(
                    all(k in value for k in alt["required"]) for alt in rule) != 1:
                return False
        elif key == "enum":
            if not any(type(v) is kind and v == value for v in rule):
                return False
        elif key in ("minItems", "minLength"):
            if kind is (list if key == "minItems" else str) and len(value) < rule:
                return False
        elif key in ("minimum", "exclusiveMinimum"):
            if kind in _NUMERIC and not (value >= rule if key == "minimum" else value > rule):
                return False
        else:
            return False
    return True


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
    """Raise every structural problem of ``doc``, one line each (:class:`ConfigProblems`)."""
    problems, _ = structure_problems(doc)
    if problems:
        raise ConfigProblems(problems) from None


def structure_problems(doc: Located) -> tuple[list[ConfigError], Located | None]:
    """Every structural problem of ``doc``, and ``doc`` with each problem taken out (a key with
    a wrong value dropped, so that its default applies or the weights tell it; a number that is
    not one read as 0), on which the shapes can still be checked without reporting what follows
    from these problems; ``None`` when they cannot be (a required key missing or unusable)."""
    if not isinstance(doc.data, dict):
        return [doc.error((), f"expected a mapping of config keys, got {_describe(doc.data)}")], \
            None
    errors = [] if surely_fits(doc.data, SCHEMA) else _errors(doc.data)
    problems: list[ConfigError] = []
    meant: set[tuple[str | int, ...]] = set()  # keys an unknown key may be the misspelling of
    fix = _Repair(doc.data)
    for error in errors:
        path = _data_path(doc.data, (error.path or ["data"])[1:])
        unknown = _unknown_keys(error.value, path) if error.rule == "additionalProperties" else []
        missing = None if unknown else _missing(error)
        if unknown:
            near = _near(unknown, path)
            meant.update((*path, _OR.get(key, key)) for key in near.values() if key)
            problems.append(doc.error((*path, unknown[0]), _unknown_message(unknown, path, near)))
        else:
            problems.append(doc.error((*path, missing) if missing else path,
                                      _message(error, path), absent=missing is not None))
        fix.drop(path, unknown, error.rule == "type" and error.rule_definition == "number")
    for key in _WHOLE:  # JSON Schema counts 2.0 as an integer; sizes are counted in whole numbers
        value = doc.data.get(key)
        if isinstance(value, float) and value.is_integer():  # 2.5 the schema has refused
            problems.append(doc.error((key,), f"expected a whole number, got {value!r}; write it "
                                      f"{int(value)}"))
            fix.drop((key,), [], False)
    # a key missing because it is misspelt, or the weights for want of a size: said once
    said = {format_path(path) for path in meant} | (
        {"weights"} if fix.dropped & set(_SIZES) else set())
    problems = [p for p in problems if not (p.absent and p.path in said)]
    if fix.stopped:
        return problems, None
    return problems, Located(fix.done(), doc.lines, doc.source, doc.texts)


#: Keys that stand for another's absence: a missing key is ``weights`` (or ``weights_file``).
_OR = {"weights_file": "weights", "batch": "inputs", "kernel": "W"}
#: Keys the rest of a config is read by: a problem with one leaves nothing to check it against.
_NEEDED = ("inputs", "weights", "weights_file", "batch", "cell", "layout", "orientation", "concat")
#: Sizes the weights tell when the key is dropped.
_SIZES = ("hidden_size", "num_layers", "bidirectional", "proj_size")
#: A key read against another: dropped with it.
_READ_WITH = {"head": ("loss",)}


class _Repair:
    """A copy of a config's data with its structural problems taken out; the containers on the
    way to a change are copied once each (a large config's inputs are not copied per number)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = dict(data)
        self.fresh = {id(self.data)}
        self.dropped: set[str] = set()
        self.stopped = False

    def drop(self, path: tuple[str | int, ...], unknown: list[str], number: bool) -> None:
        """Take out the problem at ``path``: its ``unknown`` keys; a ``number`` that is not one
        (read as 0); else the top-level key it is in, unless the config cannot go without it."""
        if path and path[0] in self.dropped:
            return  # already out, with what is in it
        if unknown:
            container = self._own(path)
            for key in unknown:
                container.pop(key, None)
        elif number and path and isinstance(path[-1], int):
            self._own(path[:-1])[path[-1]] = 0.0
        elif not path or path[0] in _NEEDED:
            self.stopped = True
        else:
            for key in (str(path[0]), *_READ_WITH.get(str(path[0]), ())):
                self.data.pop(key, None)
                self.dropped.add(key)

    def _own(self, path: tuple[str | int, ...]) -> Any:
        """The container at ``path``, copied (and its ancestors) unless already a copy."""
        node: Any = self.data
        for part in path:
            child = node[part]
            if id(child) not in self.fresh:
                child = list(child) if isinstance(child, list) else dict(child)
                node[part] = child
                self.fresh.add(id(child))
            node = child
        return node

    def done(self) -> dict[str, Any]:
        """The data, with the sizes dropped told by the weights' names, as for a weight file."""
        weights = self.data.get("weights")
        names = [str(k) for k in weights] if isinstance(weights, dict) else []
        layers = [int(m[1]) for m in map(_LAYER_OF.search, names) if m]
        if "num_layers" in self.dropped and layers:
            self.data["num_layers"] = max(layers) + 1
        if "bidirectional" in self.dropped:
            self.data["bidirectional"] = any(n.endswith("_reverse") for n in names)
        return self.data


_LAYER_OF = re.compile(r"(?:^|_)l(\d+)(?:_reverse)?$")


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


def _near(keys: list[str], path: tuple[str | int, ...]) -> dict[str, str | None]:
    """The first few unknown ``keys`` (those a message names), each with the key it may have
    meant (90,000 of them take a moment, not seconds)."""
    allowed = sorted(_schema_at(path).get("properties", {}))
    return {key: did_you_mean(key, allowed) if len(str(key)) <= 100 else None for key in keys[:3]}


def _unknown_message(keys: list[str], path: tuple[str | int, ...],
                     near: dict[str, str | None]) -> str:
    """The first few unknown keys, each with the key it may have meant, and a count of the rest
    (90,000 of them take a line, not megabytes)."""
    allowed = sorted(_schema_at(path).get("properties", {}))
    words = []
    for key in keys[:3]:
        words.append(f"unknown key {shown(key)}" + (f" (did you mean {near[key]!r}?)"
                                                     if near[key] else ""))
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
