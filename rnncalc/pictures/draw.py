"""``rnncalc draw PICTURE [SELECTION]``: one picture of a run, chosen as ``--explain`` selections
are (``t=1,layer=0,direction=backward``; ``gate=f`` picks a heatmap's panels).

>>> import rnncalc
>>> draw(rnncalc.run(rnncalc.load(cell="rnn")), "cell", "t=2")[:4]
'<svg'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rnncalc.explain import SelectionError, parse_selection
from rnncalc.pictures.canvas import Canvas

if TYPE_CHECKING:
    from rnncalc.trace import Trace

__all__ = ["PICTURES", "draw", "where"]

PICTURES = ("unrolled", "cell", "heatmap", "grad")
LATEX = ("unrolled", "cell")  # drawn with horizontal and vertical lines only


def _one(picture: str, sel: dict[str, set[str]], key: str) -> str | None:
    values = sel.get(key)
    if not values:
        return None
    if len(values) > 1:
        raise SelectionError(f"draw {picture}: one {key}, got {', '.join(sorted(values))}")
    return next(iter(values))


def where(trace: Trace, picture: str, sel: dict[str, set[str]]):  # type: ignore[no-untyped-def]
    """The step a cell diagram shows: ``t`` (default the first position), ``layer`` (0),
    ``direction`` (forward, or the only one); each checked against the run."""
    from rnncalc.pictures.cell import Where

    ex = trace.exercise
    layer = int(_one(picture, sel, "layer") or 0)
    if not 0 <= layer < ex.num_layers:
        raise SelectionError(f"draw {picture}: layer={layer}, but the run has layers "
                             f"0..{ex.num_layers - 1}")
    direction = _one(picture, sel, "direction") or ex.directions[0]
    if direction not in ex.directions:
        raise SelectionError(f"draw {picture}: direction={direction}, but the run has "
                             f"{' and '.join(ex.directions)}")
    t = int(_one(picture, sel, "t") or 0)
    t = t + ex.steps if t < 0 else t  # negative from the end, as --steps counts
    if not 0 <= t < ex.steps:
        raise SelectionError(f"draw {picture}: t={t}, but the run has positions "
                             f"0..{ex.steps - 1}")
    return Where(layer=layer, direction=direction, t=t)


def canvas(trace: Trace, picture: str, selection: str | None = None, *, precision: int = 4,
           truncate: int | None = None) -> Canvas:
    sel = parse_selection(selection)
    unused = set(sel) - {"cell": {"t", "layer", "direction"},
                         "heatmap": {"layer", "direction", "gate"}}.get(picture, set())
    if unused:
        raise SelectionError(f"draw {picture}: takes no {', '.join(sorted(unused))} in its "
                             "selection" + (" (cell takes t, layer, direction; heatmap layer, "
                                            "direction, gate)"))
    if picture == "unrolled":
        from rnncalc.pictures.unrolled import unrolled_canvas

        return unrolled_canvas(trace, precision=precision)
    if picture == "cell":
        from rnncalc.pictures.cell import cell_canvas

        return cell_canvas(trace, where(trace, picture, sel), precision=precision)
    if picture == "heatmap":
        from rnncalc.pictures.heatmap import heatmap_canvas

        layer = _one(picture, sel, "layer")
        if layer is not None:
            where(trace, picture, {"layer": {layer}})  # checked against the run
        return heatmap_canvas(trace, layer=None if layer is None else int(layer),
                              direction=_one(picture, sel, "direction"), only=sel.get("gate"),
                              precision=precision)
    from rnncalc.bptt import backprop
    from rnncalc.pictures.gradplot import grad_canvas

    return grad_canvas(trace, backprop(trace, truncate, round_to=trace.round_to),
                       precision=precision)


def draw(trace: Trace, picture: str, selection: str | None = None, *, precision: int = 4,
         fmt: str = "svg", truncate: int | None = None) -> str:
    """The picture as an SVG document, or (``fmt="latex"``) a LaTeX ``picture``."""
    if fmt == "latex" and picture not in LATEX:
        raise SelectionError(f"draw {picture}: SVG only; LaTeX draws {' and '.join(LATEX)}")
    c = canvas(trace, picture, selection, precision=precision, truncate=truncate)
    return c.svg() if fmt == "svg" else c.latex() + "\n"
