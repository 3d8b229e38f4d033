"""The names other sources give the same weights, which a config may use (``rnncalc formulas``
lists them).

- The LSTM candidate is ``g`` in PyTorch and rnncalc, ``c`` in Coursera and colah: ``W_c`` and
  ``b_c`` in the concat layout, ``W_ic``, ``W_hc``, ``b_ic``, ``b_hc`` per gate.
- d2l's own names under ``convention: d2l``: ``W_x?`` ``[H_in, H]`` and ``W_h?`` ``[H, H]``
  multiplied from the left (``X W_xi + H W_hi + b_i``), one bias ``b_?`` per gate, with d2l's gate
  letters (lstm i, f, o, c; gru r, z, h; rnn h).

Imports nothing, so that ``rnncalc formulas`` and the config reader share one table.
"""

from __future__ import annotations

__all__ = ["D2L_GATES", "concat_aliases", "d2l_names", "formulas_lines", "per_gate_aliases"]

#: d2l's letter for each of rnncalc's gates.
D2L_GATES: dict[str, dict[str, str]] = {
    "rnn": {"h": "h"}, "lstm": {"i": "i", "f": "f", "g": "c", "o": "o"},
    "gru": {"r": "r", "z": "z", "n": "h"},
}


def per_gate_aliases(cell: str) -> dict[str, str]:
    """Per-gate aliases: ``{"W_ic": "W_ig", ...}`` for the LSTM's candidate ``c``."""
    if cell != "lstm":
        return {}
    return {f"{p}c": f"{p}g" for p in ("W_i", "W_h", "b_i", "b_h")}


def concat_aliases(cell: str) -> dict[str, str]:
    """Concat-layout aliases: ``{"W_c": "W_g", "b_c": "b_g"}`` for the LSTM."""
    return {"W_c": "W_g", "b_c": "b_g"} if cell == "lstm" else {}


def d2l_names(cell: str) -> dict[str, str]:
    """d2l's names -> rnncalc's per-gate names: ``W_xi`` -> ``W_ii``, ``W_hc`` -> ``W_hg``,
    ``b_c`` -> ``b_ig`` (d2l has one bias per gate)."""
    out = {}
    for gate, letter in D2L_GATES[cell].items():
        out.update({f"W_x{letter}": f"W_i{gate}", f"W_h{letter}": f"W_h{gate}",
                    f"b_{letter}": f"b_i{gate}"})
    return out


def formulas_lines(cell: str) -> list[str]:
    """The aliases as ``rnncalc formulas`` lists them, under "also accepted"."""
    out = []
    if cell == "lstm":
        out.append("  W_ic, W_hc, b_ic, b_hc  for W_ig, W_hg, b_ig, b_hg (Coursera, colah: c)")
        out.append("  W_c, b_c  in layout: concat, for W_g, b_g (Coursera, colah)")
    if cell in D2L_GATES:
        out.append("  under convention: d2l (W_x? [H_in, H] and W_h? [H, H], both x W; one bias):")
        out.append(f"    {', '.join(d2l_names(cell))}")
    return ["also accepted:", *out] if out else []
