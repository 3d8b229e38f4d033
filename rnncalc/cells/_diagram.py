"""The words a cell's module uses to describe its diagram (``DIAGRAM``), drawn by
:mod:`rnncalc.pictures.cell` in the style of colah's LSTM figures.

A diagram is a grid: columns from the left, rows from the top. Row 0 is the state line (``c``
for an LSTM, ``h`` for a GRU), row 4 the bus that carries ``[h_{t-1}, x_t]`` to every gate's box,
which sits on row 3. Gates are yellow boxes, pointwise operations pink circles; a link is a wire
of horizontal and vertical segments from one named element to another. The terminals are named
as a sheet writes them: ``h_{t-1}``, ``c_{t-1}`` (entering on the left), ``h_t``, ``c_t`` (leaving
on the right); ``x_t`` joins the bus from below. A cell's spec holds its diagram
(``CellSpec.diagram``), or a function of the formulation that picks one (the GRU's, by
``z_weights``); a cell without one is drawn generically: its gates side by side, their values,
and ``h_t``.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Box", "Diagram", "Link", "Op"]

# NamedTuples, not dataclasses: every start makes these classes (each cell module holds its
# diagram), and a frozen dataclass takes ~1 ms to make, a NamedTuple a fifth of that


class Box(NamedTuple):
    """A gate's layer: ``gate`` as the trace names it, its activation by role."""

    gate: str
    col: float
    role: str  # the activation role (rnncalc.formulation.ROLES): gate, cell_input, ...


class Op(NamedTuple):
    """A pointwise operation; ``value`` names the trace quantity it makes (``c``, ``h``, ``m``),
    written beside it; ``role`` makes it an activation (an oval: the tanh of ``c_t``)."""

    name: str
    symbol: str  # × + 1− (or empty for an activation's oval, which shows its function)
    col: float
    row: float
    value: str = ""
    role: str = ""


class Link(NamedTuple):
    """A wire ``src`` -> ``dst``: ``v``/``h`` straight, ``vh`` up or down first, ``hv`` across
    first."""

    src: str
    dst: str
    route: str = "vh"


class Diagram(NamedTuple):
    state: str  # the quantity on the state line (row 0): "c", "h" or "" (none)
    boxes: tuple[Box, ...]
    ops: tuple[Op, ...]
    links: tuple[Link, ...]
    out_row: float = 2  # the row where h_t leaves on the right
    cols: float = 6  # the width of the grid
