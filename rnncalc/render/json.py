"""The JSON contract (README, "JSON output"): ``Trace.to_dict()`` serialized, full precision.

Serialized by orjson: the same numbers (shortest text that reads back to the same float) about
twenty times faster than the standard library, which matters for a long sequence's trace (a
2000-step, 512-unit LSTM is over 400 MB of JSON). Not-a-number and infinities, which JSON has no
words for, are written ``null``.

:func:`stream` writes the same bytes as :func:`render` a few hundred steps at a time, each block
handed to orjson as a numpy array: the text of a 100,000-step trace is never whole in memory, and
its numbers never Python floats.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rnncalc.arrays import is_array
from rnncalc.trace import DirectionTrace, Trace

__all__ = ["dumps", "render", "stream"]

#: Steps (rows) serialized at a time by :func:`stream`.
CHUNK = 256


def dumps(doc: Any, *, indent: bool = True) -> str:
    """``doc`` as JSON text: indented by two spaces, or on one line (``indent=False``)."""
    import orjson

    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 if indent else 0).decode()


def render(trace: Trace, *, indent: int | None = 2) -> str:
    return dumps(trace.to_dict(), indent=indent is not None) + "\n"


def stream(trace: Trace) -> Iterator[bytes]:
    """``render(trace)``, encoded, in pieces."""
    yield from _value(trace.to_dict(lazy=True), b"")
    yield b"\n"


def _value(v: Any, pad: bytes) -> Iterator[bytes]:
    """``v`` indented as orjson indents it at the depth ``pad``, written a piece at a time."""
    import orjson

    if isinstance(v, DirectionTrace):
        yield from _rows(len(v.positions), lambda rows: v.to_list(rows, _array), pad)
    elif is_array(v):
        yield from _rows(len(v), lambda rows: _array(v[rows]), pad)
    elif isinstance(v, dict) and v and _has_lazy(v):
        inner = pad + b"  "
        yield b"{"
        for i, (key, item) in enumerate(v.items()):
            yield (b",\n" if i else b"\n") + inner + orjson.dumps(key) + b": "
            yield from _value(item, inner)
        yield b"\n" + pad + b"}"
    elif isinstance(v, list) and v and _has_lazy(v):
        inner = pad + b"  "
        yield b"["
        for i, item in enumerate(v):
            yield (b",\n" if i else b"\n") + inner
            yield from _value(item, inner)
        yield b"\n" + pad + b"]"
    else:
        yield orjson.dumps(v, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n" + pad)


def _rows(n: int, block: Any, pad: bytes) -> Iterator[bytes]:
    """A list of ``n`` rows, ``block(slice)`` serialized ``CHUNK`` rows at a time."""
    import orjson

    if n == 0:
        yield b"[]"
        return
    option = orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY
    yield b"["
    for start in range(0, n, CHUNK):
        text = orjson.dumps(block(slice(start, start + CHUNK)), option=option)
        # "[\n  row,\n  row\n]": the rows, at this depth
        yield (b",\n" if start else b"\n") + pad + text[2:-2].replace(b"\n", b"\n" + pad)
    yield b"\n" + pad + b"]"


def _array(t: Any) -> Any:
    """A block as orjson serializes it exactly as the Python floats of ``tolist`` (float32 as
    float64: each number as the float64 it is)."""
    import numpy as np

    return np.asarray(t, dtype=np.float64)


def _has_lazy(v: Any) -> bool:
    if isinstance(v, DirectionTrace) or is_array(v):
        return True
    items = v.values() if isinstance(v, dict) else v if isinstance(v, list) else ()
    return any(_has_lazy(item) for item in items)
