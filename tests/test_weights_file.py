"""``weights_file: model.pt`` in a config: a PyTorch state_dict beside the exercise, found relative
to the config's own folder, read as ``--weights`` reads it, its errors at the config's line.

Golden values come from the torch.nn module whose state_dict was saved, run on the config's
inputs in float64. Each test runs from a working directory other than the config's folder.
"""

from __future__ import annotations

import json
import os
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

import rnncalc
from tests.test_errors import one_line
from tests.test_startup import _probe  # exit code and whether torch is loaded, per command line
from tests.test_weightfile import _OpensAFile

X = [[1.0, 2.0], [0.5, -1.0], [-0.25, 0.75]]
MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def module(cell: str, seed: int, input_size: int = 2) -> torch.nn.Module:
    torch.manual_seed(seed)
    return MODULES[cell](input_size, 3).double()


def exercise(folder: Path, cell: str = "lstm", seed: int = 0, weights_file: str = "model.pt",
             net: torch.nn.Module | None = None) -> Path:
    """``folder/my.yaml`` naming ``weights_file`` on line 3, and (unless ``net`` is given) the
    state_dict of a fresh module saved as ``folder/model.pt``."""
    folder.mkdir(parents=True, exist_ok=True)
    net = net or module(cell, seed)
    torch.save(net.state_dict(), folder / "model.pt")
    path = folder / "my.yaml"
    path.write_text(f"cell: {cell}\ninputs: {json.dumps(X)}\nweights_file: {weights_file}\n")
    return path


def expected(net: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """The module's output and final hidden state on X."""
    with torch.no_grad():
        output, h_n = net(torch.tensor(X, dtype=torch.float64))
    return output, (h_n[0] if isinstance(h_n, tuple) else h_n)


def assert_runs_as(out: dict, net: torch.nn.Module) -> None:
    output, h_n = expected(net)
    assert torch.allclose(torch.tensor(out["output"], dtype=torch.float64), output, atol=1e-12)
    assert torch.allclose(torch.tensor(out["h_n"], dtype=torch.float64), h_n, atol=1e-12)


def run_json(cli, *args: str, input: str | None = None) -> dict:
    result = cli(*args, "--format", "json", input=input)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    """The working directory: a folder beside the exercise's, holding a decoy model.pt (other
    weights, same shapes) that a name resolved against the working directory would find."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    for cell in MODULES:
        torch.save(module(cell, seed=99).state_dict(), cwd / f"{cell}.pt")
    monkeypatch.chdir(cwd)
    return cwd


@pytest.mark.parametrize("cell", sorted(MODULES))
def test_weights_file_runs_as_the_module_does(cli, tmp_path, elsewhere, cell):
    net = module(cell, seed=1)
    path = exercise(tmp_path / "class", cell, net=net)
    (elsewhere / "model.pt").write_bytes((elsewhere / f"{cell}.pt").read_bytes())  # the decoy
    assert_runs_as(run_json(cli, cell, "-c", str(path)), net)
    assert_runs_as(run_json(cli, cell, "-c", os.path.relpath(path)), net)  # ../class/my.yaml
    # the check can fail: the decoy's weights give other numbers
    decoy = module(cell, seed=99)
    assert not torch.allclose(expected(decoy)[1], expected(net)[1])


def test_a_subfolder_a_parent_and_the_home_folder(cli, tmp_path, elsewhere, monkeypatch):
    """Within the config's folder, always; a parent or the home folder only when the user allows
    it (issue 12: a student's config must not read any file the grader can)."""
    monkeypatch.setenv("RNNCALC_ALLOW_OUTSIDE_PATHS", "0")  # restored after the flag sets it
    net = module("gru", seed=2)
    path = exercise(tmp_path / "class" / "ex1", "gru", net=net)
    (path.parent / "models").mkdir()
    os.replace(path.parent / "model.pt", path.parent / "models" / "trained.pt")
    text = path.read_text()
    path.write_text(text.replace("model.pt", "models/trained.pt"))
    assert_runs_as(run_json(cli, "gru", "-c", str(path)), net)
    os.replace(path.parent / "models", tmp_path / "class" / "models")
    monkeypatch.setenv("HOME", str(tmp_path / "class"))
    for name in ("../models/trained.pt", "~/models/trained.pt"):
        monkeypatch.setenv("RNNCALC_ALLOW_OUTSIDE_PATHS", "0")
        path.write_text(text.replace("model.pt", name))
        assert one_line(cli("gru", "-c", str(path))) == (
            f"{path}:3: weights_file: {name!r} is outside this config's folder, where a config "
            "may name files; give it with --weights, or allow it with --allow-outside-paths")
        assert_runs_as(run_json(cli, "gru", "-c", str(path), "--allow-outside-paths"), net)


def test_stdin_and_a_dict_look_in_the_working_directory(cli, elsewhere):
    text = f"cell: rnn\ninputs: {json.dumps(X)}\nweights_file: rnn.pt\n"
    decoy = module("rnn", seed=99)  # elsewhere/rnn.pt
    assert_runs_as(run_json(cli, "rnn", "-c", "-", input=text), decoy)
    ex = rnncalc.load({"cell": "rnn", "inputs": X, "weights_file": "rnn.pt"})
    assert_runs_as(rnncalc.run(ex).to_dict(), decoy)


def test_the_command_lines_weights_win(cli, tmp_path, elsewhere):
    path = exercise(tmp_path / "class", "lstm", seed=1)
    assert_runs_as(run_json(cli, "lstm", "-c", str(path), "--weights", "lstm.pt"),
                   module("lstm", seed=99))
    path.write_text(path.read_text().replace("model.pt", "missing.pt"))  # not even looked for
    assert_runs_as(run_json(cli, "lstm", "-c", str(path), "-w", "lstm.pt"), module("lstm", 99))


def test_both_keys_name_both_lines(cli, tmp_path, elsewhere):
    path = exercise(tmp_path / "class")
    path.write_text(path.read_text() + "weights: {W_ii: [[1, 2]]}\n")
    message = f"{path}:3: weights_file: give weights (line 4) or weights_file (line 3), not both"
    assert one_line(cli("lstm", "-c", str(path))) == message
    assert one_line(cli("validate", str(path))) == message


def test_neither_key_says_weights_file_is_the_alternative(cli, tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text(f"cell: lstm\ninputs: {json.dumps(X)}\n")
    assert one_line(cli("lstm", "-c", str(path))) == (
        f"{path}:1: weights: missing required key 'weights' (or weights_file: a PyTorch "
        "state_dict file)")
    path.write_text(f"cell: lstm\ninputs: {json.dumps(X)}\nweights_fiel: model.pt\n")
    assert one_line(cli("validate", str(path))).startswith(
        f"{path}:3: weights_fiel: unknown key 'weights_fiel' (did you mean 'weights_file'?)")


@pytest.mark.parametrize("command", ["lstm", "validate"])
def test_a_missing_file_says_where_it_was_looked_for(cli, tmp_path, elsewhere, command):
    path = exercise(tmp_path / "class")
    (path.parent / "model.pt").unlink()
    args = ["-c", str(path)] if command == "lstm" else [str(path)]
    assert one_line(cli(command, *args)) == (
        f"{path}:3: weights_file: no such file 'model.pt' (looked in {path.parent})")


@pytest.mark.parametrize("value", [3, "''", "[model.pt]"])
def test_weights_file_must_be_a_name(cli, tmp_path, value):
    path = exercise(tmp_path, weights_file=str(value))
    assert one_line(cli("validate", str(path))).startswith(
        f"{path}:3: weights_file: expected the name of a PyTorch state_dict file (.pt) or a "
        "numpy .npz, got ")


@contextmanager
def deadline(seconds: int):
    """Fail, rather than hang, if the block takes longer (a FIFO opened for reading blocks)."""

    def expired(*_):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("target", ["fifo", "/dev/zero", "folder"])
def test_not_a_regular_file_is_refused_unread(cli, tmp_path, target, monkeypatch):
    monkeypatch.setenv("RNNCALC_ALLOW_OUTSIDE_PATHS", "0")  # restored after the flag sets it
    if target == "fifo":
        os.mkfifo(tmp_path / "fifo")
    elif target == "folder":
        (tmp_path / "folder").mkdir()
    path = exercise(tmp_path, weights_file=target)
    what = "is a directory" if target == "folder" else "is not a regular file"
    message = (f"{path}:3: weights_file: {target}: {what}; expected a PyTorch state_dict file "
               "(.pt)")
    allow = ("--allow-outside-paths",) if target.startswith("/") else ()
    with deadline(60):
        assert one_line(cli("lstm", "-c", str(path), *allow)) == message
        assert one_line(cli("validate", str(path), *allow)) == message


def test_over_the_size_limit_is_refused_unread(cli, tmp_path, monkeypatch):
    path = exercise(tmp_path)
    size = (tmp_path / "model.pt").stat().st_size
    monkeypatch.setenv("RNNCALC_MAX_VALUES", "1")
    monkeypatch.setenv("RNNCALC_MAX_CONFIG_BYTES", "1000")
    assert one_line(cli("validate", str(path))).startswith(
        f"{path}:3: weights_file: model.pt: {size:,} bytes, larger than the limit of 1,008")


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(cli, tmp_path):
    marker = tmp_path / "MARKER"
    path = exercise(tmp_path)
    torch.save({"weight_ih_l0": _OpensAFile(marker)}, tmp_path / "model.pt")
    message = one_line(cli("lstm", "-c", str(path)))
    assert message.startswith(f"{path}:3: weights_file: model.pt: refused: it holds Python "
                              "objects other than tensors")
    assert "nothing in it was run" in message
    assert not marker.exists()
    torch.load(tmp_path / "model.pt", weights_only=False)["weight_ih_l0"].close()
    assert marker.exists()  # the pickle does run code when loaded unsafely


def test_what_the_file_holds_is_checked_at_the_weights_file_line(cli, tmp_path):
    path = exercise(tmp_path, net=module("lstm", seed=0, input_size=4))  # X has 2 numbers
    assert one_line(cli("lstm", "-c", str(path))) == (
        f"{path}:3: weights_file: model.pt: weights.weight_ih_l0: expected shape [12, 2] "
        "(4*hidden x input, gates i|f|g|o stacked), got [12, 4]")
    torch.save([torch.zeros(2)], tmp_path / "model.pt")
    assert one_line(cli("lstm", "-c", str(path))) == (
        f"{path}:3: weights_file: model.pt: expected a state_dict (a mapping of names to tensors), "
        "got list")
    (tmp_path / "model.pt").write_bytes(b"not a zip, not a pickle")
    assert one_line(cli("lstm", "-c", str(path))).startswith(
        f"{path}:3: weights_file: model.pt: not a PyTorch state_dict file (torch.save)")


@pytest.mark.parametrize("layout", ["onnx", "keras"])
def test_a_config_in_an_onnx_or_keras_layout_refuses_it(cli, tmp_path, layout):
    path = exercise(tmp_path)
    path.write_text(f"layout: {layout}\n" + path.read_text())
    message = (f"{path}:4: weights_file: a state_dict is in PyTorch's layout, but this config is "
               f"written in layout: {layout} (line 1);")
    assert one_line(cli("lstm", "-c", str(path))).startswith(message)
    assert one_line(cli("validate", str(path))).startswith(message)


def test_run_reads_each_configs_own_model(cli, tmp_path, elsewhere):
    nets = [module("lstm", seed=5), module("gru", seed=6)]
    paths = [exercise(tmp_path / "alice", "lstm", net=nets[0]),
             exercise(tmp_path / "bob", "gru", net=nets[1]),
             exercise(tmp_path / "carol", "rnn")]
    (tmp_path / "carol" / "model.pt").unlink()
    relative = [os.path.relpath(p) for p in paths]  # ../alice/my.yaml, ...
    result = cli("run", *relative, "-f", "jsonl")
    assert result.exit_code == 3, result.stderr
    alice, bob, carol = (json.loads(line) for line in result.stdout.splitlines())
    assert_runs_as(alice, nets[0])
    assert_runs_as(bob, nets[1])
    assert carol == {"path": relative[2], "exit_code": 3, "line": 3, "field": "weights_file",
                     "error": f"{relative[2]}:3: weights_file: no such file 'model.pt' "
                     f"(looked in {paths[2].parent})"}


def test_convert_writes_the_files_weights(cli, tmp_path, elsewhere):
    net = module("lstm", seed=7)
    path = exercise(tmp_path / "class", net=net)
    result = cli("convert", str(path), "--to", "per-gate")
    assert result.exit_code == 0, result.stderr
    assert "with the weights of model.pt" in result.stdout.splitlines()[0]
    assert "weights_file" not in result.stdout
    sheet = elsewhere / "sheet.yaml"
    sheet.write_text(result.stdout)
    assert_runs_as(run_json(cli, "lstm", "-c", str(sheet)), net)


def test_validate_does_not_import_torch(tmp_path):
    good = exercise(tmp_path / "good")
    missing = exercise(tmp_path / "missing")
    (missing.parent / "model.pt").unlink()
    assert _probe([["validate", str(good)], ["validate", str(missing)]]) == [[0, False],
                                                                             [3, False]]
    # the probe can see torch: computing loads the file
    assert _probe([["lstm", "-c", str(good)]]) == [[0, True]]
