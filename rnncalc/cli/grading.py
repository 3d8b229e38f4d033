"""A teacher's commands: ``exercise`` (fresh exercises, a class's variants), ``check`` (mark
answers), ``export`` (questions for course platforms) and ``answers-template``."""

# No `from __future__ import annotations`: see rnncalc/cli/common.py.
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from rnncalc.cli.common import (
    CellArg,
    OutputOpt,
    OutsideOpt,
    PrecisionOpt,
    RoundOpt,
    TracebackOpt,
    app,
    check_cell,
    digits,
    emit,
)
from rnncalc.cli.exits import compute, exit_codes

__all__ = ["answers_template", "check", "exercise", "export"]


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
    check_cell(cell)
    if out_dir is not None and output is not None:
        raise typer.BadParameter("give --out-dir (three files) or --output (the config alone), "
                                 "not both", param_hint="--output")
    if (students is not None or variants is not None) and out_dir is None:
        raise typer.BadParameter("a class's variants go into a folder: give --out-dir",
                                 param_hint="--students/--variants")
    if students is not None and variants is not None:
        raise typer.BadParameter("give --students or --variants, not both",
                                 param_hint="--variants")
    with exit_codes(traceback):
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
            emit(config_text(spec), output)
            return
        for path in write_exercise(spec, out_dir, format.value, explain=explain):
            print(f"wrote {path}", file=sys.stderr)


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
    precision = digits(precision, round)
    if str(config) == "-" and "-" in answers:
        raise typer.BadParameter("the config is read from stdin ('-') already; only one of "
                                 "CONFIG and ANSWERS can be read from stdin", param_hint="ANSWERS")
    from rnncalc.sources import expand

    sources = expand(answers)
    if len(sources) > 1 and format in (CheckFormat.json, CheckFormat.gradescope):
        raise typer.BadParameter(f"{format.value} marks one answers file, got {len(sources)}; "
                                 "use jsonl or csv", param_hint="--format")
    with exit_codes(traceback):
        from rnncalc.grading import Grader
        from rnncalc.render.grading import render

        grader = Grader(str(config), {
            "points": points or (), "carried": carried.value if carried else None,
            "rounding": rounding.value if rounding else None, "tolerance": tolerance,
            "round": round}, compute=compute)
        results = [grader(s) for s in sources]
        title = grader.title
        text, errors = render(results, format.value, title=title, precision=precision)
        for line in errors:
            print(line, file=sys.stderr)
        if text:
            emit(text, output)
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
    with exit_codes(traceback):
        from rnncalc.export import render, write_folder

        result = render(str(config), to.value, grad=grad, decimals=decimals,
                        tolerance=tolerance, compute=compute)
        if isinstance(result, dict):  # a PrairieLearn question folder
            assert output is not None
            for path in write_folder(result, output):
                print(f"wrote {path}", file=sys.stderr)
        elif isinstance(result, bytes):  # a QTI zip
            from rnncalc.output import write_result

            write_result(result, output)
        else:
            emit(result, output)


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
    with exit_codes(traceback):
        import rnncalc
        from rnncalc.answers import shape_of, template

        exercise = rnncalc.load(str(config))
        if grad:  # the form's shape is the exercise's: nothing to compute, no torch
            from rnncalc.gradanswers import shape_of as grad_shape

            emit(template({"grad": grad_shape(exercise)}, exercise.title, grad=True), output)
            return
        emit(template(shape_of(exercise), exercise.title), output)


def _check_tolerance(value: float | None) -> float | None:
    """``--tolerance``: nan or inf (which would mark every answer wrong or right) is usage."""
    from rnncalc.answers import tolerance_problem

    problem = None if value is None else tolerance_problem(value)
    if problem:
        raise typer.BadParameter(problem)
    return value
