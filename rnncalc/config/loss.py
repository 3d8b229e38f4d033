"""Read a config's ``loss`` (or ``upstream``) into a checked :class:`~rnncalc.model.Loss`.

The loss is checked against the head it reads: its task, its number of outputs, the number of
positions. Every error names the field path and the line, and says what was expected and what was
found.
"""

from __future__ import annotations

import math
from typing import Any

from rnncalc.config.yamlsafe import Located
from rnncalc.model import Head, Loss, Matrix, Vector

__all__ = ["read_loss"]

_TASKS = {  # loss type -> the head tasks it reads
    "mse": ("regression",), "half_sse": ("regression",),
    "cross_entropy": ("classification", "labeling"), "bce": ("classification", "labeling"),
}


def read_loss(doc: Located, head: Head | None, steps: int, width: int,
              c_width: int | None = None) -> Loss | None:
    """The exercise's ``loss`` on ``head``, or ``upstream`` (up to ``steps`` vectors of
    ``width``, the last positions') and, for an LSTM (``c_width``: the top layer's cell states
    joined), ``upstream_c``: dL/dc_t from above, as Coursera's ``dc_next``."""
    data: dict[str, Any] = doc.data
    if "upstream" in data or "upstream_c" in data:
        key = "upstream" if "upstream" in data else "upstream_c"
        if "loss" in data:
            raise doc.error((key,), "give either loss or upstream, not both")
        if "upstream_c" in data and c_width is None:
            raise doc.error(("upstream_c",), "upstream_c is dL/dc_t from above: only an lstm "
                            "has a cell state c")
        upstream = _upstream(doc, "upstream", steps, width, "dL/d output_t")
        upstream_c = _upstream(doc, "upstream_c", steps, c_width or 0, "dL/dc_t") \
            if "upstream_c" in data else None
        return Loss(type="upstream", reduction="sum", upstream=upstream, upstream_c=upstream_c)
    spec = data.get("loss")
    if spec is None:
        return None
    kind = spec["type"]
    if head is None:
        raise doc.error(("loss",), f"a {kind} loss reads the head's output; add a head "
                        "(or give upstream: dL/d output_t instead of a loss)")
    if head.task not in _TASKS[kind]:
        raise doc.error(("loss", "type"), f"a {kind} loss needs a head with task "
                        f"{' or '.join(_TASKS[kind])}, got {head.task}")
    outputs = len(head.W)
    if kind == "bce" and outputs != 1:
        raise doc.error(("loss", "type"), f"bce needs a one-output head (sigmoid), got {outputs} "
                        "outputs; use cross_entropy for a softmax head")
    if kind == "cross_entropy" and outputs < 2:
        raise doc.error(("loss", "type"), "cross_entropy needs a head with 2 or more outputs "
                        "(softmax); use bce for a one-output head")
    reduction = spec.get("reduction", "sum" if kind == "half_sse" else "mean")
    if kind == "half_sse" and reduction != "sum":
        raise doc.error(("loss", "reduction"), "half_sse is 1/2 sum (y - t)^2, a sum by "
                        "definition; drop reduction (or use mse with reduction: mean)")
    if head.task == "classification" and "targets" in spec:
        raise doc.error(("loss", "targets"), "a classification head reads the final state: give "
                        "target (one), or use task labeling for one target per position")
    if head.task == "labeling" and "target" in spec:
        raise doc.error(("loss", "target"), "a labeling head has an output at every position: "
                        "give targets (one per position)")
    per_position = head.task == "labeling" or "targets" in spec
    key = "targets" if per_position else "target"
    for given, other in (("target", "targets"), ("targets", "target")):
        if given in spec and other in spec:
            raise doc.error(("loss", other), "give target (the head on the final state) or "
                            "targets (one per position), not both")
    if key not in spec:
        where = ("one per position: the head is labeling" if per_position
                 else "one for the head on the final state")
        raise doc.error(("loss",), f"missing key {key!r} ({where})")
    read = _Targets(doc, kind, outputs)
    if per_position:
        values = spec["targets"]
        if not isinstance(values, list) or len(values) != steps:
            got = len(values) if isinstance(values, list) else repr(values)
            raise doc.error(("loss", "targets"), f"expected {steps} targets (one per position), "
                            f"got {got}")
        targets: Matrix = tuple(read.one(("loss", "targets", t), v) for t, v in enumerate(values))
        return Loss(type=kind, reduction=reduction, targets=targets)
    return Loss(type=kind, reduction=reduction, target=read.one(("loss", "target"), spec["target"]))


def _upstream(doc: Located, key: str, steps: int, width: int, what: str) -> Matrix:
    """``key``'s vectors, one per position, or fewer: the last positions', the rest zero (a
    gradient given at the last step only, as Coursera's ``da_next``, ``dc_next``)."""
    rows = doc.data.get(key, [])
    if not isinstance(rows, list) or len(rows) > steps:
        got = len(rows) if isinstance(rows, list) else repr(rows)
        raise doc.error((key,), f"expected at most {steps} vectors ({what}, one per position; "
                        f"K < {steps} vectors are the last K positions', the rest zero), got {got}")
    for t, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            got = len(row) if isinstance(row, list) else repr(row)
            raise doc.error((key, t), f"expected {width} numbers (the top layer's "
                            f"{'output width' if key == 'upstream' else 'cell states, joined'}), "
                            f"got {got}")
        for k, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise doc.error((key, t, k), f"expected a finite number, got {v!r}")
    zeros = ((0.0,) * width,) * (steps - len(rows))
    return zeros + tuple(tuple(float(v) for v in row) for row in rows)


class _Targets:
    """One target: a class index (cross_entropy), a probability (bce), a vector (mse, half_sse)."""

    def __init__(self, doc: Located, kind: str, outputs: int) -> None:
        self.doc, self.kind, self.outputs = doc, kind, outputs

    def one(self, path: tuple[str | int, ...], value: Any) -> Vector:
        if self.kind == "cross_entropy":
            if isinstance(value, bool) or not isinstance(value, int) or not (
                    0 <= value < self.outputs):
                raise self.doc.error(path, f"expected a class index 0..{self.outputs - 1}, "
                                     f"got {value!r}")
            return (float(value),)
        if isinstance(value, list) and len(value) == 1 and not isinstance(value[0], list):
            value = value[0]
        if self.kind == "bce":
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    0 <= value <= 1):
                raise self.doc.error(path, f"expected a target probability in [0, 1], "
                                     f"got {value!r}")
            return (float(value),)
        one = not isinstance(value, list)
        if one:
            value = [value]
        if len(value) != self.outputs or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            raise self.doc.error(path, f"expected {self.outputs} numbers (one per head output), "
                                 f"got {value!r}")
        for k, v in enumerate(value):
            if not math.isfinite(v):
                raise self.doc.error(path if one else (*path, k),
                                     f"expected a finite number, got {v!r}")
        return tuple(float(v) for v in value)
