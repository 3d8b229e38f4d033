"""The arithmetic of a hand-worked sheet as data: expressions, and the line that computes one
element (``f_0[0] = sigmoid(...) = 0.9241``).

Built by each cell's ``explain`` (:mod:`rnncalc.cells`) and by :mod:`rnncalc.explain`; formatted
by every renderer its own way. Pure data, importing nothing of rnncalc.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

__all__ = ["Call", "Diff", "Expr", "Frac", "Line", "Num", "Prod", "Sum", "Sym", "Vec", "Where",
           "subscript"]


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Sym:
    """``name_t[unit]``; ``t`` ``None`` for a quantity of no position (the head's final state)."""

    name: str
    t: int | None = None
    unit: int | None = None  # from 0, as every index


@dataclass(frozen=True)
class Prod:
    factors: tuple[Expr, ...]


@dataclass(frozen=True)
class Sum:
    """Terms in groups (input part, recurrent part, biases), which renderers may space apart."""

    groups: tuple[tuple[Expr, ...], ...]


@dataclass(frozen=True)
class Call:
    fn: str
    arg: Expr


@dataclass(frozen=True)
class Diff:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Vec:
    """A list of values, as an argument: ``argmax(0.4796, 0.5204)``."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Frac:
    num: Expr
    den: Expr


Expr = Union[Num, Sym, Prod, Sum, Call, Diff, Vec, Frac]  # noqa: UP007 (a runtime alias, py3.10)


@dataclass(frozen=True)
class Where:
    """What a line computes, for selecting lines and for pointing at an answer."""

    quantity: str  # a gate (i f g o, r z n, h), c, m, h; head: y, z, p, label
    t: int | None
    unit: int | None  # from 0, as every index
    layer: int | None = None  # None: the head
    direction: str | None = None


@dataclass(frozen=True)
class Line:
    """``lhs = chain[0] = chain[1] = ...``; the last of the chain is the value."""

    lhs: Sym
    chain: tuple[Expr, ...]
    where: Where


def subscript(t: int) -> str:
    """A position as plain text writes it, braced past one character as ``h_{t-1}`` is: ``_0``,
    ``_{10}``, ``_{-1}``. Every name of a quantity at a position uses it (``--explain``'s lines,
    ``check``'s and ``export``'s item names), so one block never writes ``h_10`` beside
    ``h_{10}``."""
    return f"_{t}" if 0 <= t < 10 else f"_{{{t}}}"
