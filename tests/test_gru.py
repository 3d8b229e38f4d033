"""GRU against PyTorch's own modules in float64, and LSTM's projection against ``proj_size``.

Whole sequences against ``torch.nn.GRU`` (layers, directions, biases, initial states); every step
against one ``torch.nn.GRUCell`` step from the same state, with the gates by PyTorch's documented
formulas written out here; ``torch.nn.LSTM(proj_size=...)`` for the projection.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import rnncalc
from tests.conftest import ARRAYS, layer_cell, run_on

TOL = 1e-12


def close(a, b):
    return torch.allclose(torch.as_tensor(a, dtype=torch.float64), b, atol=TOL, rtol=0)


@st.composite
def specs(draw, cell="gru"):
    return {
        "cell": cell,
        "input_size": draw(st.integers(1, 4)),
        "hidden_size": draw(st.integers(2, 4)),
        "proj_size": draw(st.integers(1, 3)) if cell == "lstm" else 0,
        "num_layers": draw(st.integers(1, 3)),
        "bidirectional": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "steps": draw(st.integers(1, 5)),
        "initial": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def build(spec):
    """A torch module with random weights, the same net as an rnncalc config, torch's answer."""
    torch.manual_seed(spec["seed"])
    kwargs = dict(input_size=spec["input_size"], hidden_size=spec["hidden_size"],
                  num_layers=spec["num_layers"], bidirectional=spec["bidirectional"],
                  bias=spec["bias"], dtype=torch.float64)
    H = spec["hidden_size"]
    if spec["cell"] == "lstm":
        P = min(spec["proj_size"], H - 1)
        module = torch.nn.LSTM(proj_size=P, **kwargs)
    else:
        P = 0
        module = torch.nn.GRU(**kwargs)
    D = 2 if spec["bidirectional"] else 1
    x = torch.randn(spec["steps"], spec["input_size"], dtype=torch.float64) * 2
    k = spec["num_layers"] * D
    h0 = torch.randn(k, P or H, dtype=torch.float64) * float(spec["initial"])
    c0 = torch.randn(k, H, dtype=torch.float64) * float(spec["initial"])
    config = {
        "cell": spec["cell"], "inputs": x.tolist(), "num_layers": spec["num_layers"],
        "bidirectional": spec["bidirectional"], "bias": spec["bias"],
        "weights": {name: v.tolist() for name, v in module.state_dict().items()},
        "initial": {"h": h0.tolist()} | ({"c": c0.tolist()} if spec["cell"] == "lstm" else {}),
    }
    if P:
        config["proj_size"] = P
    with torch.no_grad():
        out = module(x, (h0, c0)) if spec["cell"] == "lstm" else module(x, h0)
    return config, module, out


@pytest.mark.parametrize("arrays", ARRAYS)
@given(specs())
def test_gru_sequence_matches_torch_nn_gru(arrays, spec):
    config, _, (out, h_n) = build(spec)
    trace = run_on(arrays, config)
    assert close(trace.output, out)
    assert close(trace.h_n, h_n)
    assert trace.to_dict()["layers"][0]["directions"]["forward"][0]["act"].keys() == {"r", "z", "n"}


@pytest.mark.parametrize("arrays", ARRAYS)
@given(specs())
def test_every_gru_step_matches_a_gru_cell_step_and_the_documented_gates(arrays, spec):
    config, module, _ = build(spec)
    trace = run_on(arrays, config)
    for lt in trace.layers:
        for direction, tr in lt.directions.items():
            cell, (w_ih, w_hh, b_ih, b_hh) = layer_cell(module, lt.layer, direction,
                                                        torch.nn.GRUCell)
            for step in tr.steps():
                with torch.no_grad():
                    h = cell(step.x[None], step.h_prev[None])[0]
                    # PyTorch's documentation, gate blocks r|z|n:
                    gi = F.linear(step.x, w_ih, b_ih).chunk(3)
                    gh = F.linear(step.h_prev, w_hh, b_hh).chunk(3)
                    r = torch.sigmoid(gi[0] + gh[0])
                    z = torch.sigmoid(gi[1] + gh[1])
                    n = torch.tanh(gi[2] + r * gh[2])
                assert close(step.pre["r"], gi[0] + gh[0]) and close(step.act["r"], r)
                assert close(step.pre["z"], gi[1] + gh[1]) and close(step.act["z"], z)
                assert close(step.pre["n"], gi[2] + r * gh[2]) and close(step.act["n"], n)
                assert close(step.h, h)


@pytest.mark.parametrize("arrays", ARRAYS)
@given(specs(cell="lstm"))
def test_lstm_projection_matches_torch_proj_size(arrays, spec):
    config, module, (out, (h_n, c_n)) = build(spec)
    trace = run_on(arrays, config)
    assert close(trace.output, out)
    assert close(trace.h_n, h_n)
    assert close(trace.c_n, c_n)
    if "proj_size" in config:  # h_t = W_hr m_t, m_t = o_t * tanh(c_t), recorded as "m"
        tr = trace.layers[0].directions["forward"]
        w_hr = dict(module.named_parameters())["weight_hr_l0"].detach()
        assert close(tr.extra["m"], tr.act["o"] * torch.tanh(tr.c))
        assert close(tr.h, tr.extra["m"] @ w_hr.T)
        assert "m" in trace.to_dict()["layers"][0]["directions"]["forward"][0]


def test_gru_float32_runs_in_float32():
    config, _, (out, _) = build({"cell": "gru", "input_size": 3, "hidden_size": 2,
                                 "proj_size": 0, "num_layers": 2, "bidirectional": True,
                                 "bias": True, "steps": 4, "initial": True, "seed": 7})
    trace = rnncalc.run(rnncalc.load(config, dtype="float32"))
    assert trace.output.dtype == torch.float32
    assert torch.allclose(trace.output.double(), out, atol=1e-5)


def test_gru_per_gate_names_equal_state_dict_form():
    torch.manual_seed(0)
    module = torch.nn.GRU(3, 2, dtype=torch.float64)
    sd = module.state_dict()
    per_gate = {}
    for kind, w, b in (("i", sd["weight_ih_l0"], sd["bias_ih_l0"]),
                       ("h", sd["weight_hh_l0"], sd["bias_hh_l0"])):
        for gate, wb, bb in zip("rzn", w.chunk(3), b.chunk(3), strict=True):
            per_gate[f"W_{kind}{gate}"] = wb.tolist()
            per_gate[f"b_{kind}{gate}"] = bb.tolist()
    x = [[1, 2, 3], [4, 5, 6]]
    a = rnncalc.run(rnncalc.load({"cell": "gru", "inputs": x, "weights": per_gate}))
    b = rnncalc.run(rnncalc.load({"cell": "gru", "inputs": x,
                                  "weights": {k: v.tolist() for k, v in sd.items()}}))
    assert torch.equal(a.output, b.output)
    assert torch.allclose(a.output, module(torch.tensor(x, dtype=torch.float64))[0], atol=TOL)


def test_gru_command_runs_the_example(cli):
    result = cli("gru", "--step-by-step")
    assert result.exit_code == 0, result.output
    assert "r  reset" in result.stdout and "z  update" in result.stdout
    assert "formulation: pytorch" in result.stdout
