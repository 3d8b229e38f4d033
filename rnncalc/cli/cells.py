"""One command per cell of the registry (``rnncalc lstm``, ...): the tables, JSON, ``--explain``,
``--compare-conventions`` and the HTML report of one exercise."""

# No `from __future__ import annotations`: see rnncalc/cli/common.py.
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from rnncalc.cells import CELLS
from rnncalc.cli.common import (
    BidirOpt,
    CompareOpt,
    ConfigOpt,
    ConventionOpt,
    DTypeOpt,
    ExplainOpt,
    Format,
    FormatOpt,
    OutputOpt,
    OutsideOpt,
    PrecisionOpt,
    RoundOpt,
    SelectionArg,
    StepOpt,
    StepsOpt,
    SvgOpt,
    TaskOpt,
    TracebackOpt,
    WeightsOpt,
    app,
    batch_only,
    digits,
    emit,
)
from rnncalc.cli.exits import compute, exit_codes

if TYPE_CHECKING:
    from rnncalc.explain import Line
    from rnncalc.trace import Trace

__all__: list[str] = []  # registers a command per cell on `app`


def _cell_command(cell: str) -> Callable[..., None]:
    def command(
        selection: SelectionArg = None,
        config: ConfigOpt = None,
        weights: WeightsOpt = None,
        step_by_step: StepOpt = False,
        task: TaskOpt = None,
        bidirectional: BidirOpt = None,
        format: FormatOpt = Format.table,
        precision: PrecisionOpt = None,
        dtype: DTypeOpt = None,
        output: OutputOpt = None,
        svg: SvgOpt = None,
        explain: ExplainOpt = False,
        round: RoundOpt = None,
        convention: ConventionOpt = None,
        compare_conventions: CompareOpt = False,
        steps: StepsOpt = None,
        allow_outside_paths: OutsideOpt = False,
        traceback: TracebackOpt = False,
    ) -> None:
        precision = digits(precision, round)
        if compare_conventions:
            _check_comparison(svg, explain or selection is not None, round)
        if svg is not None and svg.is_dir():  # before the table is printed, not after
            raise typer.BadParameter(f"{svg}: is a directory; --svg needs a file path",
                                     param_hint="--svg")
        with exit_codes(traceback):
            import rnncalc


            lines = _explained(explain, selection)
            exercise = rnncalc.load(
                None if config is None else str(config), cell=cell,
                task=task.value if task else None, bidirectional=bidirectional,
                dtype=dtype.value if dtype else None, weights=weights,
                convention=convention.value if convention else None, batch=True,
            )
            if not isinstance(exercise, rnncalc.Exercise):  # a batch: each sequence's tables
                batch_only(format, svg=svg, explain=lines, compare=compare_conventions)
                from rnncalc.minibatch import run as run_batch
                from rnncalc.render.batch import render as render_batch

                emit(render_batch(run_batch(exercise, round, compute), format.value,
                                  step_by_step=step_by_step, precision=precision, steps=steps),
                     output)
                return
            if compare_conventions:
                from rnncalc.compare import compare
                from rnncalc.render.formats import render_comparison

                emit(render_comparison(compare(exercise), format.value, precision=precision),
                     output)
                return
            # the explained arithmetic and the HTML report's pictures read torch tensors
            trace = compute(exercise, round, numpy=lines is None and format is not Format.html)
            arithmetic = None if lines is None else lines(trace)
            from rnncalc.render.formats import render

            if format is Format.json and arithmetic is None:  # a few hundred steps at a time
                from rnncalc.output import write_chunks
                from rnncalc.render.json import stream

                write_chunks(stream(trace), output)
            else:
                after = ""
                if arithmetic is not None and format is Format.table:
                    from rnncalc.render.explain import render as render_explain

                    after = "\n" + render_explain(arithmetic, precision=precision)
                emit(render(trace, format.value, precision=precision, step_by_step=step_by_step,
                            steps=steps, explain=arithmetic), output, after)
            if svg is not None:
                from rnncalc.output import write_result
                from rnncalc.render.table import render as render_table
                from rnncalc.render.table import to_svg

                picture = render_table(trace, step_by_step=step_by_step, precision=precision,
                                       steps=steps)
                write_result(to_svg(picture, title=f"rnncalc {cell}"), svg)

    return command


def _check_comparison(svg: Path | None, explain: bool, round: int | None) -> None:
    """``--compare-conventions`` shows the final states only: an option that asks for more of a
    single run is a usage error (exit 2), not silently dropped (no SVG written, no rounding)."""
    given = [name for name, on in (("--svg", svg is not None), ("--explain", explain),
                                   ("--round", round is not None)) if on]
    if given:
        raise typer.BadParameter(f"shows the final states of each convention as a table or "
                                 f"JSON; it takes no {', '.join(given)}",
                                 param_hint="--compare-conventions")


def _explained(explain: bool, selection: str | None) -> "Callable[[Trace], list[Line]] | None":
    """``--explain [SELECTION]``: the lines to show, as a function of the trace; None: no lines.

    A SELECTION alone implies --explain; a bad one is a usage error (exit 2).
    """
    if not explain and selection is None:
        return None
    from rnncalc.explain import SelectionError, parse_selection
    from rnncalc.explain import explain as build

    if selection is not None and "=" not in selection and (
            selection == "-" or selection.lower().endswith((".yaml", ".yml"))):
        # `rnncalc lstm my.yaml`: the one argument is a selection, and a config a file's option
        raise SelectionError(f"--explain: expected key=value (e.g. t=1,gate=f), got "
                             f"{selection!r}; to read a config, give it with --config/-c")
    chosen = parse_selection(selection)
    return lambda trace: build(trace, chosen)


for _cell in CELLS.values():
    _default = f"the example {_cell.seed}" if _cell.seed else f"the seed's {_cell.name} exercise"
    app.command(_cell.name, help=f"{_cell.help}\n\nWith no --config, runs {_default}.",
                epilog=f"Examples:  {_cell.examples}")(_cell_command(_cell.name))
