"""``--weights model.pt``: a PyTorch state_dict, loaded with weights_only=True, checked like YAML.

Golden values come from the very torch.nn module whose state_dict was saved, run on the same
inputs in float64.
"""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from tests.conftest import CONFIGS
from tests.test_errors import one_line

SEED_X = torch.tensor([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=torch.float64)


def saved(tmp_path, obj, name="model.pt"):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def run_json(cli, *args):
    result = cli(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(("cell", "module"), [("rnn", torch.nn.RNN), ("lstm", torch.nn.LSTM),
                                            ("gru", torch.nn.GRU)])
def test_state_dict_runs_as_the_module_does(cli, tmp_path, cell, module):
    torch.manual_seed(0)
    net = module(3, 2).double()
    path = saved(tmp_path, net.state_dict())
    out = run_json(cli, cell, "--weights", str(path))  # the default exercise's inputs
    want, h_n = net(SEED_X)
    assert torch.allclose(torch.tensor(out["output"], dtype=torch.float64), want.detach(),
                          atol=1e-12)
    if cell == "lstm":  # (h_n, c_n)
        h_n, c_n = h_n
        assert torch.allclose(torch.tensor(out["c_n"], dtype=torch.float64), c_n.detach(),
                              atol=1e-12)
    assert torch.allclose(torch.tensor(out["h_n"], dtype=torch.float64), h_n.detach(), atol=1e-12)


@pytest.mark.parametrize("options", [(), ("--bidirectional",)])
def test_without_a_config_only_the_seeds_inputs_are_used(cli, tmp_path, options):
    """The default rnn seed has a head written for its 2 units (and its bidirectional one shares
    its directions): a trained net of 4 units, two layers, both directions runs as the module
    does, with no head of made-up numbers."""
    torch.manual_seed(3)
    rnn = torch.nn.RNN(3, 4, num_layers=2, bidirectional=True).double()
    path = saved(tmp_path, rnn.state_dict())
    out = run_json(cli, "rnn", "-w", str(path), *options)
    want, h_n = rnn(SEED_X)
    assert "head" not in out and out["sizes"]["hidden"] == 4
    assert torch.allclose(torch.tensor(out["output"], dtype=torch.float64), want.detach(),
                          atol=1e-12)
    assert torch.allclose(torch.tensor(out["h_n"], dtype=torch.float64), h_n.detach(), atol=1e-12)


def test_a_projected_lstm_state_dict_sets_proj_size(cli, tmp_path):
    """weight_hr_l0 is [proj_size, hidden]: the file says it, as it says layers and directions."""
    torch.manual_seed(4)
    lstm = torch.nn.LSTM(3, 3, num_layers=2, proj_size=2).double()
    path = saved(tmp_path, lstm.state_dict())
    out = run_json(cli, "lstm", "-w", str(path))
    want, (h_n, c_n) = lstm(SEED_X)
    assert torch.allclose(torch.tensor(out["output"], dtype=torch.float64), want.detach(),
                          atol=1e-12)
    assert torch.allclose(torch.tensor(out["h_n"], dtype=torch.float64), h_n.detach(), atol=1e-12)
    assert torch.allclose(torch.tensor(out["c_n"], dtype=torch.float64), c_n.detach(), atol=1e-12)


def test_stacked_bidirectional_state_dict_sets_layers_and_directions(cli, tmp_path):
    torch.manual_seed(1)
    rnn = torch.nn.RNN(3, 2, num_layers=2, bidirectional=True).double()
    path = saved(tmp_path, {f"encoder.{k}": v for k, v in rnn.state_dict().items()})  # prefix
    out = run_json(cli, "rnn", "-c", str(CONFIGS / "rnn_hidden.yaml"), "-w", str(path))
    want, h_n = rnn(SEED_X)
    assert out["sizes"]["layers"] == 2 and out["sizes"]["directions"] == 2
    assert torch.allclose(torch.tensor(out["output"], dtype=torch.float64), want.detach(),
                          atol=1e-12)
    assert torch.allclose(torch.tensor(out["h_n"], dtype=torch.float64), h_n.detach(), atol=1e-12)


class _OpensAFile:
    """Unpickling this calls open(marker, "w"): it creates the marker if the pickle runs code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("wrap", [lambda evil: {"weight_ih_l0": evil}, lambda evil: evil])
def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(cli, tmp_path, wrap):
    marker = tmp_path / "MARKER"
    path = saved(tmp_path, wrap(_OpensAFile(marker)))
    message = one_line(cli("lstm", "--weights", str(path)))
    assert message.startswith(f"{path}: refused: it holds Python objects other than tensors")
    assert "GLOBAL io.open" in message and "nothing in it was run" in message
    assert not marker.exists()
    # the marker works: an unsafe load does run the pickle's code (so the check above can fail)
    opened = torch.load(path, weights_only=False)
    assert marker.exists()
    (opened["weight_ih_l0"] if isinstance(opened, dict) else opened).close()


def test_a_plain_pickle_is_refused_too(cli, tmp_path):
    marker = tmp_path / "MARKER"
    path = tmp_path / "raw.pkl"
    path.write_bytes(pickle.dumps(_OpensAFile(marker)))
    assert one_line(cli("lstm", "-w", str(path))).startswith(
        f"{path}: not a PyTorch state_dict file (torch.save): neither a readable zip archive")
    assert not marker.exists()


def test_shape_errors_name_the_file_and_the_state_dict_key(cli, tmp_path):
    path = saved(tmp_path, torch.nn.LSTM(4, 2).state_dict())  # the seed's inputs have 3 numbers
    assert one_line(cli("lstm", "-w", str(path))) == (
        f"{path}: weights.weight_ih_l0: expected shape [8, 3] (4*hidden x input, gates i|f|g|o "
        "stacked), got [8, 4]")


def test_bad_values_name_the_file_and_the_key(cli, tmp_path):
    state = torch.nn.RNN(3, 2).double().state_dict()
    state["bias_hh_l0"][1] = float("nan")
    path = saved(tmp_path, state)
    assert one_line(cli("rnn", "-w", str(path))) == (
        f"{path}: weights.bias_hh_l0[1]: expected a finite number, got nan")


def test_unknown_key_names_the_file(cli, tmp_path):
    state = dict(torch.nn.RNN(3, 2).state_dict())
    state["weight_ih_l0_reversed"] = state.pop("weight_ih_l0")
    path = saved(tmp_path, state)
    message = one_line(cli("rnn", "-w", str(path)))
    assert message.startswith(f"{path}: weights.weight_ih_l0_reversed: unknown PyTorch state_dict "
                              "weight name 'weight_ih_l0_reversed'; did you mean 'weight_ih_l0'?")


@pytest.mark.parametrize(("obj", "words"), [
    ([torch.zeros(2)], "expected a state_dict (a mapping of names to tensors), got list"),
    ({}, "expected a state_dict (a mapping of names to tensors), got dict (empty)"),
    ({"weight_ih_l0": [1.0, 2.0]}, "weight_ih_l0: expected a tensor, got list"),
])
def test_files_that_are_not_state_dicts(cli, tmp_path, obj, words):
    path = saved(tmp_path, obj)
    assert one_line(cli("rnn", "-w", str(path))) == f"{path}: {words}"


def test_garbage_missing_and_directory(cli, tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a zip, not a pickle")
    assert one_line(cli("rnn", "-w", str(garbage))).startswith(
        f"{garbage}: not a PyTorch state_dict file (torch.save)")
    missing = tmp_path / "missing.pt"
    assert one_line(cli("rnn", "-w", str(missing))) == (
        f"{missing}: no such file; expected a PyTorch state_dict file (.pt)")
    assert one_line(cli("rnn", "-w", str(tmp_path))) == (
        f"{tmp_path}: is a directory; expected a PyTorch state_dict file (.pt)")


def test_weight_file_over_the_size_limit_is_refused_unread(cli, tmp_path, monkeypatch):
    path = saved(tmp_path, torch.nn.RNN(3, 2).state_dict())
    monkeypatch.setenv("RNNCALC_MAX_VALUES", "1")
    monkeypatch.setenv("RNNCALC_MAX_CONFIG_BYTES", "10")
    message = one_line(cli("rnn", "-w", str(path)))
    assert message.startswith(f"{path}: {path.stat().st_size:,} bytes, larger than the limit of 18")


def test_a_config_in_an_onnx_or_keras_layout_refuses_a_state_dict(cli, tmp_path):
    path = saved(tmp_path, torch.nn.LSTM(3, 2).double().state_dict())
    result = cli("lstm", "-c", str(CONFIGS / "lstm_onnx.yaml"), "--weights", str(path))
    assert result.exit_code == 3
    message = one_line(result)
    assert "lstm_onnx.yaml:" in message and "layout: onnx" in message and "convert" in message


def test_a_config_in_the_concat_layout_takes_a_state_dict(cli, tmp_path):
    """The sheet's writing (layout: concat, concat: [h, x]) goes with its own weights."""
    torch.manual_seed(2)
    net = torch.nn.GRU(3, 2).double()
    path = saved(tmp_path, net.state_dict())
    config = tmp_path / "concat.yaml"
    config.write_text(json.dumps({
        "cell": "gru", "layout": "concat", "concat": ["h", "x"], "inputs": SEED_X.tolist(),
        "weights": {g: [[0.0] * 5] * 2 for g in ("W_r", "W_z", "W_n")}}))
    out = run_json(cli, "gru", "-c", str(config), "-w", str(path))
    want, _ = net(SEED_X)
    assert torch.allclose(torch.tensor(out["output"], dtype=torch.float64), want.detach(),
                          atol=1e-12)
