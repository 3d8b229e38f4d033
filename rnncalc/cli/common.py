"""What the commands share: the Typer ``app``, the options several commands take, and writing a
result (:func:`emit`)."""

# No `from __future__ import annotations` in rnncalc.cli: typer reads every command's signature
# with typing.get_type_hints, which compiles and evaluates string annotations afresh on each
# start (~15 ms); annotations evaluated once, as the module is executed, cost a third of that.
import itertools
import os
import shutil
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from rnncalc.cells import CELLS

__all__ = [
    "CELL_WORDS", "BidirOpt", "CellArg", "CellName", "CompareOpt", "ConfigOpt", "ConfigsArg",
    "Convention", "ConventionOpt", "DType", "DTypeOpt", "ExplainOpt", "Format", "FormatOpt",
    "GradFormat", "OutputOpt", "OutsideOpt", "PrecisionOpt", "RoundOpt", "SelectionArg", "StepOpt",
    "StepsOpt", "SvgOpt", "Task", "TaskOpt", "TracebackOpt", "WeightsOpt", "app", "batch_only",
    "check_cell", "check_steps", "digits", "emit",
]

app = typer.Typer(
    name="rnncalc",
    help="A calculator for recurrent-network exercises: every gate, every step.\n\n"
    "Example: rnncalc lstm --step-by-step",
    epilog="Examples:  rnncalc rnn  ·  rnncalc rnn --task labeling  ·  rnncalc rnn --bidirectional"
    "  ·  rnncalc lstm --step-by-step  ·  rnncalc rnn --config configs/rnn_stacked.yaml "
    "--format json",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: rich's costs 0.1 s of imports (README, Speed)
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    latex = "latex"
    csv = "csv"
    html = "html"


class GradFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    latex = "latex"


class Task(str, Enum):
    hidden = "hidden"
    regression = "regression"
    classification = "classification"
    labeling = "labeling"


class DType(str, Enum):
    float64 = "float64"
    float32 = "float32"


def emit(renderable_or_text: object, output: Path | None, after: str = "") -> None:
    """Write a result: text as it is; a rich renderable at the terminal's width (80 otherwise).

    ``after`` is plain text written after it, unwrapped (``--explain`` lines are long).
    """
    from rnncalc.output import write_chunks, write_result

    if isinstance(renderable_or_text, str):
        write_result(renderable_or_text + after, output)
        return
    from rnncalc.render.table import text_chunks

    tty = output is None and sys.stdout.isatty()
    color = tty and "NO_COLOR" not in os.environ
    width = shutil.get_terminal_size().columns if tty else 80
    # written as it is laid out: a long gradient table is never held whole
    chunks = text_chunks(renderable_or_text, width=width, color=color)  # type: ignore[arg-type]
    write_chunks((chunk.encode() for chunk in itertools.chain(chunks, [after])), output)


ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="YAML exercise ('-' for stdin); default: the seed exercise.",
    show_default=False)]
WeightsOpt = Annotated[Path | None, typer.Option(
    "--weights", "-w", help="A PyTorch state_dict file (.pt) whose tensors replace the config's "
    "weights, loaded with weights_only=True; or a numpy .npz of the same names, read without "
    "pickles.", show_default=False)]
StepOpt = Annotated[bool, typer.Option(
    "--step-by-step", "-s", help="Show every pre-activation and activation.")]
TaskOpt = Annotated[Task | None, typer.Option(
    help="Override the head's task ('hidden': no head). With no config: pick the seed exercise.",
    show_default=False)]
BidirOpt = Annotated[bool | None, typer.Option(
    "--bidirectional/--no-bidirectional",
    help="Override the config. With no config: the seed's bidirectional exercise.",
    show_default=False)]
FormatOpt = Annotated[Format, typer.Option(
    "--format", "-f", help="table, json, markdown, latex (a document for pdflatex), csv (the "
    "per-step table) or html (one offline page: tables, pictures, a stepper).")]
SvgOpt = Annotated[Path | None, typer.Option(
    "--svg", help="Also save the tables as an SVG picture (for slides).", show_default=False)]
PrecisionOpt = Annotated[int | None, typer.Option(
    min=0, max=17, help="Digits after the point in tables (default 4; with --round N, N); a "
    "nonzero number too small for them is shown as 1.234e-05.", show_default=False)]
DTypeOpt = Annotated[DType | None, typer.Option(
    help="Override the config's dtype (default float64).", show_default=False)]
OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Write to this file (atomically) instead of stdout.",
    show_default=False)]
StepsOpt = Annotated[str | None, typer.Option(
    "--steps", help="Steps shown in tables: 'all', or ranges like '0:3,-2:' (Python slices, "
    "negative from the end). Default: all of a short run, the first and last few of a long one.",
    show_default=False, callback=lambda value: check_steps(value))]


def _allow_outside(allowed: bool) -> bool:
    if allowed:  # read where configs are resolved, in this process and in run's workers
        os.environ["RNNCALC_ALLOW_OUTSIDE_PATHS"] = "1"
    return allowed


OutsideOpt = Annotated[bool, typer.Option(
    "--allow-outside-paths", help="Let a config's weights_file or inputs_file name a file outside "
    "the config's folder (an absolute path, ~, ../..); refused by default, as a student's config "
    "could name any file you can read.", callback=_allow_outside)]
ConfigsArg = Annotated[list[str], typer.Argument(
    help="Config files, directories (their *.yaml, *.yml), globs ('class/*/lstm.yaml'), or '-' "
    "for one config on stdin.", show_default=False, metavar="CONFIG...")]
TracebackOpt = Annotated[bool, typer.Option(
    "--traceback", help="Show the full traceback of an error (for bug reports).")]
ExplainOpt = Annotated[bool, typer.Option(
    "--explain", "-e", help="Show the arithmetic of every element, numbers substituted; "
    "add a SELECTION to show part of it.")]
SelectionArg = Annotated[str | None, typer.Argument(
    help="With --explain: which lines, e.g. t=1,gate=f (keys t, gate, unit, layer, direction; "
    "every index from 0; a key given twice takes either value; gate=head: the head).",
    show_default=False)]
RoundOpt = Annotated[int | None, typer.Option(
    "--round", min=0, max=12, help="Round every intermediate to N decimals before it is used "
    "further, as a hand-worked sheet does.", show_default=False)]


class Convention(str, Enum):
    pytorch = "pytorch"
    keras = "keras"
    onnx = "onnx"
    tf1 = "tf1"
    d2l = "d2l"


ConventionOpt = Annotated[Convention | None, typer.Option(
    help="Whose equations (replaces the config's convention; its other options stay): GRU form, "
    "forget bias, default activations. See `rnncalc formulas CELL`.", show_default=False)]
CompareOpt = Annotated[bool, typer.Option(
    "--compare-conventions", help="Run the exercise under each convention and show the final "
    "states side by side, marking those that differ.")]


def batch_only(format: Format, **given: object) -> None:
    """A batch is shown as tables or JSON, one sequence after another; what else a single run
    offers is a usage error (exit 2) rather than silently dropped."""
    from rnncalc.minibatch import BatchUsageError

    if format not in (Format.table, Format.json):
        raise BatchUsageError("--format: a batch is written as table or json")
    asked = [f"--{name.replace('compare', 'compare-conventions')}" for name, value
             in given.items() if value]
    if asked:
        raise BatchUsageError(f"{asked[0]}: a batch takes no {', '.join(asked)}; run one "
                              "sequence as its own config for that")


def digits(precision: int | None, round: int | None) -> int:
    """``--precision``, else the decimals ``--round`` computes with, else 4."""
    return precision if precision is not None else round if round is not None else 4


CellName = Enum("CellName", {name: name for name in CELLS}, type=str)  # type: ignore[misc]
CELL_WORDS = ", ".join(CELLS)
CellArg = Annotated[str, typer.Argument(help=f"{CELL_WORDS} (any cell rnncalc has).",
                                        metavar="CELL", show_default=False)]


def check_cell(cell: str) -> None:
    if cell not in CELLS:
        raise typer.BadParameter(f"expected one of {CELL_WORDS}, got {cell!r}",
                                 param_hint="CELL")


def check_steps(steps: str | None) -> str | None:
    """``--steps``: a bad selection is a usage error (exit 2), found before anything runs."""
    if steps is not None:
        from rnncalc.steps import parse_steps

        try:
            parse_steps(steps)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return steps
