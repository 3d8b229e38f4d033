"""Shapes as sources write them, read into rnncalc's before anything else reads the config.

- numpy's column vectors ``(n, 1)``: a bias ``b_f: [[0.1], [0.2]]``, a peephole, the head's ``b``,
  and inputs written as one column per step (``inputs: [[[1], [2]], [[3], [4]]]``, Coursera's
  ``x_t`` of shape ``(n_x, 1)``) become plain vectors; a matrix with one column stays a matrix;
- bare numbers for one feature per step: ``inputs: [1, 2, 3]`` is ``[[1], [2], [3]]`` (a one-unit
  net's weights and states may be bare numbers too; the builder reads a number as ``[[w]]``);
- a flat row-major array with its shape (TFLite's buffers): ``W_ii: {shape: [2, 3], values:
  [1, 2, 3, 4, 5, 6]}`` is ``[[1, 2, 3], [4, 5, 6]]``, anywhere under ``weights``, for
  ``inputs`` and for ``head.W``.

Initial states are read by the builder, which knows how many there are.
"""

from __future__ import annotations

import math
from typing import Any

from rnncalc.config.yamlsafe import Located, Path
from rnncalc.errors import ConfigError

__all__ = ["FLAT", "normalize"]

#: The schema of a flat array with its shape.
FLAT = {"type": "object", "additionalProperties": False, "required": ["shape", "values"],
        "properties": {"shape": {"type": "array", "items": {"type": "integer", "minimum": 1}},
                       "values": {"type": "array", "items": {"type": "number"}}}}

_VECTOR_NAMES = ("b_", "bias", "p_")


def normalize(doc: Located, problems: list[ConfigError] | None = None) -> Located:
    """``doc`` with column vectors, bare numbers and flat arrays in rnncalc's shapes. A flat
    array's problem is raised; or, given ``problems``, added to them, and zeros of its shape read
    in its place, so that the rest is still checked against the shape meant."""
    data = doc.data
    if not isinstance(data, dict):
        return doc
    r = _Rewriter(doc, problems)
    new = dict(data)
    if "inputs" in data:
        new["inputs"] = r.inputs(data["inputs"])
    if isinstance(data.get("weights"), dict):
        new["weights"] = r.weights(("weights",), data["weights"])
    head = data.get("head")
    if isinstance(head, dict):
        new["head"] = {**head, **{k: r.value(("head", k), head[k], k == "b")
                                  for k in ("W", "b", "kernel", "bias") if k in head}}
    return Located(new, doc.lines, doc.source) if r.changed else doc


class _Rewriter:
    def __init__(self, doc: Located, problems: list[ConfigError] | None) -> None:
        self.doc, self.changed, self.problems = doc, False, problems

    def inputs(self, value: Any) -> Any:
        value = self.value(("inputs",), value)
        if not isinstance(value, list) or not value:
            return value
        if all(_is_number(v) for v in value):  # one feature per step
            self.changed = True
            return [[v] for v in value]
        if all(isinstance(v, list) and v and all(_is_column(c) for c in v) for v in value):
            self.changed = True  # one column vector (n, 1) per step
            return [[c[0] for c in v] for v in value]
        return value

    def weights(self, path: Path, group: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in group.items():
            if isinstance(value, dict) and "shape" not in value and "values" not in value:
                out[key] = self.weights((*path, key), value)
            else:
                out[key] = self.value((*path, key), value,
                                      str(key).startswith(_VECTOR_NAMES))
        return out

    def value(self, path: Path, value: Any, vector: bool = False) -> Any:
        if isinstance(value, dict) and ("shape" in value or "values" in value):
            value = self.flat(path, value)
        if vector and isinstance(value, list) and value and all(
                _is_column(v) for v in value):
            self.changed = True
            return [v[0] for v in value]
        return value

    def flat(self, path: Path, spec: dict[str, Any]) -> Any:
        shape, values = spec.get("shape"), spec.get("values")
        extra = sorted(set(spec) - {"shape", "values"})
        if extra or not (isinstance(shape, list) and shape and all(
                isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape)):
            raise self.doc.error(path, "expected a flat row-major array as {shape: [rows, cols], "
                                 "values: [...]} (shape: whole numbers >= 1), got "
                                 + repr(spec)[:100])
        if not isinstance(values, list) or not all(_is_number(v) for v in values):
            return self.stand_in(shape, self.doc.error(
                (*path, "values"), "expected a flat list of numbers (row-major)"))
        if len(values) != math.prod(shape):
            return self.stand_in(shape, self.doc.error(
                (*path, "values"), f"expected {math.prod(shape)} numbers (shape {shape}, "
                f"row-major), got {len(values)}"))
        self.changed = True
        return _reshape(values, shape)

    def stand_in(self, shape: list[int], problem: ConfigError) -> Any:
        """Zeros of ``shape`` for an array with a ``problem``, noted (a shape past a million
        numbers, which no exercise has, is not made: the problem is raised alone)."""
        if self.problems is None or math.prod(shape) > 1_000_000:
            raise problem
        self.problems.append(problem)
        self.changed = True
        return _reshape([0.0] * math.prod(shape), shape)


def _reshape(values: list[Any], shape: list[int]) -> Any:
    if len(shape) == 1:
        return list(values)
    step = len(values) // shape[0]
    return [_reshape(values[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_column(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 1 and _is_number(v[0])
