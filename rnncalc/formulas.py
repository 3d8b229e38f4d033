"""``rnncalc formulas``: the equations a cell computes under a convention, or under a config's
own options, every symbol defined, then the other names its weights may be given by.

No torch: reading a config's options computes nothing.
"""

from __future__ import annotations

from rnncalc.aliases import formulas_lines
from rnncalc.cells import CELLS
from rnncalc.formulation import equations, preset

__all__ = ["formulas"]


def formulas(cell: str, convention: str | None = None, config: str | None = None) -> str:
    """The text ``rnncalc formulas CELL [--convention C] [-c CONFIG]`` prints.

    >>> print(formulas("rnn").splitlines()[2])
    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    """
    if config is None:
        form, bias = preset(cell, convention or "pytorch"), True
    else:
        from rnncalc.config import build, folder_of, read_document

        doc = read_document(config)
        own = doc.data.get("cell") if isinstance(doc.data, dict) else None
        if isinstance(own, str) and own in CELLS and own != cell:  # the command to run is ours
            raise doc.error(("cell",), f"this config is for {own!r}, not {cell!r}: run "
                            f"`rnncalc formulas {own}`")
        exercise = build(doc, folder_of(config), cell=cell, convention=convention)
        form, bias = exercise.formulation, exercise.bias
    title = f"{CELLS[cell].title}, {form.summary()}"
    return "\n".join([title, "", *equations(form, bias=bias), *formulas_lines(cell)]) + "\n"
