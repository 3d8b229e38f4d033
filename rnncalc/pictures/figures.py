"""The pictures a LaTeX answer key carries: the unrolled net and the cell at the last step of
the first layer, as LaTeX ``picture`` environments (no TikZ, no converter)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rnncalc.pictures.canvas import TEXT_WIDTH, Canvas
from rnncalc.pictures.cell import Where, cell_canvas
from rnncalc.pictures.unrolled import unrolled_canvas
from rnncalc.render.report import Figure, Section

if TYPE_CHECKING:
    from rnncalc.trace import Trace

__all__ = ["TEXT_HEIGHT", "pictures_section"]

TEXT_HEIGHT = 620.0  # points: an A4 page's text height at 2 cm margins, less room for a caption


def pictures_section(trace: Trace, blank: bool = False) -> list[Section]:
    """A section of two figures; none on a student's sheet (``blank``), which would give the
    answers away."""
    if blank:
        return []
    tr = next(iter(trace.layers[0].directions.values()))
    where = Where(0, tr.direction, tr.positions[-1])
    unrolled = unrolled_canvas(trace)
    cell = cell_canvas(trace, where)
    return [Section("Pictures", (
        Figure(_fit(unrolled), f"{unrolled.title}: h_t (and c_t) on the arrows."),
        Figure(_fit(cell), f"{cell.title}: every gate's pre-activation a and activation."),
    ))]


def _fit(canvas: Canvas) -> str:
    """Across the page; a picture much wider than the page turned to lie along it (larger)."""
    if canvas.width <= 2 * TEXT_WIDTH:
        return canvas.latex()
    return "\\rotatebox{90}{" + canvas.latex(width=TEXT_HEIGHT) + "}"
