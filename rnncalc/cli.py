"""The ``rnncalc`` command: parse options, call the API, hand the trace to a renderer.

The one place where errors become exit codes (:func:`_errors`). torch is imported only by the
commands that compute.
"""

# No `from __future__ import annotations` here: typer reads every command's signature with
# typing.get_type_hints, which compiles and evaluates string annotations afresh on each start
# (~15 ms); annotations evaluated once, as the module is executed, cost a third of that.
import contextlib
import copy
import errno
import gc
import os
import shutil
import sys
import traceback as tb
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rnncalc.cells import CELLS
from rnncalc.errors import ExitCode, RnncalcError, Terminated, one_line

if TYPE_CHECKING:
    from rnncalc.explain import Line
    from rnncalc.trace import Trace

__all__ = ["app", "main"]

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


@contextlib.contextmanager
def _errors(show_traceback: bool) -> Iterator[None]:
    """Turn every error into one line on stderr and its exit code (docs/errors.md)."""
    show_traceback = show_traceback or bool(os.environ.get("RNNCALC_TRACEBACK"))
    try:
        with _terminable():
            yield
    except typer.Exit:
        raise
    except RnncalcError as exc:
        if show_traceback:
            tb.print_exc()
        print(str(exc), file=sys.stderr)
        raise typer.Exit(int(exc.exit_code)) from None
    except BrokenPipeError:
        _quiet_broken_pipe()
    except Terminated:
        print("terminated", file=sys.stderr)
        raise typer.Exit(int(ExitCode.TERMINATED)) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except MemoryError:
        print(_out_of_memory(), file=sys.stderr)
        raise typer.Exit(int(ExitCode.INVALID_INPUT)) from None
    except Exception as exc:
        if show_traceback:
            tb.print_exc()
        if isinstance(exc, OSError) and exc.errno in _WRITE_ERRORS:  # > /dev/full, a full disk
            from rnncalc.output import stdout_failed

            print(stdout_failed(exc), file=sys.stderr)
            raise typer.Exit(int(ExitCode.INVALID_INPUT)) from None
        print(one_line(f"internal error: {type(exc).__name__}: {exc} (a bug in rnncalc: rerun "
                       "with --traceback and report it)"), file=sys.stderr)
        raise typer.Exit(int(ExitCode.INTERNAL)) from None


#: What a write to stdout meets on a full disk or a device that takes nothing (> /dev/full).
_WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


#: The exercise being computed, for the message when memory runs out (:func:`_out_of_memory`).
_computing: Any = None


def _out_of_memory() -> str:
    """An exercise too large for this machine's memory is the input's size, not a bug: say which
    size, and the ways out."""
    ex = _computing
    if ex is None:
        return "out of memory reading the input; a long sequence or large weights in YAML take " \
               "several times their text's size while read"
    per_step = (2 * len(ex.gates) + 3) * ex.hidden_size * ex.num_layers * ex.num_directions
    return (f"{ex.source}: out of memory: {ex.steps} steps of {ex.hidden_size} units, "
            f"{ex.num_layers} layer(s), {ex.num_directions} direction(s) are about "
            f"{ex.steps * per_step:,} numbers to record and write; show fewer steps (a table with "
            f"--steps 0:5,-5:, the default, rather than the JSON, which holds every step) or "
            f"give fewer inputs (a smaller T)")


@contextlib.contextmanager
def _terminable() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` while inside (as SIGINT raises KeyboardInterrupt), so
    that a command ends as on Ctrl-C, with 143: ``run --jobs`` ends its workers rather than dying
    and leaving them, ``--output`` leaves no temporary file."""
    import signal

    def terminate(signum: int, frame: object) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread (a test's runner): nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _quiet_broken_pipe() -> None:
    """The reader went away (``rnncalc ... | head -1``): stop quietly, as a Unix filter does."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    raise typer.Exit(0)


def _emit(renderable_or_text: object, output: Path | None, after: str = "") -> None:
    """Write a result: text as it is; a rich renderable at the terminal's width (80 otherwise).

    ``after`` is plain text written after it, unwrapped (``--explain`` lines are long).
    """
    from rnncalc.output import write_result

    if isinstance(renderable_or_text, str):
        write_result(renderable_or_text + after, output)
        return
    from rnncalc.render.table import to_text

    tty = output is None and sys.stdout.isatty()
    color = tty and "NO_COLOR" not in os.environ
    width = shutil.get_terminal_size().columns if tty else 80
    text = to_text(renderable_or_text, width=width, color=color)  # type: ignore[arg-type]
    write_result(text + after, output)


ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="YAML exercise ('-' for stdin); default: the seed exercise.",
    show_default=False)]
WeightsOpt = Annotated[Path | None, typer.Option(
    "--weights", "-w", help="A PyTorch state_dict file (.pt) whose tensors replace the config's "
    "weights; loaded with weights_only=True.", show_default=False)]
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
    show_default=False, callback=lambda value: _check_steps(value))]
def _allow_outside(allowed: bool) -> bool:
    if allowed:  # read where configs are resolved, in this process and in run's workers
        os.environ["RNNCALC_ALLOW_OUTSIDE_PATHS"] = "1"
    return allowed


OutsideOpt = Annotated[bool, typer.Option(
    "--allow-outside-paths", help="Let a config's weights_file name a file outside the config's "
    "folder (an absolute path, ~, ../..); refused by default, as a student's config could name "
    "any file you can read.", callback=_allow_outside)]
TracebackOpt = Annotated[bool, typer.Option(
    "--traceback", help="Show the full traceback of an error (for bug reports).")]
ExplainOpt = Annotated[bool, typer.Option(
    "--explain", "-e", help="Show the arithmetic of every element, numbers substituted; "
    "add a SELECTION to show part of it.")]
SelectionArg = Annotated[str | None, typer.Argument(
    help="With --explain: which lines, e.g. t=1,gate=f (keys t, gate, unit, layer, direction; "
    "unit counts from 1; a key given twice takes either value; gate=head: the head).",
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
        precision = _digits(precision, round)
        if compare_conventions:
            _check_comparison(svg, explain or selection is not None, round)
        if svg is not None and svg.is_dir():  # before the table is printed, not after
            raise typer.BadParameter(f"{svg}: is a directory; --svg needs a file path",
                                     param_hint="--svg")
        with _errors(traceback):
            import rnncalc


            lines = _explained(explain, selection)
            exercise = rnncalc.load(
                None if config is None else str(config), cell=cell,
                task=task.value if task else None, bidirectional=bidirectional,
                dtype=dtype.value if dtype else None, weights=weights,
                convention=convention.value if convention else None, batch=True,
            )
            if not isinstance(exercise, rnncalc.Exercise):  # a batch: each sequence's tables
                _batch_only(format, svg=svg, explain=lines, compare=compare_conventions)
                from rnncalc.minibatch import run as run_batch
                from rnncalc.render.batch import render as render_batch

                _emit(render_batch(run_batch(exercise, round, _compute), format.value,
                                   step_by_step=step_by_step, precision=precision, steps=steps),
                      output)
                return
            if compare_conventions:
                _emit(_comparison(exercise, format, precision), output)
                return
            trace = _compute(exercise, round)
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
                _emit(render(trace, format.value, precision=precision, step_by_step=step_by_step,
                             steps=steps, explain=arithmetic), output, after)
            if svg is not None:
                from rnncalc.output import write_result
                from rnncalc.render.table import render as render_table
                from rnncalc.render.table import to_svg

                picture = render_table(trace, step_by_step=step_by_step, precision=precision,
                                       steps=steps)
                write_result(to_svg(picture, title=f"rnncalc {cell}"), svg)

    return command


def _batch_only(format: Format, **given: object) -> None:
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


def _check_comparison(svg: Path | None, explain: bool, round: int | None) -> None:
    """``--compare-conventions`` shows the final states only: an option that asks for more of a
    single run is a usage error (exit 2), not silently dropped (no SVG written, no rounding)."""
    given = [name for name, on in (("--svg", svg is not None), ("--explain", explain),
                                   ("--round", round is not None)) if on]
    if given:
        raise typer.BadParameter(f"shows the final states of each convention as a table or "
                                 f"JSON; it takes no {', '.join(given)}",
                                 param_hint="--compare-conventions")


def _comparison(exercise: object, format: Format, precision: int) -> object:
    """``--compare-conventions``: JSON, or tables for every other format."""
    import torch

    from rnncalc.compare import compare

    torch.set_num_threads(1)
    comparison = compare(exercise)  # type: ignore[arg-type]
    if format is Format.json:
        import json

        return json.dumps(comparison.to_dict(), indent=2) + "\n"
    from rnncalc.render.table import render_comparison

    return render_comparison(comparison, precision=precision)


def _digits(precision: int | None, round: int | None) -> int:
    """``--precision``, else the decimals ``--round`` computes with, else 4."""
    return precision if precision is not None else round if round is not None else 4


def _compute(exercise: object, round_to: int | None = None) -> "Trace":
    global _computing
    _computing = exercise
    from rnncalc.engine import run

    return run(exercise, round_to=round_to)  # type: ignore[arg-type]


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

CellName = Enum("CellName", {name: name for name in CELLS}, type=str)  # type: ignore[misc]
_CELL_WORDS = ", ".join(CELLS)


@app.command(epilog="Examples:  rnncalc formulas gru  ·  rnncalc formulas gru --convention onnx  ·"
             "  rnncalc formulas lstm -c configs/lstm_stacked_relu.yaml")
def formulas(
    cell: Annotated[CellName, typer.Argument(help=f"{_CELL_WORDS}.")],
    convention: ConventionOpt = None,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Show the equations this config uses.", show_default=False)] = None,
    output: OutputOpt = None,
    allow_outside_paths: OutsideOpt = False,
    traceback: TracebackOpt = False,
) -> None:
    """Print the equations a cell computes under a convention (or a config), symbols defined."""
    with _errors(traceback):
        from rnncalc.formulation import equations, preset

        if config is None:
            form, bias = preset(cell.value, convention.value if convention else "pytorch"), True
        else:
            from rnncalc.config import build, folder_of, read_document

            doc = read_document(str(config))
            own = doc.data.get("cell") if isinstance(doc.data, dict) else None
            # not `rnncalc {own}`, as load says
            if isinstance(own, str) and own in CellName.__members__ and own != cell.value:
                raise doc.error(("cell",), f"this config is for {own!r}, not {cell.value!r}: run "
                                f"`rnncalc formulas {own}`")
            exercise = build(doc, folder_of(str(config)), cell=cell.value,
                             convention=convention.value if convention else None)
            form, bias = exercise.formulation, exercise.bias
        from rnncalc.aliases import formulas_lines

        title = f"{cell.value.upper()}, {form.summary()}"
        lines = [title, "", *equations(form, bias=bias), *formulas_lines(cell.value)]
        _emit("\n".join(lines) + "\n", output)


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
    with _errors(traceback):
        from rnncalc.convert import convert as _convert

        _emit(_convert(str(config), to.value, orientation=orientation.value,
                       concat=(concat.value[0], concat.value[1]), weights=weights), output)


class Numbers(str, Enum):
    integers = "integers"
    halves = "halves"
    tenths = "tenths"


class ExerciseTask(str, Enum):
    hidden = "hidden"
    regression = "regression"
    classification = "classification"
    labeling = "labeling"
    bidirectional = "bidirectional"


class SheetFormat(str, Enum):
    markdown = "markdown"
    latex = "latex"


CellArg = Annotated[str, typer.Argument(help=f"{_CELL_WORDS} (any cell rnncalc has).",
                                        metavar="CELL", show_default=False)]


def _check_cell(cell: str) -> None:
    if cell not in CELLS:
        raise typer.BadParameter(f"expected one of {_CELL_WORDS}, got {cell!r}",
                                 param_hint="CELL")


@app.command(epilog="Examples:  rnncalc exercise lstm --seed 7 --out-dir ex7  ·  "
             "rnncalc exercise rnn --seed 3 --task labeling --numbers integers  ·  "
             "rnncalc exercise rnn --seed 3 | rnncalc rnn -c - -s")
def exercise(
    cell: CellArg,
    seed: Annotated[int | None, typer.Option(
        help="The same seed gives the same exercise. Default: a random one, written in the "
        "config's first line.", show_default=False)] = None,
    input_size: Annotated[int, typer.Option(min=1, max=64, help="Size of each x_t.")] = 3,
    hidden_size: Annotated[int, typer.Option(min=1, max=64, help="Hidden units.")] = 2,
    steps: Annotated[int, typer.Option(min=1, max=64, help="Time steps.")] = 3,
    layers: Annotated[int, typer.Option(min=1, max=8, help="Stacked layers.")] = 1,
    bias: Annotated[bool, typer.Option("--bias/--no-bias", help="Biases or none.")] = True,
    task: Annotated[ExerciseTask, typer.Option(
        help="hidden states only, a head (regression, classification, labeling), or "
        "bidirectional (with a regression head, as the seed's).")] = ExerciseTask.hidden,
    numbers: Annotated[Numbers, typer.Option(
        help="How friendly the numbers are: integers, halves (multiples of 0.5) or tenths "
        "(one decimal).")] = Numbers.halves,
    classes: Annotated[int, typer.Option(min=2, max=16, help="Classes of a classification "
                                         "or labeling head.")] = 2,
    precision: Annotated[int, typer.Option(
        min=1, max=12, help="Digits the answers are given to: no answer may show as a saturated "
        "0, 1 or -1 at this precision.")] = 4,
    out_dir: Annotated[Path | None, typer.Option(
        "--out-dir", "-d", help="Write exercise.yaml, a student sheet and an answer key here "
        "(sheet.md and key.md, or .tex). Without it: the config alone, to stdout or --output.",
        show_default=False)] = None,
    format: Annotated[SheetFormat, typer.Option(
        "--format", "-f", help="Sheet and key: markdown or latex.")] = SheetFormat.markdown,
    explain: Annotated[bool, typer.Option(
        "--explain", "-e", help="The key also writes out every sum, numbers substituted.")] = False,
    students: Annotated[Path | None, typer.Option(
        "--students", help="A roster CSV (a header row; the id column: id, student_id, student, "
        "sis_id, username or email, else the first): one variant per student, its numbers from "
        "the seed and the id, in --out-dir/ID/ with a blank answers.yaml naming the student.",
        show_default=False)] = None,
    variants: Annotated[int | None, typer.Option(
        "--variants", min=1, max=10000, help="N variants, ids 1 to N, as --students does.",
        show_default=False)] = None,
    output: OutputOpt = None,
    traceback: TracebackOpt = False,
) -> None:
    """A fresh exercise: friendly random weights, answers checked not to be degenerate."""
    _check_cell(cell)
    if out_dir is not None and output is not None:
        raise typer.BadParameter("give --out-dir (three files) or --output (the config alone), "
                                 "not both", param_hint="--output")
    if (students is not None or variants is not None) and out_dir is None:
        raise typer.BadParameter("a class's variants go into a folder: give --out-dir",
                                 param_hint="--students/--variants")
    if students is not None and variants is not None:
        raise typer.BadParameter("give --students or --variants, not both",
                                 param_hint="--variants")
    with _errors(traceback):
        from rnncalc.generate import Spec, config_text, write_exercise
        from rnncalc.variants import read_roster, write_variants

        ids = read_roster(students) if students else \
            [str(i) for i in range(1, variants + 1)] if variants else None
        if seed is None:
            seed = int.from_bytes(os.urandom(3), "big")
            if ids is not None:  # the class's seed: the variants cannot be had again without it
                print(f"seed {seed} (give --seed {seed} to write the same variants again)",
                      file=sys.stderr)
        spec = Spec(cell=cell, seed=seed, input_size=input_size, hidden_size=hidden_size,
                    steps=steps, layers=layers, bias=bias, task=task.value,
                    numbers=numbers.value, classes=classes, precision=precision)
        if ids is not None:
            assert out_dir is not None
            for path in write_variants(spec, ids, out_dir, format.value, explain=explain):
                print(f"wrote {path}", file=sys.stderr)
            return
        if out_dir is None:
            _emit(config_text(spec), output)
            return
        for path in write_exercise(spec, out_dir, format.value, explain=explain):
            print(f"wrote {path}", file=sys.stderr)


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
    _check_cell(cell)
    with _errors(traceback):
        from rnncalc.scaffold import template

        _emit(template(cell, task.value, bidirectional=bidirectional, schema_url=schema_url),
              output)


@app.command(epilog="Examples:  rnncalc schema -o rnncalc.schema.json")
def schema(output: OutputOpt = None, traceback: TracebackOpt = False) -> None:
    """The JSON Schema of a config, for editors (YAML language server) to complete and check."""
    with _errors(traceback):
        from rnncalc.scaffold import schema_json

        _emit(schema_json(), output)


class CheckFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    gradescope = "gradescope"


class Credit(str, Enum):
    full = "full"
    half = "half"
    none = "none"


@app.command(epilog="Examples:  rnncalc answers-template configs/lstm.yaml -o answers.yaml  ·  "
             "rnncalc check configs/lstm.yaml answers.yaml  ·  rnncalc check CONFIG class/ "
             "--format csv -o grades.csv  ·  rnncalc check CONFIG 'class/*.yaml' -f jsonl "
             "--points h:2 --carried half")
def check(
    config: Annotated[Path, typer.Argument(help="The exercise (YAML; '-' for stdin), or a folder "
                                                "of variants `rnncalc exercise --students` wrote "
                                                "(each file's student: picks its own).")],
    answers: Annotated[list[str], typer.Argument(
        help="Answers files (YAML, as answers-template writes them), folders (their *.yaml), "
        "globs, or '-' for stdin.", metavar="ANSWERS...")],
    points: Annotated[list[str] | None, typer.Option(
        "--points", help="[SELECTOR:]N: points of one number (default 1), e.g. 2, h:2, "
        "gate=f:0.5, t=2,gate=f:0, pre:0; repeatable; over the config's grading: points.",
        show_default=False)] = None,
    carried: Annotated[Credit | None, typer.Option(
        help="Credit for an error carried from an earlier one (default full).",
        show_default=False)] = None,
    rounding: Annotated[Credit | None, typer.Option(
        help="Credit for a number right only when every intermediate is rounded (default full).",
        show_default=False)] = None,
    tolerance: Annotated[float | None, typer.Option(
        help="Right within this distance, a finite number >= 0 (default: each number at the "
        "precision written). Only the grader sets it: an answers file's own is not used.",
        show_default=False, callback=lambda value: _check_tolerance(value))] = None,
    round: RoundOpt = None,
    format: Annotated[CheckFormat, typer.Option(
        "--format", "-f", help="table (one file: every answer; many: the class summary), json "
        "(one file), jsonl (one record per file), csv (a gradebook) or gradescope (one file's "
        "results.json).")] = CheckFormat.table,
    precision: PrecisionOpt = None,
    output: OutputOpt = None,
    allow_outside_paths: OutsideOpt = False,
    traceback: TracebackOpt = False,
) -> None:
    """Check students' answers: each with given, expected, mark and points; one file's first
    mistake worked out, or a class's summary. Exit 0: all right; 1: some wrong; 3: a bad file
    (the highest over all files)."""
    precision = _digits(precision, round)
    if str(config) == "-" and "-" in answers:
        raise typer.BadParameter("the config is read from stdin ('-') already; only one of "
                                 "CONFIG and ANSWERS can be read from stdin", param_hint="ANSWERS")
    from rnncalc.sources import expand

    sources = expand(answers)
    if len(sources) > 1 and format in (CheckFormat.json, CheckFormat.gradescope):
        raise typer.BadParameter(f"{format.value} marks one answers file, got {len(sources)}; "
                                 "use jsonl or csv", param_hint="--format")
    with _errors(traceback):
        from rnncalc.grading import Grader
        from rnncalc.render.grading import render

        grader = Grader(str(config), {
            "points": points or (), "carried": carried.value if carried else None,
            "rounding": rounding.value if rounding else None, "tolerance": tolerance,
            "round": round}, compute=_compute)
        results = [grader(s) for s in sources]
        title = grader.single.ex.title if grader.single else ""
        text, errors = render(results, format.value, title=title, precision=precision)
        for line in errors:
            print(line, file=sys.stderr)
        if text:
            _emit(text, output)
        worst = max((r.exit_code for r in results), default=0)
        if worst:
            raise typer.Exit(worst)


class ExportFormat(str, Enum):
    gift = "gift"
    moodle_xml = "moodle-xml"
    prairielearn = "prairielearn"
    qti = "qti"


@app.command(epilog="Examples:  rnncalc export configs/lstm.yaml --to gift -o lstm.gift  ·  "
             "rnncalc export configs/rnn_grad.yaml --to moodle-xml --grad -o quiz.xml  ·  "
             "rnncalc export configs/gru.yaml --to prairielearn -o questions/gru1  ·  "
             "rnncalc export configs/lstm.yaml --to qti -o lstm_qti.zip")
def export(
    config: Annotated[Path, typer.Argument(help="The exercise (YAML).")],
    to: Annotated[ExportFormat, typer.Option(
        "--to", help="gift or moodle-xml (Moodle numerical questions), prairielearn (a question "
        "folder: info.json, question.html, server.py), qti (a Canvas QTI 1.2 zip).")],
    grad: Annotated[bool, typer.Option(
        "--grad", help="Ask for the gradients too (the config needs a loss).")] = False,
    decimals: Annotated[int, typer.Option(
        min=0, max=12, help="Decimals asked for: the tolerance is half a unit of the last one "
        "unless --tolerance (or the config's grading: tolerance) says otherwise.")] = 4,
    tolerance: Annotated[float | None, typer.Option(
        help="Right within this distance.", show_default=False,
        callback=lambda value: _check_tolerance(value))] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="The file (gift, moodle-xml; default stdout; qti: the zip, "
        "required) or the question folder (prairielearn; required).", show_default=False)] = None,
    allow_outside_paths: OutsideOpt = False,
    traceback: TracebackOpt = False,
) -> None:
    """Questions for course platforms, every number precomputed: Moodle GIFT or XML numerical
    questions with tolerances, a PrairieLearn question folder, or a Canvas QTI package."""
    if to is ExportFormat.prairielearn and output is None:
        raise typer.BadParameter("a PrairieLearn question is a folder: give -o DIR",
                                 param_hint="--output")
    if to is ExportFormat.qti and output is None:
        raise typer.BadParameter("a QTI package is a zip file: give -o FILE.zip",
                                 param_hint="--output")
    with _errors(traceback):
        from rnncalc import export as ex_
        from rnncalc.config import build, folder_of, read_document
        from rnncalc.grading import Policy

        doc = read_document(str(config))
        exercise = build(doc, folder_of(str(config)))
        policy = Policy.from_document(doc)
        trace = _compute(exercise)
        expected = trace.to_dict()
        if grad:
            from rnncalc.bptt import backprop

            expected["grad"] = backprop(trace).to_dict()
        qs = ex_.questions(exercise, expected, policy, grad=grad)
        tol = tolerance if tolerance is not None else policy.tolerance
        tol = tol if tol is not None else 0.5 * 10.0 ** -decimals
        title = exercise.title or f"{exercise.cell.upper()} exercise"
        if to is ExportFormat.prairielearn:
            assert output is not None
            files = ex_.prairielearn(title, config.read_text(encoding="utf-8"), qs, tol, decimals)
            for path in ex_.write_folder(files, output):
                print(f"wrote {path}", file=sys.stderr)
            return
        if to is ExportFormat.qti:
            from rnncalc.output import write_result

            write_result(ex_.qti(title, config.read_text(encoding="utf-8"), qs, tol, decimals),
                         output)
            return
        render = ex_.gift if to is ExportFormat.gift else ex_.moodle_xml
        _emit(render(title, qs, tol, decimals), output)


@app.command("answers-template", epilog="Example:  rnncalc answers-template configs/lstm.yaml "
             "-o answers.yaml")
def answers_template(
    config: Annotated[Path, typer.Argument(help="The exercise (YAML; '-' for stdin).")],
    grad: Annotated[bool, typer.Option(
        "--grad", help="The gradients `rnncalc grad` shows instead (the config needs a loss): "
        "the loss, the head's, every step's dh, dc, dpre, dW, db, dx, the totals.")] = False,
    output: OutputOpt = None,
    allow_outside_paths: OutsideOpt = False,
    traceback: TracebackOpt = False,
) -> None:
    """Write a blank answers file for an exercise, for a student to fill in and `check`."""
    with _errors(traceback):
        import rnncalc
        from rnncalc.answers import shape_of, template

        exercise = rnncalc.load(str(config))
        if grad:  # the form's shape is the exercise's: nothing to compute, no torch
            from rnncalc.gradanswers import shape_of as grad_shape

            _emit(template({"grad": grad_shape(exercise)}, exercise.title, grad=True), output)
            return
        _emit(template(shape_of(exercise), exercise.title), output)


@app.command(epilog="Examples:  rnncalc grad -c configs/rnn_grad.yaml  ·  rnncalc grad -c "
             "configs/rnn_grad.yaml --truncate 2  ·  rnncalc grad -c configs/lstm_grad_gomez.yaml"
             " --explain --element 'weight_ih_l0[2,1]' -f json")
def grad(
    config: Annotated[Path, typer.Option(
        "--config", "-c", help="YAML exercise with a head and a loss (or upstream gradients); "
        "'-' for stdin.", show_default=False)],
    truncate: Annotated[int | None, typer.Option(
        min=1, help="Truncated BPTT: differentiate only the last K steps of each layer and "
        "direction.", show_default=False)] = None,
    explain: Annotated[bool, typer.Option(
        "--explain", "-e", help="Write the chain rule for one element (--element) with "
        "numbers.")] = False,
    element: Annotated[str | None, typer.Option(
        help="With --explain: PARAMETER[row,col] or PARAMETER[i], e.g. weight_hh_l0[0,1], "
        "bias_ih_l1_reverse[2], head.W[0,1] (indices from 0). Default: the element of "
        "weight_hh_l0 with the largest gradient.", show_default=False)] = None,
    step_by_step: StepOpt = False,
    round: RoundOpt = None,
    format: Annotated[GradFormat, typer.Option(
        "--format", "-f", help="table, json, markdown or latex (a document for pdflatex).")
    ] = GradFormat.table,
    precision: PrecisionOpt = None,
    dtype: DTypeOpt = None,
    steps: StepsOpt = None,
    output: OutputOpt = None,
    allow_outside_paths: OutsideOpt = False,
    traceback: TracebackOpt = False,
) -> None:
    """Backpropagation through time, step by step: the loss, the head's gradients, every step's
    dL/dh, dL/dc, gate pre-activation gradients and weight contributions, and the totals."""
    precision = _digits(precision, round)
    with _errors(traceback):
        import rnncalc
        from rnncalc.bptt import backprop
        from rnncalc.render.grad import render as render_grad

        exercise = rnncalc.load(str(config), dtype=dtype.value if dtype else None, batch=True)
        if not isinstance(exercise, rnncalc.Exercise):  # a batch: each sequence, then totals
            _batch_only(format, explain=explain or element)
            from rnncalc import minibatch
            from rnncalc.render.batch import render_grad as render_batch

            batch = minibatch.run(exercise, round, _compute)
            _emit(render_batch(batch, minibatch.backprop(batch, truncate, round_to=round),
                               format.value, step_by_step=step_by_step, precision=precision),
                  output)
            return
        trace = _compute(exercise, round_to=round)
        # the chain rule of an element sums every step's contribution
        result = backprop(trace, truncate, round_to=round,
                          steps="all" if explain or element else steps)
        lines = None
        if explain or element:
            from rnncalc.bptt_explain import default_element, explain_element

            element = element or default_element(result)
            lines = explain_element(trace, result, element)
        _emit(render_grad(trace, result, format.value, precision=precision,
                          step_by_step=step_by_step, explain=lines, element=element or "",
                          steps=steps),
              output)


class Picture(str, Enum):
    unrolled = "unrolled"
    cell = "cell"
    heatmap = "heatmap"
    grad = "grad"


class PictureFormat(str, Enum):
    svg = "svg"
    latex = "latex"


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
        "--cell", help="With no --config: the seed exercise of this cell (default lstm).",
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
    precision = _digits(precision, round)
    with _errors(traceback):
        import rnncalc
        from rnncalc.pictures.draw import draw as _draw

        exercise = rnncalc.load(
            None if config is None else str(config),
            cell=cell.value if cell else "lstm" if config is None else None,
            task=task.value if task else None, bidirectional=bidirectional,
            dtype=dtype.value if dtype else None)
        trace = _compute(exercise, round)
        _emit(_draw(trace, picture.value, selection, precision=precision, fmt=format.value,
                    truncate=truncate), output)


class RunFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"


ConfigsArg = Annotated[list[str], typer.Argument(
    help="Config files, directories (their *.yaml, *.yml), globs ('class/*/lstm.yaml'), or '-' "
    "for one config on stdin.", show_default=False, metavar="CONFIG...")]


@app.command(epilog="Examples:  rnncalc run class/*.yaml --format jsonl > results.jsonl  ·  "
             "rnncalc run configs/ --jobs 4 -f jsonl  ·  cat my.yaml | rnncalc run -")
def run(
    configs: ConfigsArg,
    format: Annotated[RunFormat, typer.Option(
        "--format", "-f", help="jsonl: one JSON object per config, in input order (an error "
        "record for a bad one); table: the tables one after another.")] = RunFormat.table,
    step_by_step: StepOpt = False,
    precision: PrecisionOpt = None,
    dtype: DTypeOpt = None,
    steps: StepsOpt = None,
    grad: Annotated[bool, typer.Option(
        "--grad", help="Also backpropagate each config that has a loss (what rnncalc grad "
        "shows; jsonl: its grad object); the others run forward only.")] = False,
    jobs: Annotated[str, typer.Option(
        "--jobs", "-j", help="Worker processes: a number (0: one per core) or auto, which "
        "starts workers only when the configs' size says they pay. Output stays in input order.",
        callback=lambda value: _check_jobs(value))] = "auto",
    progress: Annotated[bool | None, typer.Option(
        "--progress/--no-progress", help="A progress bar on stderr; default: when stderr is a "
        "terminal and the run takes more than a second.", show_default=False)] = None,
    output: OutputOpt = None,
    allow_outside_paths: OutsideOpt = False,
    traceback: TracebackOpt = False,
) -> None:
    """Run many configs in one call, each by its own cell; a bad config does not stop the rest.

    Exit code 0 when all succeeded, 3 when any config was invalid, 2 when --steps picks none of
    a run's steps (4 on a bug)."""
    precision = _digits(precision, None)
    with _errors(traceback):
        from rnncalc.jobs import Job, expand, outcomes, read_stdin

        sources = expand(configs)
        tty = output is None and sys.stdout.isatty()
        job = Job(render=format.value, dtype=dtype.value if dtype else None,
                  step_by_step=step_by_step, precision=precision, steps=steps,
                  width=shutil.get_terminal_size().columns if tty else 80,
                  color=tty and "NO_COLOR" not in os.environ, stdin=read_stdin(sources),
                  grad=grad)
        worst, kept = 0, list[str]()
        from rnncalc.jobs import choose_jobs

        asked = None if jobs == "auto" else int(jobs)
        results = outcomes(job, sources, choose_jobs(sources, asked, os.cpu_count() or 1))
        for outcome in _with_progress(results, len(sources), progress):
            worst = max(worst, outcome.exit_code)
            if outcome.error is not None and format is RunFormat.table:
                print(outcome.error, file=sys.stderr)
            if outcome.text:
                # tables after the first get a blank line before them
                text = "\n" + outcome.text if kept and format is RunFormat.table else outcome.text
                kept.append(text if output is not None else "")
                if output is None:
                    sys.stdout.write(text)
        if output is not None:
            from rnncalc.output import write_result

            write_result("".join(kept), output)
        sys.stdout.flush()
        if worst:
            raise typer.Exit(worst)


@app.command(epilog="Examples:  rnncalc validate class/*.yaml  ·  rnncalc validate configs/")
def validate(configs: ConfigsArg, allow_outside_paths: OutsideOpt = False,
             traceback: TracebackOpt = False) -> None:
    """Check configs without computing: one line per invalid config on stderr.

    Exit code 0 when all are valid, else the highest of theirs (3; 4 on a bug). Never imports
    torch."""
    with _errors(traceback):
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


def _check_tolerance(value: float | None) -> float | None:
    """``--tolerance``: nan or inf (which would mark every answer wrong or right) is usage."""
    from rnncalc.answers import tolerance_problem

    problem = None if value is None else tolerance_problem(value)
    if problem:
        raise typer.BadParameter(problem)
    return value


def _check_jobs(jobs: str) -> str:
    """``--jobs``: ``auto`` or a whole number >= 0; anything else is a usage error (exit 2)."""
    if jobs != "auto" and not (jobs.isdigit() and jobs.isascii()):
        raise typer.BadParameter(f"expected auto or a number of worker processes (0: one per "
                                 f"core), got {jobs!r}")
    return jobs


def _check_steps(steps: str | None) -> str | None:
    """``--steps``: a bad selection is a usage error (exit 2), found before anything runs."""
    if steps is not None:
        from rnncalc.steps import parse_steps

        try:
            parse_steps(steps)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return steps


def _with_progress(items: Iterator[object], total: int, wanted: bool | None) -> Iterator[Any]:
    """``items`` as they come; after a second, a transient progress bar on stderr (a terminal)."""
    import time

    if wanted is False or (wanted is None and not sys.stderr.isatty()):
        yield from items
        return
    start, bar, task = time.monotonic(), None, None
    try:
        for done, item in enumerate(items, 1):
            yield item
            if bar is None and (wanted or time.monotonic() - start > 1.0) and done < total:
                from rich.console import Console
                from rich.progress import Progress

                bar = Progress(console=Console(stderr=True), transient=True)
                bar.start()
                task = bar.add_task("configs", total=total)
            if bar is not None and task is not None:
                bar.update(task, completed=done)
    finally:
        if bar is not None:
            bar.stop()


def _nothing() -> None:
    """The callback of :func:`_only`'s group: there is nothing to do before the command."""


def _only(name: str) -> typer.Typer:
    """``app`` holding one command, ``name``: what ``rnncalc NAME ...`` runs.

    typer builds the click parameters of every command before it dispatches to one (~12 ms of
    every start); a command line that names its command never sees the others. A callback that
    does nothing keeps the app a group (typer turns a one-command app into that command), so usage
    lines and errors still say ``rnncalc NAME``.
    """
    from typer.models import TyperInfo

    one = copy.copy(app)
    one.registered_commands = [c for c in app.registered_commands if _name(c) == name]
    one.registered_callback = TyperInfo(callback=_nothing)
    return one


def _name(command: Any) -> str:
    """A registered command's name, as typer derives it: its own, else its function's."""
    return str(command.name or command.callback.__name__.lower().replace("_", "-"))


def main() -> None:
    """Console entry point: ``app``, or only the command the first argument names (not while a
    shell asks for completions, which may list every command)."""
    # what is imported by now lives as long as the process: the garbage collector need not walk
    # it at every full collection (validate of 14 configs: 20 ms less); engine.run does the
    # same for torch's objects
    gc.freeze()
    first = sys.argv[1] if len(sys.argv) > 1 else ""
    completing = any(k.endswith("_COMPLETE") for k in os.environ)
    known = not completing and any(_name(c) == first for c in app.registered_commands)
    try:
        (_only(first) if known else app)()
    except BrokenPipeError:
        with contextlib.suppress(BaseException):
            _quiet_broken_pipe()
        sys.exit(0)
