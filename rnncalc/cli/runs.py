"""Commands that compute beyond one table: ``grad`` (backpropagation through time) and ``run``
(many configs in one call)."""

# No `from __future__ import annotations`: see rnncalc/cli/common.py.
import os
import shutil
import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from rnncalc.cli.common import (
    ConfigsArg,
    DTypeOpt,
    GradFormat,
    OutputOpt,
    OutsideOpt,
    PrecisionOpt,
    RoundOpt,
    StepOpt,
    StepsOpt,
    TracebackOpt,
    app,
    batch_only,
    digits,
    emit,
)
from rnncalc.cli.exits import compute, exit_codes

__all__ = ["grad", "run"]


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
    precision = digits(precision, round)
    with exit_codes(traceback):
        import rnncalc
        from rnncalc.bptt import backprop
        from rnncalc.render.grad import render as render_grad

        exercise = rnncalc.load(str(config), dtype=dtype.value if dtype else None, batch=True)
        if not isinstance(exercise, rnncalc.Exercise):  # a batch: each sequence, then totals
            batch_only(format, explain=explain or element)
            from rnncalc import minibatch
            from rnncalc.render.batch import render_grad as render_batch

            batch = minibatch.run(exercise, round, compute)
            emit(render_batch(batch, minibatch.backprop(batch, truncate, round_to=round),
                              format.value, step_by_step=step_by_step, precision=precision),
                 output)
            return
        # a small exercise on numpy (no torch imported), unless the chain rule is written out
        trace = compute(exercise, round_to=round, numpy=not (explain or element))
        # the chain rule of an element sums every step's contribution
        result = backprop(trace, truncate, round_to=round,
                          steps="all" if explain or element else steps)
        lines = None
        if explain or element:
            from rnncalc.bptt_explain import default_element, explain_element

            element = element or default_element(result)
            lines = explain_element(trace, result, element)
        emit(render_grad(trace, result, format.value, precision=precision,
                         step_by_step=step_by_step, explain=lines, element=element or "",
                         steps=steps),
             output)


class RunFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"


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
    precision = digits(precision, None)
    with exit_codes(traceback):
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
        results = outcomes(job, sources, choose_jobs(sources, asked, os.cpu_count() or 1,
                                                     job.per_byte))
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


def _check_jobs(jobs: str) -> str:
    """``--jobs``: ``auto`` or a whole number >= 0; anything else is a usage error (exit 2)."""
    if jobs != "auto" and not (jobs.isdigit() and jobs.isascii()):
        raise typer.BadParameter(f"expected auto or a number of worker processes (0: one per "
                                 f"core), got {jobs!r}")
    return jobs


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
