"""The names other sources give the same weights, which a config may use (``rnncalc formulas``
lists them), read from each cell's declaration (``CellSpec.aliases``, ``CellSpec.d2l``):

- the LSTM candidate is ``g`` in PyTorch and rnncalc, ``c`` in Coursera and colah: ``W_c`` and
  ``b_c`` in the concat layout, ``W_ic``, ``W_hc``, ``b_ic``, ``b_hc`` per gate;
- d2l's own names under ``convention: d2l``: ``W_x?`` ``[H_in, H]`` and ``W_h?`` ``[H, H]``
  multiplied from the left (``X W_xi + H W_hi + b_i``), one bias ``b_?`` per gate, with d2l's gate
  letters.

Imports no torch, so that ``rnncalc formulas`` and the config reader share one table.
"""

from __future__ import annotations

from rnncalc.cells import CELLS

__all__ = ["concat_aliases", "d2l_gates", "d2l_names", "formulas_lines", "per_gate_aliases"]


def per_gate_aliases(cell: str) -> dict[str, str]:
    """Per-gate aliases, theirs -> ours: ``{"W_ic": "W_ig", ...}`` for the LSTM's candidate ``c``.
    """
    return _aliases(cell, "per-gate")


def concat_aliases(cell: str) -> dict[str, str]:
    """Concat-layout aliases, theirs -> ours: ``{"W_c": "W_g", "b_c": "b_g"}`` for the LSTM."""
    return _aliases(cell, "concat")


def _aliases(cell: str, layout: str) -> dict[str, str]:
    own = CELLS.get(cell)
    return own.aliases.get(layout, {}) if own else {}


def d2l_gates(cell: str) -> dict[str, str]:
    """d2l's letter for each of the cell's gates; empty for a cell d2l does not have."""
    own = CELLS.get(cell)
    return own.d2l if own else {}


def d2l_names(cell: str) -> dict[str, str]:
    """d2l's names -> rnncalc's per-gate names: ``W_xi`` -> ``W_ii``, ``W_hc`` -> ``W_hg``,
    ``b_c`` -> ``b_ig`` (d2l has one bias per gate)."""
    out = {}
    for gate, letter in d2l_gates(cell).items():
        out.update({f"W_x{letter}": f"W_i{gate}", f"W_h{letter}": f"W_h{gate}",
                    f"b_{letter}": f"b_i{gate}"})
    return out


def formulas_lines(cell: str) -> list[str]:
    """The aliases as ``rnncalc formulas`` lists them, under "also accepted"."""
    out = []
    note = CELLS[cell].alias_note
    for layout, where in (("per-gate", ""), ("concat", "in layout: concat, ")):
        names = _aliases(cell, layout)
        if names:
            out.append(f"  {', '.join(names)}  {where}for {', '.join(names.values())} ({note})")
    if d2l_gates(cell):
        out.append("  under convention: d2l (W_x? [H_in, H] and W_h? [H, H], both x W; one bias):")
        out.append(f"    {', '.join(d2l_names(cell))}")
    return ["also accepted:", *out] if out else []
