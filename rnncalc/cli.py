"""The ``rnncalc`` command: parse options, call the API, hand the trace to a renderer.

The one place where errors become exit codes (:func:`_errors`). torch is imported only by the
commands that compute.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import traceback as tb
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from rnncalc.errors import ExitCode, RnncalcError

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
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    table = "table"
    json = "json"


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
    """Turn every error into one line on stderr and its exit code (README, "Errors")."""
    show_traceback = show_traceback or bool(os.environ.get("RNNCALC_TRACEBACK"))
    try:
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
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise typer.Exit(130) from None
    except Exception as exc:
        if show_traceback:
            tb.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc} (a bug in rnncalc: rerun with "
              "--traceback and report it)", file=sys.stderr)
        raise typer.Exit(int(ExitCode.INTERNAL)) from None


def _quiet_broken_pipe() -> None:
    """The reader went away (``rnncalc ... | head -1``): stop quietly, as a Unix filter does."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    raise typer.Exit(0)


def _emit(renderable_or_text: object, output: Path | None) -> None:
    """Write a result: text as it is; a rich renderable at the terminal's width (80 otherwise)."""
    from rnncalc.output import write_result

    if isinstance(renderable_or_text, str):
        write_result(renderable_or_text, output)
        return
    from rnncalc.render.table import to_text

    tty = output is None and sys.stdout.isatty()
    color = tty and "NO_COLOR" not in os.environ
    width = shutil.get_terminal_size().columns if tty else 80
    write_result(to_text(renderable_or_text, width=width, color=color), output)


ConfigOpt = Annotated[Optional[Path], typer.Option(
    "--config", "-c", help="YAML exercise ('-' for stdin); default: the seed exercise.",
    show_default=False)]
StepOpt = Annotated[bool, typer.Option(
    "--step-by-step", "-s", help="Show every pre-activation and activation.")]
TaskOpt = Annotated[Optional[Task], typer.Option(
    help="Override the head's task ('hidden': no head). With no config: pick the seed exercise.",
    show_default=False)]
BidirOpt = Annotated[Optional[bool], typer.Option(
    "--bidirectional/--no-bidirectional",
    help="Override the config. With no config: the seed's bidirectional exercise.",
    show_default=False)]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table or json.")]
PrecisionOpt = Annotated[int, typer.Option(min=0, max=17, help="Digits after the point in tables.")]
DTypeOpt = Annotated[Optional[DType], typer.Option(
    help="Override the config's dtype (default float64).", show_default=False)]
OutputOpt = Annotated[Optional[Path], typer.Option(
    "--output", "-o", help="Write to this file (atomically) instead of stdout.",
    show_default=False)]
TracebackOpt = Annotated[bool, typer.Option(
    "--traceback", help="Show the full traceback of an error (for bug reports).")]


def _cell_command(cell: str) -> Callable[..., None]:
    def command(
        config: ConfigOpt = None,
        step_by_step: StepOpt = False,
        task: TaskOpt = None,
        bidirectional: BidirOpt = None,
        format: FormatOpt = Format.table,
        precision: PrecisionOpt = 4,
        dtype: DTypeOpt = None,
        output: OutputOpt = None,
        traceback: TracebackOpt = False,
    ) -> None:
        with _errors(traceback):
            import rnncalc

            exercise = rnncalc.load(
                None if config is None else str(config), cell=cell,
                task=task.value if task else None, bidirectional=bidirectional,
                dtype=dtype.value if dtype else None,
            )
            trace = _compute(exercise)
            if format is Format.json:
                from rnncalc.render.json import render as render_json

                _emit(render_json(trace), output)
            else:
                from rnncalc.render.table import render as render_table

                _emit(render_table(trace, step_by_step=step_by_step, precision=precision), output)

    return command


def _compute(exercise: object) -> object:
    import torch

    import rnncalc

    torch.set_num_threads(1)  # small exercises: thread start-up costs more than the arithmetic
    return rnncalc.run(exercise)  # type: ignore[arg-type]


_CELL_HELP = {
    "rnn": ("Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).",
            "rnncalc rnn  ·  rnncalc rnn --step-by-step  ·  rnncalc rnn --task labeling  ·  "
            "rnncalc rnn --bidirectional  ·  rnncalc rnn -c configs/rnn_stacked.yaml -f json"),
    "lstm": ("LSTM (PyTorch's equations, gates i, f, g, o): every gate, c_t and h_t.",
             "rnncalc lstm --step-by-step  ·  rnncalc lstm -c configs/lstm.yaml --format json"),
}

for _cell, (_help, _example) in _CELL_HELP.items():
    app.command(_cell, help=f"{_help}\n\nWith no --config, runs the seed's {_cell} exercise.",
                epilog=f"Examples:  {_example}")(_cell_command(_cell))


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
    format: FormatOpt = Format.table,
    precision: PrecisionOpt = 4,
    dtype: DTypeOpt = None,
    output: OutputOpt = None,
    traceback: TracebackOpt = False,
) -> None:
    """Backpropagation through time, step by step: the loss, the head's gradients, every step's
    dL/dh, dL/dc, gate pre-activation gradients and weight contributions, and the totals."""
    if format.value == "csv":
        raise typer.BadParameter("grad writes table, json, markdown or latex",
                                 param_hint="--format")
    with _errors(traceback):
        import rnncalc
        from rnncalc.bptt import backprop
        from rnncalc.render.grad import render as render_grad

        exercise = rnncalc.load(str(config), dtype=dtype.value if dtype else None)
        trace = _compute(exercise)
        result = backprop(trace, truncate)
        lines = None
        if explain or element:
            from rnncalc.bptt_explain import default_element, explain_element

            element = element or default_element(result)
            lines = explain_element(trace, result, element)
        _emit(render_grad(trace, result, format.value, precision=precision,
                          step_by_step=step_by_step, explain=lines, element=element or ""),
              output)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except BrokenPipeError:
        with contextlib.suppress(BaseException):
            _quiet_broken_pipe()
        sys.exit(0)
