"""Commands about config files, computing nothing (no torch): ``formulas``, ``convert``,
``init``, ``schema`` and ``validate``."""

# No `from __future__ import annotations`: see rnncalc/cli/common.py.
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from rnncalc.cli.common import (
    CELL_WORDS,
    CellArg,
    CellName,
    ConfigsArg,
    ConventionOpt,
    OutputOpt,
    OutsideOpt,
    Task,
    TracebackOpt,
    WeightsOpt,
    app,
    check_cell,
    emit,
)
from rnncalc.cli.exits import exit_codes

__all__ = ["convert", "formulas", "init", "schema", "validate"]


@app.command(epilog="Examples:  rnncalc formulas gru  ·  rnncalc formulas gru --convention onnx  ·"
             "  rnncalc formulas lstm -c configs/lstm_stacked_relu.yaml")
def formulas(
    cell: Annotated[CellName, typer.Argument(help=f"{CELL_WORDS}.")],
    convention: ConventionOpt = None,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Show the equations this config uses.", show_default=False)] = None,
    output: OutputOpt = None,
    allow_outside_paths: OutsideOpt = False,
    traceback: TracebackOpt = False,
) -> None:
    """Print the equations a cell computes under a convention (or a config), symbols defined."""
    with exit_codes(traceback):
        from rnncalc.formulas import formulas as text

        emit(text(cell.value, convention.value if convention else None,
                  None if config is None else str(config)), output)


class Orientation(str, Enum):
    rows = "rows"
    columns = "columns"


class ConcatOrder(str, Enum):
    hx = "hx"
    xh = "xh"


class Layout(str, Enum):
    per_gate = "per-gate"
    pytorch = "pytorch"
    onnx = "onnx"
    keras = "keras"
    concat = "concat"


@app.command(epilog="Examples:  rnncalc convert configs/lstm.yaml --to onnx  ·  "
             "rnncalc convert configs/lstm_onnx.yaml --to per-gate -o sheet.yaml")
def convert(
    config: Annotated[Path, typer.Argument(help="YAML exercise ('-' for stdin).")],
    to: Annotated[Layout, typer.Option("--to", help="The layout to write the weights in.")],
    orientation: Annotated[Orientation, typer.Option(
        help="per-gate, concat: rows (W x) or columns (x W, matrices transposed).")
    ] = Orientation.rows,
    concat: Annotated[ConcatOrder, typer.Option(
        help="concat: the order of the concatenation, hx ([h; x]) or xh ([x; h]).")
    ] = ConcatOrder.hx,
    weights: WeightsOpt = None,
    output: OutputOpt = None,
    allow_outside_paths: OutsideOpt = False,
    traceback: TracebackOpt = False,
) -> None:
    """Write the exercise with its weights in another layout (YAML): the same trace."""
    with exit_codes(traceback):
        from rnncalc.convert import convert as _convert

        emit(_convert(str(config), to.value, orientation=orientation.value,
                      concat=(concat.value[0], concat.value[1]), weights=weights), output)


@app.command(epilog="Examples:  rnncalc init lstm > my.yaml  ·  rnncalc init rnn --task "
             "labeling -o my.yaml  ·  rnncalc schema -o rnncalc.schema.json")
def init(
    cell: CellArg,
    task: Annotated[Task, typer.Option(
        help="hidden (no head), regression, classification or labeling.")] = Task.hidden,
    bidirectional: Annotated[bool, typer.Option(
        "--bidirectional", help="A bidirectional net (the backward direction shares the "
        "forward weights).")] = False,
    schema_url: Annotated[str, typer.Option(
        "--schema", help="What the yaml-language-server comment points at (a path beside the "
        "config, or a URL).")] = "rnncalc.schema.json",
    output: OutputOpt = None,
    traceback: TracebackOpt = False,
) -> None:
    """A commented config template that runs as it is (the seed's numbers), every key explained."""
    check_cell(cell)
    with exit_codes(traceback):
        from rnncalc.scaffold import template

        emit(template(cell, task.value, bidirectional=bidirectional, schema_url=schema_url),
             output)


@app.command(epilog="Examples:  rnncalc schema -o rnncalc.schema.json")
def schema(output: OutputOpt = None, traceback: TracebackOpt = False) -> None:
    """The JSON Schema of a config, for editors (YAML language server) to complete and check."""
    with exit_codes(traceback):
        from rnncalc.scaffold import schema_json

        emit(schema_json(), output)


@app.command(epilog="Examples:  rnncalc validate class/*.yaml  ·  rnncalc validate configs/")
def validate(configs: ConfigsArg, allow_outside_paths: OutsideOpt = False,
             traceback: TracebackOpt = False) -> None:
    """Check configs without computing: one line per invalid config on stderr.

    Exit code 0 when all are valid, else the highest of theirs (3; 4 on a bug). Never imports
    torch."""
    with exit_codes(traceback):
        from rnncalc.sources import expand, read_stdin
        from rnncalc.sources import validate as check

        sources = expand(configs)
        worst = 0
        for exc in check(sources, read_stdin(sources)):
            if exc is not None:
                worst = max(worst, int(exc.exit_code))
                print(str(exc), file=sys.stderr)
        if worst:
            raise typer.Exit(worst)
