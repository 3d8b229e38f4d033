"""The registry of cells: each cell's module declares it once (its ``SPEC``), the rest of rnncalc
loops over :data:`CELLS`.

A cell maps ``(params, x, h_prev, c_prev, formulation)`` to ``(pre, act, h, c, extra)``: the
pre-activations and activations of its gates by name, the new states, other intermediates. ``x``
is ``[..., H_in]`` and the states ``[..., H]``, so the same equations evaluate one step or many
steps at once. Importing the registry imports no torch.
"""

from __future__ import annotations

from rnncalc.cells import gru, indrnn, lstm, rnn
from rnncalc.cells._spec import CellGrad, CellSpec, Params, StepOut
from rnncalc.errors import RnncalcError

__all__ = ["CELLS", "CellGrad", "CellSpec", "Params", "StepOut", "spec"]

#: Every cell rnncalc computes, by the name a config's ``cell:`` and the command use.
CELLS: dict[str, CellSpec] = {s.name: s for s in (rnn.SPEC, lstm.SPEC, gru.SPEC, indrnn.SPEC)}


def spec(name: str) -> CellSpec:
    """The cell called ``name``; an unknown name is an error, never another cell's code."""
    try:
        return CELLS[name]
    except KeyError:
        raise RnncalcError(f"unknown cell {name!r}; rnncalc has {', '.join(CELLS)}") from None
