"""The JSON contract (README, "JSON output"): ``Trace.to_dict()`` serialized, full precision.

Serialized by orjson: the same numbers (shortest text that reads back to the same float) about
twenty times faster than the standard library, which matters for a long sequence's trace (a
2000-step, 512-unit LSTM is over 400 MB of JSON). Not-a-number and infinities, which JSON has no
words for, are written ``null``.
"""

from __future__ import annotations

from typing import Any

from rnncalc.trace import Trace

__all__ = ["dumps", "render"]


def dumps(doc: Any, *, indent: bool = True) -> str:
    """``doc`` as JSON text: indented by two spaces, or on one line (``indent=False``)."""
    import orjson

    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 if indent else 0).decode()


def render(trace: Trace, *, indent: int | None = 2) -> str:
    return dumps(trace.to_dict(), indent=indent is not None) + "\n"
