"""``draw``: one picture of a run (SVG or LaTeX); the whole report is a cell command's
``--format html``."""

# No `from __future__ import annotations`: see rnncalc/cli/common.py.
from enum import Enum
from typing import Annotated

import typer

from rnncalc.cells import CELLS
from rnncalc.cli.common import (
    BidirOpt,
    CellName,
    ConfigOpt,
    DTypeOpt,
    OutputOpt,
    OutsideOpt,
    PrecisionOpt,
    RoundOpt,
    TaskOpt,
    TracebackOpt,
    app,
    digits,
    emit,
)
from rnncalc.cli.exits import compute, exit_codes

__all__ = ["draw"]


class Picture(str, Enum):
    unrolled = "unrolled"
    cell = "cell"
    heatmap = "heatmap"
    grad = "grad"


class PictureFormat(str, Enum):
    svg = "svg"
    latex = "latex"


#: With neither --config nor --cell: the registry's first cell, whose seed has every --task and
#: --bidirectional (the RNN's).
_DEFAULT_CELL = next(iter(CELLS))


@app.command(epilog="Examples:  rnncalc draw cell --cell lstm t=1 -o cell.svg  ·  rnncalc draw "
             "unrolled -c configs/rnn_stacked.yaml  ·  rnncalc draw heatmap -c my.yaml gate=f  ·  "
             "rnncalc draw grad -c configs/rnn_grad.yaml  ·  rnncalc lstm --format html -o r.html")
def draw(
    picture: Annotated[Picture, typer.Argument(
        help="unrolled (the net over time), cell (one step, every value in place), heatmap "
        "(gates, c and h: unit by time) or grad (the gradient norm per step, log scale).")],
    selection: Annotated[str | None, typer.Argument(
        help="As --explain's: cell takes t, layer, direction (default t=0,layer=0, forward); "
        "heatmap takes layer, direction, gate (a key given twice takes either value).",
        show_default=False)] = None,
    config: ConfigOpt = None,
    cell: Annotated[CellName | None, typer.Option(
        "--cell", help="With no --config: the seed exercise of this cell (default "
        f"{_DEFAULT_CELL}).",
        show_default=False)] = None,
    task: TaskOpt = None,
    bidirectional: BidirOpt = None,
    round: RoundOpt = None,
    precision: PrecisionOpt = None,
    dtype: DTypeOpt = None,
    format: Annotated[PictureFormat, typer.Option(
        "--format", "-f", help="svg, or latex (a picture environment; unrolled and cell "
        "only).")] = PictureFormat.svg,
    truncate: Annotated[int | None, typer.Option(
        min=1, help="grad: truncated BPTT over the last K steps.", show_default=False)] = None,
    output: OutputOpt = None,
    allow_outside_paths: OutsideOpt = False,
    traceback: TracebackOpt = False,
) -> None:
    """Draw a run as SVG: the unrolled net, the cell at one step, heatmaps over time, or the
    gradient norm per step. Numbers are the trace's; a whole report: --format html."""
    precision = digits(precision, round)
    with exit_codes(traceback):
        import rnncalc
        from rnncalc.pictures.draw import draw as _draw

        exercise = rnncalc.load(
            None if config is None else str(config),
            cell=cell.value if cell else _DEFAULT_CELL if config is None else None,
            task=task.value if task else None, bidirectional=bidirectional,
            dtype=dtype.value if dtype else None)
        trace = compute(exercise, round)
        emit(_draw(trace, picture.value, selection, precision=precision, fmt=format.value,
                   truncate=truncate), output)
