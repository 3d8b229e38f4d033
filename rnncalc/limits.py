"""Limits that keep a bad input from costing minutes or gigabytes; each names how to raise it.

Exercises are tiny (a few steps, a hidden size of 2), so the defaults are a thousand times larger
than any exercise and still small for a laptop. Real large runs raise them with an environment
variable, read when a config is loaded:

- ``RNNCALC_MAX_CONFIG_BYTES`` (default 1 MiB): a larger config file is refused before parsing.
- ``RNNCALC_MAX_VALUES`` (default 20,000,000): a run that would record more numbers (see
  :func:`run_values`) is refused before anything is computed.

A run whose numbers overflow its dtype is refused after it is computed (:func:`check_finite`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Iterator
from typing import Any

from rnncalc.arrays import is_array, namespace
from rnncalc.errors import RnncalcError

__all__ = ["check_finite", "check_run", "max_config_bytes", "max_values", "out_of_memory",
           "run_values"]

DEFAULT_CONFIG_BYTES = 1024 * 1024
DEFAULT_VALUES = 20_000_000  # 160 MB of float64: a 2000-step, 512-unit LSTM fits


def _limit(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise RnncalcError(f"{name}: expected a whole number of at least 1, got {raw!r}")
    return value


def max_config_bytes() -> int:
    """The largest config file read, in bytes (``RNNCALC_MAX_CONFIG_BYTES``)."""
    return _limit("RNNCALC_MAX_CONFIG_BYTES", DEFAULT_CONFIG_BYTES)


def max_values() -> int:
    """The most numbers a run may record (``RNNCALC_MAX_VALUES``)."""
    return _limit("RNNCALC_MAX_VALUES", DEFAULT_VALUES)


def run_values(*, steps: int, layers: int, directions: int, gates: int, hidden: int,
               input_size: int) -> int:
    """How many numbers a run records: every layer and direction keeps, at every step, what it
    read (``input_size`` or ``directions * hidden``), ``2 * gates * hidden`` pre-activations and
    activations, ``h`` and ``c``; and its weights, ``gates * hidden * (read + hidden + 2)``.

    >>> run_values(steps=3, layers=1, directions=1, gates=4, hidden=2, input_size=3)
    125
    """
    read = max(input_size, directions * hidden)
    per_step = read + (2 * gates + 2) * hidden
    weights = gates * hidden * (read + hidden + 2)
    return layers * directions * (steps * per_step + weights)


def check_run(*, steps: int, layers: int, directions: int, gates: int, hidden: int,
              input_size: int, hidden_known: bool = True) -> tuple[str, str] | None:
    """``None``, or the config key most to blame and the message when a run is over the limit.

    ``hidden_known=False``: ``hidden`` is only a lower bound (the weights are not read yet), and
    the message says "at least".

    >>> check_run(steps=10**9, layers=1, directions=1, gates=1, hidden=2, input_size=3)[0]
    'inputs'
    """
    count = run_values(steps=steps, layers=layers, directions=directions, gates=gates,
                       hidden=hidden, input_size=input_size)
    limit = max_values()
    if count <= limit:
        return None
    key = max((steps, "inputs"), (layers, "num_layers"), (hidden, "hidden_size"))[1]
    least = "" if hidden_known else "at least "
    return key, (
        f"this run would record {least}{_count(count)} numbers ({_count(steps)} steps x "
        f"{_count(layers)} layers x {directions} directions, hidden size {least}{_count(hidden)}, "
        f"{gates} gates), more than the limit of {limit:,}; set RNNCALC_MAX_VALUES to raise it"
    )


def out_of_memory(ex: Any) -> str:
    """The message when memory ran out computing ``ex`` (``None``: while reading the input). An
    exercise too large for this machine's memory is the input's size, not a bug: say which size,
    and the ways out."""
    if ex is None:
        return "out of memory reading the input; a long sequence or large weights in YAML take " \
               "several times their text's size while read"
    per_step = (2 * len(ex.gates) + 3) * ex.hidden_size * ex.num_layers * ex.num_directions
    return (f"{ex.source}: out of memory: {ex.steps} steps of {ex.hidden_size} units, "
            f"{ex.num_layers} layer(s), {ex.num_directions} direction(s) are about "
            f"{ex.steps * per_step:,} numbers to record and write; show fewer steps (a table with "
            f"--steps 0:5,-5:, the default, rather than the JSON, which holds every step) or "
            f"give fewer inputs (a smaller T)")


def _count(n: int) -> str:
    """``n`` with thousands separators, or, past a quadrillion, its power of ten (a hidden size
    of 300 digits is not written out).

    >>> _count(2 * 10**300)
    'more than 10^300'
    """
    return f"{n:,}" if n < 10**15 else f"more than 10^{int(math.log10(n))}"


def check_finite(result: Any, source: str, prefix: str = "") -> None:
    """Refuse a result whose numbers left the range of their dtype (an ``inf`` or ``nan``
    anywhere): weights of 1e308, or of 1e39 in float32, give no answer worth showing.

    ``result`` is a trace or a gradient trace; the first such number is named by its field path
    in the JSON output (``result.to_dict()``, under ``prefix``), built only when there is one.
    """
    for path, value in _numbers(result, ""):
        if isinstance(value, float):
            if math.isfinite(value):
                continue
            bad_value, dtype, top = value, "float64", sys.float_info.max
        else:
            if _finite(value):
                continue
            xp = namespace(value)
            bad = ~xp.isfinite(value)
            where = "".join(f"[{int(i[0])}]" for i in xp.nonzero(bad))
            path, bad_value = path + where, float(value[bad][0])
            dtype, top = str(value.dtype).removeprefix("torch."), xp.finfo(value.dtype).max
        # the field as the JSON names it; a number the JSON does not show keeps its own name
        path, bad_value = next(_non_finite(result.to_dict(), prefix),
                               (f"{prefix}.{path}".lstrip("."), bad_value))
        raise RnncalcError(
            f"{source}: {path}: out of the range of {dtype} (got {bad_value}; {dtype} "
            f"holds numbers up to {top:.3g}); the weights or inputs are too large"
        )


_FLOATING: dict[Any, bool] = {}


def _finite(value: Any) -> bool:
    """Whether every number of an array (numpy or torch) is finite; any of whole numbers is."""
    xp = namespace(value)
    floating = _FLOATING.get(value.dtype)
    if floating is None:
        floating = _FLOATING[value.dtype] = bool(xp.isdtype(value.dtype, "real floating"))
    return not floating or bool(xp.isfinite(value).all())  # the method: numpy's np.all is slow


def _non_finite(doc: Any, path: str) -> Iterator[tuple[str, float]]:
    """The JSON paths and values of the ``inf`` and ``nan`` numbers in ``doc``, in its order."""
    if isinstance(doc, float) and not math.isfinite(doc):
        yield path, doc
    elif isinstance(doc, dict):
        for key, value in doc.items():
            yield from _non_finite(value, f"{path}.{key}".lstrip("."))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _non_finite(value, f"{path}[{i}]")


def _numbers(obj: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every float and array (numpy or torch) in ``obj``, with its field path."""
    if isinstance(obj, float) or is_array(obj):
        yield path, obj
    elif hasattr(obj, "__dataclass_fields__") and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            if f.name not in ("exercise", "loss"):  # the config's own numbers: checked on reading
                yield from _numbers(getattr(obj, f.name), f"{path}.{f.name}".lstrip("."))
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from _numbers(value, f"{path}.{key}")
    elif isinstance(obj, list | tuple) and not all(type(v) in (int, str) for v in obj):
        # (a trace's positions, 2000 whole numbers on a long run, hold no inf or nan)
        for i, value in enumerate(obj):
            yield from _numbers(value, f"{path}[{i}]")
