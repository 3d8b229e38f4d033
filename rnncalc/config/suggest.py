"""The name a mistyped key most likely meant, for every "did you mean" of the config reader."""

from __future__ import annotations

import difflib
from typing import Any

__all__ = ["did_you_mean"]


def did_you_mean(key: Any, known: list[str]) -> str | None:
    """The known name ``key`` most likely meant: ``"wieghts"`` -> ``"weights"``, ``"W_fh"`` ->
    ``"W_hf"`` (same letters, swapped), ``"W_hf "`` -> ``"W_hf"``."""
    word = str(key).strip()
    for name in known:
        if word.lower() == name.lower() or sorted(word) == sorted(name):
            return name
    near = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return near[0] if near else None
