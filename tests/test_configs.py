"""Configs: every shipped file runs; the weight forms agree; the core's bad configs are named."""

from __future__ import annotations

import pytest
import torch
import yaml

import rnncalc
from rnncalc.errors import ExitCode
from tests.conftest import CONFIGS

SEED = yaml.safe_load((CONFIGS / "lstm.yaml").read_text())


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_runs(path):
    trace = rnncalc.run(rnncalc.load(path))
    assert trace.output.shape[0] == trace.exercise.steps


def test_stacked_example_matches_torch_rnn():
    ex = rnncalc.load(CONFIGS / "rnn_stacked.yaml")
    rnn = torch.nn.RNN(3, 2, num_layers=2, dtype=torch.float64)
    state = {
        "weight_ih_l0": [[-1, 0, 0.5], [1, 0, -0.5]],
        "weight_hh_l0": [[0, -1], [0, -1]],
        "bias_ih_l0": [1, 1],
        "bias_hh_l0": [1, 1],
        "weight_ih_l1": [[1, -1], [0.5, 0.5]],
        "weight_hh_l1": [[0.5, 0], [0, 0.5]],
        "bias_ih_l1": [0, -0.5],
        "bias_hh_l1": [0, 0],
    }
    rnn.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in state.items()})
    x = torch.tensor([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=torch.float64)
    with torch.no_grad():
        out, h_n = rnn(x)
    trace = rnncalc.run(ex)
    assert torch.allclose(trace.output, out, atol=1e-12) and torch.allclose(
        trace.h_n, h_n, atol=1e-12
    )
    # the head: y = [1, -1] . h_2 of the top layer
    assert abs(trace.to_dict()["head"]["y"][0] - float(out[-1, 0] - out[-1, 1])) < 1e-12


def _state_dict_form(per_gate: dict, gates: str) -> dict:
    """Stack per-gate matrices as PyTorch does (written here, independently of the builder)."""
    return {
        "weight_ih_l0": [row for g in gates for row in per_gate[f"W_i{g}"]],
        "weight_hh_l0": [row for g in gates for row in per_gate[f"W_h{g}"]],
    }


def test_per_gate_and_state_dict_forms_give_identical_traces():
    per_gate = rnncalc.run(rnncalc.load(SEED)).to_dict()
    stacked = rnncalc.run(
        rnncalc.load({**SEED, "weights": _state_dict_form(SEED["weights"], "ifgo")})
    )
    assert stacked.to_dict() == per_gate


def test_grouped_per_gate_form_equals_direct_form():
    direct = rnncalc.run(rnncalc.load(SEED)).to_dict()
    grouped = rnncalc.run(rnncalc.load({**SEED, "weights": {"l0": SEED["weights"]}})).to_dict()
    assert grouped == direct


def test_bias_number_applies_to_every_unit_and_missing_hidden_bias_is_zero():
    rnn = yaml.safe_load((CONFIGS / "rnn_hidden.yaml").read_text())
    # b_ih = 1 and b_hh = 1 for every unit equals b_ih = [2, 2] with no b_hh (one bias per unit)
    one = {**rnn, "weights": {**rnn["weights"], "b_ih": [2, 2]}}
    del one["weights"]["b_hh"]
    h_one = rnncalc.run(rnncalc.load(one)).layers[0].directions["forward"].h
    h_two = rnncalc.run(rnncalc.load(rnn)).layers[0].directions["forward"].h
    assert torch.allclose(h_one, h_two, atol=1e-15, rtol=0)


def test_initial_state_one_vector_or_one_per_layer_and_direction():
    # h_0 = tanh(W_ih x_0 + 2 + W_hh h_init); with h_init = [1, 1]: W_hh h = [-1, -1]
    rnn = yaml.safe_load((CONFIGS / "rnn_hidden.yaml").read_text())
    trace = rnncalc.run(rnncalc.load({**rnn, "initial": {"h": [1, 1]}}))
    import math

    assert trace.layers[0].directions["forward"].h[0].tolist() == pytest.approx(
        [math.tanh(2.5 - 1), math.tanh(1.5 - 1)], abs=1e-15
    )


def write(tmp_path, text):
    path = tmp_path / "ex.yaml"
    path.write_text(text)
    return str(path)


LSTM_TEXT = (CONFIGS / "lstm.yaml").read_text()


@pytest.mark.parametrize(
    "old,new,where,expected",
    [
        (
            "W_hf: [[0, 1], [0, -1]]",
            "W_hf: [[0, 1, 0], [0, -1, 0]]",
            ":14: weights.W_hf: ",
            "expected shape [2, 2] (hidden x hidden), got [2, 3]",
        ),
        ("cell: lstm", "cell: rnn", ":4: cell: ", "this config is for 'rnn', not 'lstm'"),
        ("weights:", "wieghts:", ":10: wieghts: ", "did you mean 'weights'?"),
        ("W_hf: ", "W_fh: ", ":14: weights.W_fh: ", "did you mean 'W_hf'?"),
        ("  - [4, 5, 6]", "  - [4, 5]", ":8: inputs[1]: ", "row 1 has 2 numbers but row 0 has 3"),
        ("bias: false", "bias: maybe", ":5: bias: ", "expected true or false, got 'maybe'"),
    ],
)
def test_bad_config_names_file_line_and_field(cli, tmp_path, old, new, where, expected):
    assert old in LSTM_TEXT
    path = write(tmp_path, LSTM_TEXT.replace(old, new, 1))
    result = cli("lstm", "--config", path)
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(path + where), message
    assert expected in message


def test_bidirectional_needs_backward_weights_or_sharing(cli, tmp_path):
    path = write(tmp_path, LSTM_TEXT.replace("bias: false", "bias: false\nbidirectional: true"))
    result = cli("lstm", "-c", path)
    assert (
        result.exit_code == 3
        and "l0_reverse" in result.stderr
        and "share_directions" in result.stderr
    )


def test_head_width_must_match_top_layer(cli, tmp_path):
    path = write(tmp_path, LSTM_TEXT + "head: {task: regression, W: [[1, 2, 3]], b: 0}\n")
    result = cli("lstm", "-c", path)
    assert result.exit_code == 3 and "head.W: expected 2 columns" in result.stderr


def test_usage_errors_exit_2(cli):
    assert cli("rnn", "--format", "xml").exit_code == ExitCode.USAGE
    assert cli("rnn", "--no-such-option").exit_code == ExitCode.USAGE


def test_help_shows_examples(cli):
    for args, example in (
        (["--help"], "rnncalc lstm --step-by-step"),
        (["rnn", "--help"], "rnncalc rnn --task labeling"),
        (["lstm", "--help"], "rnncalc lstm --step-by-step"),
    ):
        result = cli(*args)
        assert result.exit_code == 0 and "Examples:" in result.stdout
        assert example in " ".join(result.stdout.split()), args
