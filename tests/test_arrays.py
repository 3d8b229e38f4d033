"""Inputs and weights from numpy's files (issue 18, "Input at length"): ``inputs_file:`` (.npy or
.npz) and a .npz of state_dict names as ``weights_file:`` or ``--weights``.

Golden values: the torch.nn module whose parameters were saved, run on the saved inputs in
float64; and the same exercise written out in YAML, whose whole trace must be the file's. Every
refusal is one line, exit 3, from a cell command and from ``validate`` alike, and nothing in a
refused file is run or quoted.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import rnncalc
from rnncalc.errors import one_line as cut
from tests.conftest import CONFIGS
from tests.test_errors import one_line
from tests.test_startup import _probe
from tests.test_weightfile import _OpensAFile
from tests.test_weights_file import deadline

MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
RNG = np.random.default_rng(18)
X = RNG.standard_normal((7, 3))


def net(cell: str = "lstm", seed: int = 0, **options) -> torch.nn.Module:
    torch.manual_seed(seed)
    return MODULES[cell](3, 4, **options).double()


def state(module: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def write(folder: Path, name: str, config: dict) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def as_yaml(folder: Path, module: torch.nn.Module, cell: str, x: np.ndarray, **more) -> Path:
    """The same exercise with every number written in YAML (repr: the float64 exactly)."""
    weights = {k: v.tolist() for k, v in state(module).items()}
    return write(folder, "inline.yaml", {"cell": cell, "inputs": x.tolist(), "weights": weights,
                                         **more})


def run(cli, *args: str) -> dict:
    result = cli(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """The exercise's folder; the working directory is another, so names resolve against the
    config's folder or not at all."""
    (tmp_path / "class").mkdir()
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("RNNCALC_ALLOW_OUTSIDE_PATHS", "0")  # restored after a flag sets it
    return tmp_path / "class"


@pytest.mark.parametrize("cell", sorted(MODULES))
def test_npy_inputs_and_npz_weights_run_as_the_module_and_the_yaml(cli, folder, cell):
    module = net(cell, seed=1)
    np.save(folder / "x.npy", X)
    np.savez(folder / "w.npz", **state(module))
    path = write(folder, "ex.yaml", {"cell": cell, "inputs_file": "x.npy", "weights_file": "w.npz"})
    got = run(cli, cell, "-c", str(path))
    with torch.no_grad():
        output, h_n = module(torch.tensor(X))
    h_n = h_n[0] if isinstance(h_n, tuple) else h_n
    assert torch.allclose(torch.tensor(got["output"], dtype=torch.float64), output, atol=1e-12)
    assert torch.allclose(torch.tensor(got["h_n"], dtype=torch.float64), h_n, atol=1e-12)
    assert got == run(cli, cell, "-c", str(as_yaml(folder, module, cell, X)))  # the whole trace
    # --weights on the command line reads the .npz as it reads a .pt
    torch.save(module.state_dict(), folder / "w.pt")
    assert run(cli, cell, "-c", str(path), "--weights", str(folder / "w.npz")) == \
        run(cli, cell, "-c", str(path), "--weights", str(folder / "w.pt")) == got


def test_npz_inputs_with_a_target_give_the_yamls_gradients(cli, folder):
    module = net("lstm", seed=2)
    head = {"task": "regression", "W": [[0.5, -1.0, 0.25, 2.0]], "b": [0.1]}
    np.savez(folder / "data.npz", inputs=X, target=np.array([0.75]))
    np.savez(folder / "w.npz", **state(module))
    path = write(folder, "ex.yaml", {"cell": "lstm", "inputs_file": "data.npz",
                                     "weights_file": "w.npz", "head": head,
                                     "loss": {"type": "mse"}})
    inline = as_yaml(folder, module, "lstm", X, head=head,
                     loss={"type": "mse", "target": [0.75]})
    assert run(cli, "grad", "-c", str(path)) == run(cli, "grad", "-c", str(inline))
    # the check can fail: another target gives other gradients
    other = as_yaml(folder, module, "lstm", X, head=head, loss={"type": "mse", "target": [0.5]})
    assert run(cli, "grad", "-c", str(path)) != run(cli, "grad", "-c", str(other))


def test_one_npz_holds_the_weights_and_the_inputs(cli, folder):
    module = net("gru", seed=3)
    np.savez(folder / "all.npz", inputs=X, **state(module))
    path = write(folder, "ex.yaml", {"cell": "gru", "inputs_file": "all.npz",
                                     "weights_file": "all.npz"})
    assert run(cli, "gru", "-c", str(path)) == \
        run(cli, "gru", "-c", str(as_yaml(folder, module, "gru", X)))


def test_a_three_dimensional_array_is_a_batch(cli, folder):
    module = net("rnn", seed=4)
    xs = RNG.standard_normal((2, 3, 3))
    np.save(folder / "xs.npy", xs)
    np.savez(folder / "w.npz", **state(module))
    path = write(folder, "ex.yaml", {"cell": "rnn", "inputs_file": "xs.npy",
                                     "weights_file": "w.npz", "sequence_lens": [3, 2]})
    weights = {k: v.tolist() for k, v in state(module).items()}
    inline = write(folder, "inline.yaml", {"cell": "rnn", "weights": weights,
                                           "batch": [x.tolist() for x in xs],
                                           "sequence_lens": [3, 2]})
    assert run(cli, "rnn", "-c", str(path)) == run(cli, "rnn", "-c", str(inline))
    assert one_line(cli("run", str(path))) == (  # run takes one sequence per config
        f"{path}:2: inputs_file: this config holds a batch of sequences; the cell commands and "
        "rnncalc grad run it (from Python: rnncalc.load(..., batch=True))")


@pytest.mark.parametrize("dtype", ["float32", "float16", "int64", ">f8", "uint8"])
def test_any_integer_or_float_dtype_reads_as_its_numbers(cli, folder, dtype):
    x = (X * 4).round().astype(dtype)
    np.save(folder / "x.npy", np.asfortranarray(x))  # a Fortran-ordered file reads the same
    np.savez(folder / "w.npz", **state(net()))
    path = write(folder, "ex.yaml", {"cell": "lstm", "inputs_file": "x.npy",
                                     "weights_file": "w.npz"})
    written = x.astype(np.float64).tolist()
    inline = write(folder, "inline.yaml", {"cell": "lstm", "inputs": written,
                                           "weights_file": "w.npz"})
    assert run(cli, "lstm", "-c", str(path)) == run(cli, "lstm", "-c", str(inline))


def _bomb(path: Path, inflated: int) -> None:
    """A small .npz whose one member inflates to ``inflated`` bytes (zeros)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (inflated // 8, 1)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open("inputs.npy", "w", force_zip64=True) as member:
        member.write(header.getvalue())
        for _ in range(inflated >> 20):
            member.write(bytes(1 << 20))


def _lying_header(path: Path) -> None:
    """A .npy whose header claims 10^12 rows (8 TB): numpy would allocate them before reading."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 3)})
    path.write_bytes(header.getvalue() + bytes(48))


def _refusals(folder: Path) -> dict[str, tuple[str, str, dict]]:
    """name -> (the file's name, the message after ``inputs_file: ``, the config's other keys)."""
    marker = folder / "MARKER"
    np.save(folder / "pickle.npy", np.array([_OpensAFile(marker), None], dtype=object),
            allow_pickle=True)
    np.save(folder / "bool.npy", X > 0)
    np.save(folder / "complex.npy", X.astype(complex))
    np.save(folder / "text.npy", np.array([["SECRET"]]))
    np.save(folder / "record.npy", np.zeros(3, dtype=[("a", "<f8")]))
    np.save(folder / "flat.npy", X[:, 0])
    np.savez(folder / "target2.npz", inputs=X, target=np.array([0.5, 0.25]))
    nan = X.copy()
    nan[1, 2] = np.nan
    np.save(folder / "nan.npy", nan)
    batch = np.stack([X, X])
    batch[1, 0, 2] = np.inf
    np.save(folder / "inf3.npy", batch)
    np.savez(folder / "nokey.npz", input=X)
    np.savez(folder / "target.npz", inputs=X, target=np.array([0.5]))
    with zipfile.ZipFile(folder / "pickled.npz", "w") as archive:
        archive.writestr("inputs.pkl", b"cos\nsystem\n(S'echo SECRET'\ntR.")
    (folder / "junk.npy").write_bytes(b"\x93NUMPY\x01\x00SECRET SECRET")
    (folder / "junk.npz").write_bytes(b"PK SECRET")
    _lying_header(folder / "lying.npy")
    (folder / "link.npy").symlink_to(folder.parent / "x.npy")  # a link that leads out
    _bomb(folder / "bomb.npz", 170 << 20)  # 170 MiB of zeros in ~170 kB; the limit is 161 MB
    numbers = "expected numbers (an integer or float dtype), got dtype"
    return {
        "pickle": ("pickle.npy", f"pickle.npy: inputs: {numbers} object (Python objects, stored "
                   "as a pickle: never loaded)", {}),
        "bool": ("bool.npy", f"bool.npy: inputs: {numbers} 'bool'", {}),
        "complex": ("complex.npy", f"complex.npy: inputs: {numbers} 'complex128'", {}),
        "text": ("text.npy", f"text.npy: inputs: {numbers} '<U6'", {}),
        "record": ("record.npy", f"record.npy: inputs: {numbers} \"[('a', '<f8')]\"", {}),
        "flat": ("flat.npy", "flat.npy: inputs: expected 2 dimensions [T, input_size] (or 3: "
                 "[B, T, input_size] for a batch), got shape [7]; for one feature per step save "
                 "x.reshape(-1, 1)", {}),
        "target's size": ("target2.npz", "target2.npz: target: expected 1 numbers (one per "
                          "head output), got [0.5, 0.25]", {
            "head": {"task": "regression", "W": [[1, 1, 1, 1]]}, "loss": {"type": "mse"}}),
        "nan": ("nan.npy", "nan.npy: inputs[1][2]: expected a finite number, got nan", {}),
        "inf in a batch": ("inf3.npy", "inf3.npy: inputs[1][0][2]: expected a finite number, "
                           "got inf", {}),
        "missing key": ("nokey.npz", "nokey.npz: inputs: missing array 'inputs' "
                        "(numpy.savez(F, inputs=x, ...)); an .npz for inputs_file holds inputs, "
                        "and target or targets for the loss", {}),
        "target without loss": ("target.npz", "target.npz: target: a target needs the config's "
                                "loss: {type, reduction}", {}),
        "target twice": ("target.npz", "target.npz: target: the config's loss gives target "
                         "too; give the targets in the config or in this file, not both",
                         {"head": {"task": "regression", "W": [[1, 1, 1, 1]]},
                          "loss": {"type": "mse", "target": [1]}}),
        "pickled member": ("pickled.npz", "pickled.npz: expected numpy arrays (NAME.npy) only, "
                           "got a member named 'inputs.pkl'", {}),
        "not an array": ("junk.npy", "junk.npy: inputs: expected a numpy array (.npy format 1.0 "
                         "or 2.0, numpy.save), got bytes that are not one", {}),
        "not a zip": ("junk.npz", "junk.npz: not a numpy .npz file (numpy.savez): not a "
                      "readable zip archive", {}),
        "lying header": ("lying.npy", "lying.npy: inputs: expected 24,000,000,000,000 bytes of "
                         "data (shape [1000000000000, 3], float64), got 48", {}),
        "zip bomb": ("bomb.npz", "bomb.npz: inflates to 178,258,048 bytes (a zip archive of 1 "
                     "member), larger than the limit of 161,048,576 (8 bytes for each of "
                     "RNNCALC_MAX_VALUES numbers, plus RNNCALC_MAX_CONFIG_BYTES); nothing in it "
                     "was read", {}),
        "no such file": ("nope.npy", "no such file 'nope.npy' (looked in "
                         f"{folder})", {}),
        "a parent's file": ("../x.npy", "'../x.npy' is outside this config's folder, where a "
                            "config may name files; allow it with --allow-outside-paths", {}),
        "an absolute path": ("/etc/passwd", "'/etc/passwd' is outside this config's folder, "
                             "where a config may name files; allow it with "
                             "--allow-outside-paths", {}),
        "a link out": ("link.npy", "'link.npy' is outside this config's folder, where a "
                       "config may name files; allow it with --allow-outside-paths", {}),
        "the home folder": ("~/x.npy", "'~/x.npy' is outside this config's folder, where a "
                            "config may name files; allow it with --allow-outside-paths", {}),
    }


def test_every_refusal_is_one_line_exit_3_from_run_and_validate(cli, folder):
    np.savez(folder / "w.npz", **state(net()))
    np.save(folder.parent / "x.npy", X)
    for name, (file, message, more) in _refusals(folder).items():
        path = write(folder, "ex.yaml", {"cell": "lstm", "weights_file": "w.npz",
                                         "inputs_file": file, **more})
        want = cut(f"{path}:3: inputs_file: {message}")  # as long as the temporary path allows
        with deadline(60):
            assert one_line(cli("lstm", "-c", str(path))) == want, name
            assert one_line(cli("validate", str(path))) == want, name
        assert "SECRET" not in want  # the file's contents are never quoted
    assert not (folder / "MARKER").exists()  # nothing in the pickle ran
    np.load(folder / "pickle.npy", allow_pickle=True)[0].close()  # an unsafe load runs it:
    assert (folder / "MARKER").exists()  # so the check above can fail


@pytest.mark.parametrize("other", ["inputs", "batch"])
def test_inputs_file_and_inputs_or_batch_is_an_error(cli, folder, other):
    np.save(folder / "x.npy", X)
    path = folder / "ex.yaml"
    path.write_text(f"cell: lstm\ninputs_file: x.npy\n{other}: {json.dumps([X.tolist()])}\n"
                    "weights: {weight_ih_l0: [[1, 2, 3]], weight_hh_l0: [[1]]}\n")
    want = f"{path}:2: inputs_file: give {other} (line 3) or inputs_file (line 2), not both"
    assert one_line(cli("lstm", "-c", str(path))) == want
    assert one_line(cli("validate", str(path))) == want


@pytest.mark.parametrize("target", ["fifo", "/dev/zero", "folder"])
def test_not_a_regular_file_is_refused_unread(cli, folder, target):
    if target == "fifo":
        os.mkfifo(folder / "fifo")
    elif target == "folder":
        (folder / "folder").mkdir()
    np.savez(folder / "w.npz", **state(net()))
    path = write(folder, "ex.yaml", {"cell": "lstm", "weights_file": "w.npz",
                                     "inputs_file": target})
    what = "is a directory" if target == "folder" else "is not a regular file"
    want = f"{path}:3: inputs_file: {target}: {what}; expected a numpy file (.npy or .npz)"
    with deadline(60):
        assert one_line(cli("lstm", "-c", str(path), "--allow-outside-paths")) == want
        assert one_line(cli("validate", str(path), "--allow-outside-paths")) == want


def test_a_file_over_the_size_limit_is_refused_unread(cli, folder, monkeypatch):
    np.save(folder / "x.npy", X)
    np.savez(folder / "w.npz", **state(net()))
    path = folder / "ex.yaml"  # 80 bytes: within the limit
    path.write_text("cell: rnn\ninputs_file: x.npy\nweights: {W_ih: [[1, 2, 3]], W_hh: [[1]]}\n")
    monkeypatch.setenv("RNNCALC_MAX_VALUES", "10")
    monkeypatch.setenv("RNNCALC_MAX_CONFIG_BYTES", "100")
    limit = ("larger than the limit of 180 (8 bytes for each of RNNCALC_MAX_VALUES numbers, plus "
             "RNNCALC_MAX_CONFIG_BYTES); raise them to load it")
    size = (folder / "x.npy").stat().st_size
    assert one_line(cli("lstm", "-c", str(path))) == \
        f"{path}:2: inputs_file: x.npy: {size:,} bytes, {limit}"
    size = (folder / "w.npz").stat().st_size
    assert one_line(cli("lstm", "--weights", str(folder / "w.npz"))) == \
        f"{folder / 'w.npz'}: {size:,} bytes, {limit}"


def test_a_bad_weights_npz_says_what_a_bad_pt_says(cli, folder):
    """The same checks as a state_dict file's, the same words: only the file's name differs."""
    module = net("lstm", seed=5)
    np.save(folder / "x.npy", X)
    for name, change in [("nan", lambda w: w.__setitem__((0, 1), np.nan)),
                         ("shape", None), ("unknown", None)]:
        weights = state(module)
        if name == "nan":
            weights["weight_hh_l0"] = weights["weight_hh_l0"].copy()
            change(weights["weight_hh_l0"])
        elif name == "shape":
            weights["weight_hh_l0"] = weights["weight_hh_l0"][:, :3]
        else:
            weights["weight_xx_l0"] = weights.pop("weight_hh_l0")
        np.savez(folder / "w.npz", **weights)
        torch.save({k: torch.from_numpy(v) for k, v in weights.items()}, folder / "w.pt")
        said = []
        for file in ("w.npz", "w.pt"):
            path = write(folder, "ex.yaml", {"cell": "lstm", "inputs_file": "x.npy",
                                             "weights_file": file})
            said.append(one_line(cli("lstm", "-c", str(path))).replace(file, "FILE"))
        assert said[0] == said[1], name
        assert said[0].startswith(f"{path}:3: weights_file: FILE: weights."), said[0]


def test_a_npz_without_weights_is_refused(cli, folder):
    np.savez(folder / "x.npz", inputs=X)
    assert one_line(cli("lstm", "--weights", str(folder / "x.npz"))) == (
        f"{folder / 'x.npz'}: expected weights under state_dict names (numpy.savez(F, "
        "weight_ih_l0=..., ...)), got only inputs")


def test_validate_reads_numpy_files_without_torch(folder):
    np.save(folder / "x.npy", X)
    np.savez(folder / "w.npz", **state(net()))
    good = write(folder, "good.yaml", {"cell": "lstm", "inputs_file": "x.npy",
                                       "weights_file": "w.npz"})
    np.save(folder / "bad.npy", np.hstack([X, X]))
    bad = write(folder, "bad.yaml", {"cell": "lstm", "inputs_file": "bad.npy",
                                     "weights_file": "w.npz"})
    assert _probe([["validate", str(good)], ["validate", str(bad)]]) == [[0, False], [3, False]]
    # the probe can see torch (--round computes on torch; a small exercise alone, on numpy)
    assert _probe([["lstm", "-c", str(good), "--round", "4"]]) == [[0, True]]


def test_the_shipped_example_runs_as_the_module(cli):
    """configs/lstm_long.yaml: its inputs and weights in one .npz, its target too."""
    arrays = dict(np.load(CONFIGS / "lstm_long.npz"))
    module = torch.nn.LSTM(3, 4).double()
    module.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()
                            if k not in ("inputs", "target")})
    with torch.no_grad():
        output, _ = module(torch.from_numpy(arrays["inputs"]))
    got = run(cli, "lstm", "-c", str(CONFIGS / "lstm_long.yaml"))
    assert torch.allclose(torch.tensor(got["output"], dtype=torch.float64), output, atol=1e-12)
    y = output[-1] @ torch.tensor([1, -1, 0.5, 0.5], dtype=torch.float64)
    loss = run(cli, "grad", "-c", str(CONFIGS / "lstm_long.yaml"))["grad"]["loss"]
    assert abs(loss - float((y - arrays["target"][0]) ** 2)) < 1e-12


def test_finite_numbers_whose_sum_overflows_are_kept(folder):
    """The builder's quick pass over a row of floats (a finite sum) falls back to checking each
    number when the sum overflows: 1e308 twice is a sum of inf, each number finite."""
    np.save(folder / "x.npy", np.array([[1e308, 1e308, 1.0], [np.pi, -1e308, 0.0]]))
    path = write(folder, "ex.yaml", {"cell": "rnn", "inputs_file": "x.npy",
                                     "weights": {"W_ih": [[0.0, 0.0, 0.5]], "W_hh": [[0.5]]}})
    assert rnncalc.load(path).inputs == ((1e308, 1e308, 1.0), (np.pi, -1e308, 0.0))


def test_a_batchs_targets_are_one_entry_per_sequence(cli, folder):
    module = net("gru", seed=6)
    head = {"task": "regression", "W": [[0.5, -1.0, 0.25, 2.0]], "b": [0.1]}
    xs, targets = RNG.standard_normal((3, 4, 3)), np.array([[0.5], [-0.25], [1.0]])
    np.savez(folder / "data.npz", inputs=xs, target=targets)
    np.savez(folder / "w.npz", **state(module))
    path = write(folder, "ex.yaml", {"cell": "gru", "inputs_file": "data.npz",
                                     "weights_file": "w.npz", "head": head,
                                     "loss": {"type": "mse"}})
    weights = {k: v.tolist() for k, v in state(module).items()}
    inline = write(folder, "inline.yaml", {
        "cell": "gru", "weights": weights, "head": head, "loss": {"type": "mse"},
        "batch": [{"inputs": x.tolist(), "target": t.tolist()}
                  for x, t in zip(xs, targets, strict=True)]})
    assert run(cli, "grad", "-c", str(path)) == run(cli, "grad", "-c", str(inline))
    # the check can fail: the targets in another order give another loss
    swapped = write(folder, "swapped.yaml", {
        "cell": "gru", "weights": weights, "head": head, "loss": {"type": "mse"},
        "batch": [{"inputs": x.tolist(), "target": t.tolist()}
                  for x, t in zip(xs, targets[::-1], strict=True)]})
    assert run(cli, "grad", "-c", str(path)) != run(cli, "grad", "-c", str(swapped))
