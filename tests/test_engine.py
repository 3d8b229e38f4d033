"""The engines against PyTorch's own modules, on random configs, in float64.

Whole sequences against ``torch.nn.RNN`` / ``torch.nn.LSTM`` (every ``output``, ``h_n``, ``c_n``),
and every recorded step against one ``torch.nn.RNNCell`` / ``LSTMCell`` step from the same state.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import ARRAYS, layer_cell, run_on

TOL = 1e-12


@st.composite
def nets(draw, cells=("rnn", "lstm")):
    cell = draw(st.sampled_from(cells))
    spec = {
        "cell": cell,
        "input_size": draw(st.integers(1, 4)),
        "hidden_size": draw(st.integers(1, 4)),
        "num_layers": draw(st.integers(1, 3)),
        "bidirectional": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "steps": draw(st.integers(1, 5)),
        "nonlinearity": draw(st.sampled_from(["tanh", "relu"])) if cell == "rnn" else "tanh",
        "initial": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }
    return spec


def torch_module(spec):
    torch.manual_seed(spec["seed"])
    kwargs = dict(
        input_size=spec["input_size"],
        hidden_size=spec["hidden_size"],
        num_layers=spec["num_layers"],
        bidirectional=spec["bidirectional"],
        bias=spec["bias"],
        dtype=torch.float64,
    )
    if spec["cell"] == "rnn":
        return torch.nn.RNN(nonlinearity=spec["nonlinearity"], **kwargs)
    return torch.nn.LSTM(**kwargs)


def config_and_reference(spec):
    module = torch_module(spec)
    D = 2 if spec["bidirectional"] else 1
    x = torch.randn(spec["steps"], spec["input_size"], dtype=torch.float64) * 2
    states = spec["num_layers"] * D, spec["hidden_size"]
    h0 = (
        torch.randn(*states, dtype=torch.float64)
        if spec["initial"]
        else torch.zeros(*states, dtype=torch.float64)
    )
    c0 = (
        torch.randn(*states, dtype=torch.float64)
        if spec["initial"]
        else torch.zeros(*states, dtype=torch.float64)
    )
    config = {
        "cell": spec["cell"],
        "inputs": x.tolist(),
        "num_layers": spec["num_layers"],
        "bidirectional": spec["bidirectional"],
        "bias": spec["bias"],
        "weights": {k: v.tolist() for k, v in module.state_dict().items()},
    }
    if spec["cell"] == "rnn":
        config["nonlinearity"] = spec["nonlinearity"]
    if spec["initial"]:
        config["initial"] = {"h": h0.tolist()} | (
            {"c": c0.tolist()} if spec["cell"] == "lstm" else {}
        )
    with torch.no_grad():
        if spec["cell"] == "lstm":
            out, (h_n, c_n) = module(x, (h0, c0))
        else:
            out, h_n = module(x, h0)
            c_n = None
    return config, module, (out, h_n, c_n)


def close(a, b):
    return torch.allclose(torch.as_tensor(a, dtype=torch.float64), b, atol=TOL, rtol=0)


@pytest.mark.parametrize("arrays", ARRAYS)
@given(nets())
def test_sequence_matches_torch_nn(arrays, spec):
    config, _, (out, h_n, c_n) = config_and_reference(spec)
    trace = run_on(arrays, config)
    assert close(trace.output, out)
    assert close(trace.h_n, h_n)
    if c_n is not None:
        assert close(trace.c_n, c_n)


@pytest.mark.parametrize("arrays", ARRAYS)
@given(nets())
def test_every_step_matches_a_cell_step(arrays, spec):
    config, module, _ = config_and_reference(spec)
    trace = run_on(arrays, config)
    for lt in trace.layers:
        for direction, tr in lt.directions.items():
            if spec["cell"] == "rnn":
                cell, (w_ih, w_hh, b_ih, b_hh) = layer_cell(
                    module, lt.layer, direction, torch.nn.RNNCell,
                    nonlinearity=spec["nonlinearity"],
                )
            else:
                cell, (w_ih, w_hh, b_ih, b_hh) = layer_cell(
                    module, lt.layer, direction, torch.nn.LSTMCell
                )
            for step in tr.steps():
                with torch.no_grad():
                    # the pre-activations by the formula: W_ih x + b_ih + W_hh h + b_hh
                    a = torch.nn.functional.linear(step.x, w_ih, b_ih) + torch.nn.functional.linear(
                        step.h_prev, w_hh, b_hh
                    )
                    if spec["cell"] == "rnn":
                        h = cell(step.x[None], step.h_prev[None])[0]
                        assert close(step.pre["h"], a) and close(step.h, h)
                    else:
                        h, c = (
                            v[0] for v in cell(step.x[None], (step.h_prev[None], step.c_prev[None]))
                        )
                        for gate, block in zip("ifgo", a.chunk(4), strict=True):
                            assert close(step.pre[gate], block)
                        assert close(step.act["i"], torch.sigmoid(a.chunk(4)[0]))
                        assert close(step.act["g"], torch.tanh(a.chunk(4)[2]))
                        assert close(step.h, h) and close(step.c, c)


@pytest.mark.parametrize("arrays", ARRAYS)
@given(nets(cells=("lstm",)), st.sampled_from(["float32"]))
def test_float32_runs_in_float32(arrays, spec, dtype):
    config, _, (out, _, _) = config_and_reference(spec)
    trace = run_on(arrays, config, dtype=dtype)
    assert trace.output.dtype == torch.float32
    assert torch.allclose(trace.output.double(), out, atol=1e-5)
