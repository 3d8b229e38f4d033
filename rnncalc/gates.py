"""The gates of each cell, in the order PyTorch stacks their blocks.

A module of its own, importing nothing, so that commands that compute nothing (``rnncalc init``,
the CLI's check of a CELL argument) need not import :mod:`rnncalc.model` and its dataclasses;
:mod:`rnncalc.model` exports it as well.
"""

from __future__ import annotations

__all__ = ["GATES"]

#: Gate order of each cell, as PyTorch stacks the blocks of ``weight_ih_l[k]``.
GATES: dict[str, tuple[str, ...]] = {
    "rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"),
}
