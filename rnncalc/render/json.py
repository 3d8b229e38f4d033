"""The JSON contract (README, "JSON output"): ``Trace.to_dict()`` serialized, full precision."""

from __future__ import annotations

import json

from rnncalc.trace import Trace

__all__ = ["render"]


def render(trace: Trace, *, indent: int | None = 2) -> str:
    return json.dumps(trace.to_dict(), indent=indent) + "\n"
