"""Commands that compute nothing never import torch (issues 6, 18): every --help, validate, init,
schema, formulas, answers-template, convert and shell completion. Checked in a fresh interpreter,
a behaviour rather than a timing (the timings are in benchmarks/bench.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import typer

from rnncalc.cli import app
from tests.conftest import CONFIGS, ROOT

# Runs each command line in one interpreter and reports, after each, its exit code and whether
# torch is loaded.
PROBE = """
import io, json, sys
from contextlib import redirect_stderr, redirect_stdout
from rnncalc.cli import app
seen = []
for args in json.loads(sys.argv[1]):
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        try:
            app(args, prog_name="rnncalc")
            code = 0
        except SystemExit as exc:
            code = exc.code
    seen.append([code, "torch" in sys.modules])
print(json.dumps(seen))
"""


def _commands() -> list[str]:
    return sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def _probe(runs: list[list[str]], env: dict[str, str] | None = None) -> list[list]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(runs)], capture_output=True, text=True,
        cwd=ROOT, env={**os.environ, **(env or {})}, timeout=120, check=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


def _runs() -> list[list[str]]:
    commands = _commands()
    runs = [["--help"], []] + [[c, "--help"] for c in commands]
    runs.append(["validate", str(CONFIGS)])
    runs.append(["validate", str(CONFIGS / "lstm.yaml"), "missing.yaml"])
    optional = {
        "init": [["init", "lstm"], ["init", "gru"]],
        "schema": [["schema"]],
        "formulas": [["formulas", "lstm"], ["formulas", "gru", "--convention", "onnx"],
                     ["formulas", "rnn", "-c", str(CONFIGS / "lstm_stacked_relu.yaml")]],
        # blank forms and a change of layout: the exercise's shape and weights, no arithmetic
        "answers-template": [["answers-template", str(CONFIGS / "lstm.yaml")],
                             ["answers-template", str(CONFIGS / "rnn_bidirectional.yaml")],
                             ["answers-template", str(CONFIGS / "rnn_labeling.yaml")]] + [
            ["answers-template", str(CONFIGS / c), "--grad"] for c in (
                "rnn_grad.yaml", "lstm_grad_gomez.yaml", "rnn_labeling_grad.yaml")],
        "convert": [["convert", str(CONFIGS / "lstm.yaml"), "--to", "onnx"],
                    ["convert", str(CONFIGS / "lstm_onnx.yaml"), "--to", "per-gate"]],
    }
    for command, lines in optional.items():
        if command in commands:
            runs += lines
    return runs


def test_no_torch_on_commands_that_compute_nothing():
    runs = _runs()
    imported = [args for args, (_, torch_loaded) in zip(runs, _probe(runs), strict=True)
                if torch_loaded]
    assert imported == [], f"these command lines imported torch: {imported}"


@pytest.mark.parametrize(("shell", "env"), [
    ("bash", {"_RNNCALC_COMPLETE": "complete_bash", "COMP_WORDS": "rnncalc ls", "COMP_CWORD": "1"}),
    ("zsh", {"_RNNCALC_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "rnncalc l"}),
])
def test_no_torch_on_shell_completion(shell, env):
    ((_, torch_loaded),) = _probe([[]], env)
    assert not torch_loaded, shell


def test_the_probe_can_see_torch():
    """The check above can fail: a command that computes on torch does load it (--round: its
    rounding is a torch function mode)."""
    ((_, torch_loaded),) = _probe([["lstm", "--round", "4"]])
    assert torch_loaded


def test_small_exercises_compute_without_torch():
    """A seed-sized exercise computes on numpy (issue 18): its tables, JSON, `run` of many configs
    and its gradients (`grad`, every format) load no torch; the chain rule written out
    (`--explain`) and `--round` (a torch function mode) do."""
    grad = [["grad", "-c", str(CONFIGS / name), *args] for name, args in (
        ("rnn_grad.yaml", []), ("lstm_grad_gomez.yaml", ["-f", "json"]),
        ("rnn_labeling_grad.yaml", ["-s", "-f", "markdown"]),
        ("lstm_coursera_backward.yaml", ["-f", "latex"]))]
    runs = [["lstm"], ["gru", "--format", "json"], ["rnn", "-s", "--format", "csv"],
            ["run", str(CONFIGS), "-f", "jsonl", "--jobs", "1"], *grad, ["lstm", "--explain"],
            ["grad", "-c", str(CONFIGS / "rnn_grad.yaml"), "--explain"],
            ["grad", "-c", str(CONFIGS / "rnn_grad.yaml"), "--round", "4"]]
    seen = _probe(runs)
    assert [code for code, _ in seen] == [0] * len(runs)
    assert [loaded for _, loaded in seen] == [False] * (4 + len(grad)) + [True] * 3


# Runs one command line through main() in a fresh interpreter; prints which watched modules it
# imported.
MODULES_PROBE = """
import io, json, sys
from contextlib import redirect_stderr, redirect_stdout
watched = json.loads(sys.argv[2])
sys.argv = ["rnncalc", *json.loads(sys.argv[1])]
from rnncalc.cli import main
with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
    try:
        main()
    except SystemExit:
        pass
print(json.dumps([m for m in watched if m in sys.modules]))
"""

#: Modules that commands computing nothing do without: the config reader and what it builds,
#: the layouts reader, fastjsonschema's compiler, decimal (for the schema checker), batch's classes.
WATCHED = ["yaml", "rnncalc.config", "rnncalc.model", "rnncalc.formulation",
           "rnncalc.config.layouts", "rnncalc.jobs", "fastjsonschema", "decimal", "torch"]


def _imported(args: list[str], watched: list[str] = WATCHED) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", MODULES_PROBE, json.dumps(args), json.dumps(watched)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize(("args", "imported"), [
    (["--help"], []),
    (["init", "lstm"], []),  # reads schema.json, written ahead
    (["schema"], []),
    (["formulas", "gru"], ["rnncalc.formulation"]),
    # a config in PyTorch's layout needs no layouts reader; checking needs no schema compiler
    (["validate", str(CONFIGS / "lstm.yaml"), str(CONFIGS / "rnn_stacked.yaml")],
     ["yaml", "rnncalc.config", "rnncalc.model", "rnncalc.formulation"]),
    (["validate", str(CONFIGS / "lstm_onnx.yaml")],
     ["yaml", "rnncalc.config", "rnncalc.model", "rnncalc.formulation",
      "rnncalc.config.layouts"]),
])
def test_what_commands_that_compute_nothing_import(args, imported):
    assert _imported(args) == imported


#: Modules the seed run (`rnncalc lstm`: its tables, step by step, its JSON) does without, made
#: at every start before: the expressions of --explain's lines (ten dataclasses).
SEED_UNUSED = ["rnncalc.expr"]


@pytest.mark.parametrize("args", [["lstm"], ["lstm", "-s"], ["lstm", "--format", "json"]])
def test_what_the_seed_run_does_without(args):
    assert _imported(args, SEED_UNUSED) == []


def test_the_explained_lines_import_their_expressions():
    """The check above can fail: --explain builds its lines of expressions."""
    assert _imported(["lstm", "--explain"], SEED_UNUSED) == SEED_UNUSED


def _main_and_app(args: list[str], monkeypatch, capsys) -> tuple[list[str], tuple, tuple]:
    """What ``main()`` builds (the group's command names) and prints with ``args``, and what
    ``app()`` prints with them."""
    from rnncalc import cli

    built: list[str] = []
    get_command = typer.main.get_command

    def recording(typer_app):
        group = get_command(typer_app)
        built.extend(group.commands)
        return group

    def outcome(call) -> tuple:
        try:
            call()
            code = 0
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        return out.out, out.err, code

    monkeypatch.setattr(sys, "argv", ["rnncalc", *args])
    # the program is "rnncalc", not "python -m pytest.rnncalc" (which click would see from this
    # __main__'s package); its completion variable _RNNCALC_COMPLETE
    monkeypatch.setattr(sys.modules["__main__"], "__package__", None)
    monkeypatch.setattr(typer.main, "get_command", recording)
    ours = outcome(cli.main)
    monkeypatch.setattr(typer.main, "get_command", get_command)
    return built, ours, outcome(lambda: app(args))  # the same program name, from sys.argv


@pytest.mark.parametrize("args", [
    ["validate", str(CONFIGS)], ["validate", str(CONFIGS / "lstm.yaml"), "missing.yaml"],
    ["validate"], ["init", "lstm"], ["init", "foo"], ["schema", "extra"], ["formulas", "xyz"],
    ["lstm", "--help"], ["lstm", "--bogus"], ["answers-template", "--help"],
    ["rnn", "-c", str(CONFIGS / "rnn_regression.yaml"), "-f", "json"],
])
def test_main_builds_only_the_command_named_and_says_what_app_says(args, monkeypatch, capsys):
    """typer builds every command's parameters before dispatching; main() gives it only the one
    the command line names (startup), and that changes nothing the user sees."""
    built, ours, theirs = _main_and_app(args, monkeypatch, capsys)
    assert built == [args[0]]
    assert ours == theirs


@pytest.mark.parametrize("args", [[], ["--help"], ["valdate"], ["-h", "lstm"]])
def test_main_builds_every_command_for_the_app_itself(args, monkeypatch, capsys):
    built, ours, theirs = _main_and_app(args, monkeypatch, capsys)
    assert sorted(built) == _commands()
    assert ours == theirs


def test_main_builds_every_command_for_shell_completion(monkeypatch, capsys):
    monkeypatch.setenv("_RNNCALC_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "rnncalc l")
    monkeypatch.setenv("COMP_CWORD", "1")
    built, ours, _ = _main_and_app(["lstm"], monkeypatch, capsys)
    assert sorted(built) == _commands()
    assert ours == ("lstm\n", "", 0)


def test_the_first_exercise_sets_the_imports_aside_from_the_collector():
    """A computing command costs little beyond torch's import: after the first exercise of a
    process, everything imported (torch's objects) is frozen out of the garbage collector's
    reach, which otherwise walked them all at every full collection and at exit (the figure is
    `bench.py --only compute`)."""
    code = ("import gc, rnncalc; from rnncalc.engine import run as compute; "
            "before = gc.get_freeze_count(); compute(rnncalc.load(cell='lstm')); "
            "print(before, gc.get_freeze_count())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=120, check=True)
    before, after = map(int, out.stdout.split())
    assert before == 0 and after > 10_000


def test_main_sets_its_imports_aside_from_the_collector():
    """The same for the CLI's own imports, from its first line: `validate` of the 14 example
    configs was 1.4x of the imports' time without it, 1.25x with it."""
    code = ("import gc, sys; sys.argv = ['rnncalc', 'validate', sys.argv[1]]; "
            "from rnncalc.cli import main; before = gc.get_freeze_count()\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(before, gc.get_freeze_count())")
    out = subprocess.run([sys.executable, "-c", code, str(CONFIGS)], capture_output=True,
                         text=True, cwd=ROOT, timeout=120, check=True)
    before, after = map(int, out.stdout.split())
    assert before == 0 and after > 1000


def test_check_refuses_bad_answers_files_before_torch(tmp_path):
    """issue 12: a bad answers file is refused at once, before torch is imported (its import is
    the second or so the exercise's arithmetic costs); a good one is then marked (with torch)."""
    bad = {"nan-tolerance.yaml": "tolerance: .nan\n", "not-yaml.yaml": "layers: [\n",
           "a-list.yaml": "- 1\n", "latin1.yaml": "title: caf\xe9\n".encode("latin-1"),
           "student-a-mapping.yaml": "student: {id: 1}\n"}
    for name, text in bad.items():
        (tmp_path / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    good = tmp_path / "good.yaml"
    good.write_text("layers: [{layer: 0, directions: {forward: [{t: 0, h: [0.5, 0.5]}]}}]\n")
    config = str(CONFIGS / "lstm.yaml")
    runs = [["check", config, str(tmp_path / name)] for name in bad]
    runs.append(["check", config, *(str(tmp_path / name) for name in bad), "-f", "jsonl"])
    runs.append(["check", config, str(good)])  # last: torch stays imported once it is
    seen = _probe(runs)
    assert seen[:-1] == [[3, False]] * (len(bad) + 1)
    assert seen[-1] == [1, True]  # marked (0.5 is wrong): the probe sees torch when it is there


def test_long_float64_runs_never_wait_for_torch(tmp_path):
    """A long float64 sequence in PyTorch's formulation computes on numpy, whatever its length
    below a million multiply-adds a step (torch has no fused float64 kernel to pay for its
    import); the same sequence in float32 takes torch's fused kernel once numpy's loop would
    outlast torch's import (engine.small)."""
    steps, hidden = 12_000, 64  # numpy's loop estimated at about 0.6 s: past NUMPY_BEFORE_TORCH
    rows = 4 * hidden
    config = {"cell": "lstm", "inputs": [[0.5]] * steps,
              "weights": {"weight_ih_l0": [[0.01]] * rows,
                          "weight_hh_l0": [[0.01] * hidden] * rows}}
    runs = []
    for dtype in ("float64", "float32"):
        path = tmp_path / f"{dtype}.yaml"
        path.write_text(json.dumps({**config, "dtype": dtype}))
        runs.append(["lstm", "-c", str(path), "-f", "json", "--steps", "0"])
    assert _probe(runs) == [[0, False], [0, True]]
