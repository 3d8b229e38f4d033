"""IndRNN (Li et al. 2018), the cell added through the registry alone: its forward pass against an
independent loop written here and against ``torch.nn.RNN`` with ``W_hh = diag(w_hh)``, its
gradients against autograd through that loop, and every command on it."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import rnncalc
from tests.conftest import ARRAYS, backprop_on, run_on

F64 = torch.float64


@st.composite
def configs(draw):
    """A random IndRNN config in state_dict names, and its tensors."""
    seed = draw(st.integers(0, 2**31 - 1))
    layers, bidir = draw(st.integers(1, 2)), draw(st.booleans())
    H, n_in, T = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 5))
    act = draw(st.sampled_from(["relu", "tanh"]))
    g = torch.Generator().manual_seed(seed)
    D = 2 if bidir else 1
    weights = {}
    for k in range(layers):
        for suffix in ("", "_reverse")[:D]:
            width = n_in if k == 0 else D * H
            weights[f"weight_ih_l{k}{suffix}"] = torch.randn(H, width, generator=g, dtype=F64)
            weights[f"weight_hh_l{k}{suffix}"] = torch.randn(H, generator=g, dtype=F64)
            weights[f"bias_ih_l{k}{suffix}"] = torch.randn(H, generator=g, dtype=F64)
            weights[f"bias_hh_l{k}{suffix}"] = torch.randn(H, generator=g, dtype=F64)
    x = torch.randn(T, n_in, generator=g, dtype=F64) * 2
    h0 = torch.randn(layers * D, H, generator=g, dtype=F64)
    config = {"cell": "indrnn", "nonlinearity": act, "num_layers": layers, "bidirectional": bidir,
              "inputs": x.tolist(), "initial": {"h": h0.tolist()},
              "weights": {k: v.tolist() for k, v in weights.items()}}
    return config, weights, x, h0


def loop(config, weights, x, h0):
    """IndRNN written out here, independently: every layer and direction, a step at a time."""
    f = torch.relu if config["nonlinearity"] == "relu" else torch.tanh
    D = 2 if config["bidirectional"] else 1
    inp, finals = x, []
    for k in range(config["num_layers"]):
        outs = []
        for d, suffix in enumerate(("", "_reverse")[:D]):
            W, w = weights[f"weight_ih_l{k}{suffix}"], weights[f"weight_hh_l{k}{suffix}"]
            b = weights[f"bias_ih_l{k}{suffix}"] + weights[f"bias_hh_l{k}{suffix}"]
            h, hs = h0[k * D + d], [None] * len(inp)
            for t in (reversed(range(len(inp))) if d else range(len(inp))):
                h = f(W @ inp[t] + w * h + b)
                hs[t] = h
            outs.append(torch.stack(hs))
            finals.append(h)
        inp = torch.cat(outs, dim=1)
    return inp, torch.stack(finals)


@pytest.mark.parametrize("arrays", ARRAYS)
@given(configs())
def test_forward_matches_an_independent_loop(arrays, drawn):
    config, weights, x, h0 = drawn
    trace = run_on(arrays, config)
    out, h_n = loop(config, weights, x, h0)
    assert torch.allclose(trace.output, out, atol=1e-12)
    assert torch.allclose(trace.h_n, h_n, atol=1e-12)


@pytest.mark.parametrize("arrays", ARRAYS)
@given(configs())
def test_forward_is_torch_rnn_with_a_diagonal_recurrence(arrays, drawn):
    config, weights, x, h0 = drawn
    H = h0.shape[1]
    module = torch.nn.RNN(len(x[0]), H, num_layers=config["num_layers"],
                          bidirectional=config["bidirectional"],
                          nonlinearity=config["nonlinearity"], dtype=F64)
    module.load_state_dict({k: torch.diag(v) if k.startswith("weight_hh") else v
                            for k, v in weights.items()})
    with torch.no_grad():
        out, h_n = module(x, h0)
    trace = run_on(arrays, config)
    assert torch.allclose(trace.output, out, atol=1e-12)
    assert torch.allclose(trace.h_n, h_n, atol=1e-12)


@pytest.mark.parametrize("arrays", ARRAYS)
@given(configs())
def test_gradients_match_autograd(arrays, drawn):
    config, weights, x, h0 = drawn
    upstream = torch.randn(len(x), (2 if config["bidirectional"] else 1) * h0.shape[1],
                           generator=torch.Generator().manual_seed(1), dtype=F64)
    grad = backprop_on(arrays, {**config, "upstream": upstream.tolist()})
    leaves = {k: v.clone().requires_grad_() for k, v in weights.items()}
    out, _ = loop(config, leaves, x, h0)
    (out * upstream).sum().backward()
    for name, leaf in leaves.items():
        assert leaf.grad is not None
        assert torch.allclose(torch.as_tensor(grad.params[name]), leaf.grad, atol=1e-12), name


SEED = {"cell": "indrnn", "inputs": [[1, 2, 3], [4, 5, 6], [7, 8, 9]],
        "weights": {"W_ih": [[-1, 0, 0.5], [1, 0, -0.5]], "W_hh": [0.5, -1], "b_ih": 1,
                    "b_hh": -1}}


def test_the_seed_exercise_by_hand():
    """relu(W_ih x + w_hh * h + 0): t=0 [0.5, -0.5] -> [0.5, 0]; t=1 [-0.75, 1] -> [0, 1]."""
    trace = rnncalc.run(rnncalc.load(cell="indrnn"))
    assert trace.layers[0].directions["forward"].pre["h"].tolist() == [
        [0.5, -0.5], [-0.75, 1.0], [-2.5, 1.5]]
    assert trace.h_n.tolist() == [[0.0, 1.5]]


def test_every_command(cli, tmp_path):
    """Tables, JSON, --explain, --round, formulas, init, schema, exercise, run, validate,
    answers-template and check, grad (and its --explain), convert both ways; ONNX and Keras
    refused in one line."""
    config = tmp_path / "ind.yaml"
    config.write_text(json.dumps({**SEED, "head": {"task": "regression", "W": [[1, -1]]},
                                  "loss": {"type": "mse", "target": [0.5]}}))
    for args in (["indrnn", "-s"], ["indrnn", "-c", str(config), "--round", "2"],
                 ["indrnn", "--explain", "t=1"], ["init", "indrnn"], ["schema"],
                 ["exercise", "indrnn", "--seed", "3"], ["validate", str(config)],
                 ["grad", "-c", str(config), "--explain"]):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.stderr)
    assert "w_hh * h_{t-1}" in cli("formulas", "indrnn").stdout
    assert "indrnn" in cli("schema").stdout
    doc = json.loads(cli("indrnn", "-c", str(config), "-f", "json", "--explain").stdout)
    assert doc["cell"] == "indrnn" and set(doc["layers"][0]["directions"]["forward"][0]["act"]) \
        == {"h"}
    assert "h_1[1] = relu(" in cli("indrnn", "--explain", "t=1").stdout
    run = cli("run", str(config), "-f", "jsonl")
    assert run.exit_code == 0 and json.loads(run.stdout)["h_n"] == doc["h_n"]
    answers = tmp_path / "answers.yaml"
    answers.write_text(cli("answers-template", str(config)).stdout.replace(
        "t: 0\n      pre:\n        h: [~, ~]", "t: 0\n      pre:\n        h: [0.5, 0.25]", 1))
    checked = cli("check", str(config), str(answers), "-f", "json")
    assert checked.exit_code == 1, checked.stderr  # one right, one wrong
    torch_yaml = tmp_path / "pt.yaml"
    torch_yaml.write_text(cli("convert", str(config), "--to", "pytorch").stdout)
    back = tmp_path / "back.yaml"
    back.write_text(cli("convert", str(torch_yaml), "--to", "per-gate").stdout)
    assert json.loads(cli("indrnn", "-c", str(back), "-f", "json").stdout)["h_n"] == doc["h_n"]
    for layout in ("onnx", "keras"):
        refused = cli("convert", str(config), "--to", layout)
        assert refused.exit_code == 3
        assert refused.stderr.strip().endswith(f"layout {layout} has no IndRNN cell; its "
                                               "layouts: pytorch, per-gate")
        assert len(refused.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("key", ["W_hh", "weight_hh_l0"])
def test_a_matrix_recurrence_is_refused_where_written(key):
    weights = ({"weight_ih_l0": [[1.0]], "weight_hh_l0": [[0.5]]} if key == "weight_hh_l0"
               else {"W_ih": [[1.0]], "W_hh": [[0.5]]})
    with pytest.raises(rnncalc.ConfigError, match=key):
        rnncalc.load({"cell": "indrnn", "inputs": [[1.0]], "weights": weights})
