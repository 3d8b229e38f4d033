"""The gates of each cell, in the order PyTorch stacks their blocks (from the cells' registry,
which imports no torch); :mod:`rnncalc.model` exports it as well."""

from __future__ import annotations

from rnncalc.cells import CELLS

__all__ = ["GATES"]

#: Gate order of each cell, as PyTorch stacks the blocks of ``weight_ih_l[k]``.
GATES: dict[str, tuple[str, ...]] = {name: c.gates for name, c in CELLS.items()}
