"""Every figure the seed notebook prints (../shared/seed/README.md), through the CLI and the API.

The expected numbers are the seed's own printed figures, typed in here from its README.
"""

from __future__ import annotations

import json

import pytest

import rnncalc
from tests.conftest import CONFIGS, ROOT


def r4(values):
    return [round(v, 4) for v in values]


def forward_h(d, layer=0, direction="forward"):
    return [r4(s["h"]) for s in d["layers"][layer]["directions"][direction]]


SEED_H = [[0.9866, 0.9051], [0.0946, 0.9702], [-0.8996, 0.9983]]


def json_of(cli, *args):
    result = cli(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "args", [("rnn",), ("rnn", "--config", str(CONFIGS / "rnn_regression.yaml"))]
)
def test_rnn_hidden_states_and_regression(cli, args):
    d = json_of(cli, *args)
    assert forward_h(d) == SEED_H
    assert round(d["head"]["y"][0], 4) == 0.9983


def test_rnn_hidden_only_config(cli):
    d = json_of(cli, "rnn", "--config", str(CONFIGS / "rnn_hidden.yaml"))
    assert forward_h(d) == SEED_H and "head" not in d


@pytest.mark.parametrize(
    "args", [("rnn", "--task", "labeling"), ("rnn", "-c", str(CONFIGS / "rnn_labeling.yaml"))]
)
def test_rnn_labeling(cli, args):
    steps = json_of(cli, *args)["head"]["steps"]
    assert [r4(s["probs"]) for s in steps] == [[0.4796, 0.5204], [0.7059, 0.2941], [0.8697, 0.1303]]
    assert [s["label"] for s in steps] == [1, 0, 0]


@pytest.mark.parametrize(
    "args", [("rnn", "--bidirectional"), ("rnn", "-c", str(CONFIGS / "rnn_bidirectional.yaml"))]
)
def test_rnn_bidirectional(cli, args):
    d = json_of(cli, *args)
    backward = {s["t"]: s["h"] for s in d["layers"][0]["directions"]["backward"]}
    assert [s["t"] for s in d["layers"][0]["directions"]["backward"]] == [2, 1, 0]
    assert r4(backward[2]) == [-0.4621, 0.9998]
    assert r4(backward[1]) == [0.0002, 0.9640]
    assert r4(backward[0]) == [0.9114, 0.4899]
    assert [round(s["y"][0], 4) for s in d["head"]["steps"]] == [4.2931, 3.0290, 1.6363]
    assert round(d["head"]["y"][0], 4) == 2.5000


def test_bidirectional_float32_prints_the_seeds_scientific_figures(cli):
    """The notebook ran in float32: its 2.4676e-04 is 1 - tanh(4.5) after float32 cancellation.

    In float64 the same value is 1 - tanh(4.5) = 1 - 0.99975321 = 2.4679e-04 (worked by hand), so
    the seed's scientific figures come back with --dtype float32; float64 agrees to 4 places.
    """
    d = json_of(cli, "rnn", "--bidirectional", "--dtype", "float32")
    at_1 = next(s["h"] for s in d["layers"][0]["directions"]["backward"] if s["t"] == 1)
    assert [f"{v:.4e}" for v in at_1] == ["2.4676e-04", "9.6404e-01"]
    d64 = json_of(cli, "rnn", "--bidirectional")
    at_1 = next(s["h"] for s in d64["layers"][0]["directions"]["backward"] if s["t"] == 1)
    assert f"{at_1[0]:.4e}" == f"{1 - __import__('math').tanh(4.5):.4e}" == "2.4679e-04"


LSTM_PRE_T0 = {"i": [0.5, -2.5], "f": [2.5, -0.5], "g": [-0.5, -0.5], "o": [4.5, -2.5]}


@pytest.mark.parametrize("args", [("lstm",), ("lstm", "-c", str(CONFIGS / "lstm.yaml"))])
def test_lstm(cli, args):
    d = json_of(cli, *args)
    steps = d["layers"][0]["directions"]["forward"]
    assert len(steps) == 3
    assert {g: r4(v) for g, v in steps[0]["pre"].items()} == LSTM_PRE_T0
    assert r4(steps[0]["h"]) == [-0.2769, -0.0027]


def test_lstm_step_by_step_table_shows_every_gate(cli):
    result = cli("lstm", "--step-by-step")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for text in [
        "[0.5000, -2.5000]",
        "[2.5000, -0.5000]",
        "[-0.5000, -0.5000]",
        "[4.5000, -2.5000]",
        "[-0.2769, -0.0027]",
        "forget",
        "input (add)",
        "output",
    ]:
        assert text in out
    assert (
        sum(
            line.split()[0] in {"0", "1", "2"}
            for line in out.splitlines()
            if line.strip() and line.split()[0].isdigit()
        )
        == 3
    )


def test_rnn_step_by_step_adds_pre_activations(cli):
    plain, detailed = cli("rnn").stdout, cli("rnn", "--step-by-step").stdout
    # a_0 = W_ih x_0 + b_ih + b_hh = [-1 + 1.5 + 2, 1 - 1.5 + 2] = [2.5, 1.5], worked by hand
    assert "[2.5000, 1.5000]" in detailed and "[2.5000, 1.5000]" not in plain
    assert "0.9983" in plain


def test_api_reproduces_the_seed():
    trace = rnncalc.run(rnncalc.load(CONFIGS / "rnn_regression.yaml"))
    assert [r4(h) for h in trace.layers[0].directions["forward"].h.tolist()] == SEED_H
    assert isinstance(trace, rnncalc.Trace)
    assert round(trace.to_dict()["head"]["y"][0], 4) == 0.9983
    lstm = rnncalc.run(rnncalc.load({"cell": "lstm", **_yaml(CONFIGS / "lstm.yaml")}))
    assert r4(lstm.layers[0].directions["forward"].pre["o"][0].tolist()) == [4.5, -2.5]


def _yaml(path):
    import yaml

    return yaml.safe_load(path.read_text())


def test_configs_hold_the_embedded_seed_exercises():
    for path in (ROOT / "rnncalc" / "exercises").glob("*.yaml"):
        assert (CONFIGS / path.name).read_text() == path.read_text(), path.name


def test_precision_and_dtype_options(cli):
    out = cli("rnn", "--precision", "6").stdout
    assert "0.998283" in out
    d = json_of(cli, "rnn", "--dtype", "float32")
    assert d["dtype"] == "float32" and round(d["head"]["y"][0], 4) == 0.9983


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("task", ["regression", "classification", "labeling"])
def test_a_task_no_seed_exercise_has_is_a_usage_error(cli, cell, task):
    """No config and no seed with a head: not "add a head" to a config the user never wrote."""
    result = cli(cell, "--task", task)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"--task {task}: there is no embedded seed exercise for {cell} "
                                    "with a head; the seeds are rnn's (any --task")
    assert "add head" not in result.stderr and result.stderr.count("\n") == 1
    assert cli(cell, "--task", "hidden").exit_code == 0  # what the message says the seeds have
    assert cli("rnn", "--task", task, "--bidirectional").exit_code == 0
