"""``layout: keras`` against Keras 3 itself (``KERAS_BACKEND=torch``: no TensorFlow needed).

Random SimpleRNN/LSTM/GRU layers, one or two of them stacked, plain or wrapped in
``Bidirectional`` with each of the four merge modes, GRU with ``reset_after`` both ways, with and
without biases, with Keras's own ``activation`` / ``recurrent_activation`` names: their weights
are set at random, typed into an rnncalc config under their Keras names, and rnncalc (float64)
must give the Keras model's per-position output.

Keras runs with float64 variables here, but its torch backend computes every ``matmul`` in float32
(JAX-style promotion: ``keras.backend.result_type("float64", "float64") == "float32"``), so the
outputs agree to float32 rounding, not to 1e-10.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnncalc

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # keras was imported earlier with another backend
    pytest.skip("these tests run Keras on its torch backend", allow_module_level=True)

LAYERS = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
KERAS_ACTIVATIONS = ["tanh", "sigmoid", "relu", "linear", "softsign", "softplus", "elu",
                     "hard_sigmoid", "leaky_relu"]
ARGUMENTS = ("reset_after", "activation", "recurrent_activation")


@pytest.fixture(scope="module", autouse=True)
def float64() -> Any:
    """float64 variables and inputs: only Keras's float32 matmul rounds."""
    before = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx(before)


@st.composite
def stacks(draw: Any) -> dict[str, Any]:
    cell = draw(st.sampled_from(sorted(LAYERS)))
    merge = draw(st.sampled_from([None, "concat", "sum", "mul", "ave"]))  # None: one direction
    return {
        "cell": cell, "merge": merge, "layers": draw(st.integers(1, 2)),
        "units": draw(st.integers(1, 3)), "input": draw(st.integers(1, 3)),
        "steps": draw(st.integers(1, 4)), "use_bias": draw(st.booleans()),
        "reset_after": draw(st.booleans()) if cell == "gru" else None,
        "activation": draw(st.sampled_from([None, *KERAS_ACTIVATIONS])),
        # bounded gates: an unbounded one (elu, relu) lets float32 Keras drift to 1e50 and inf
        "recurrent_activation": draw(st.sampled_from([None, "sigmoid", "hard_sigmoid", "tanh",
                                                      "softsign"]))
        if cell != "rnn" else None,
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def keras_model(case: dict[str, Any]) -> Any:
    """The Keras stack; its weights drawn at random from ``case["seed"]``."""
    rng = np.random.default_rng(case["seed"])
    inputs = keras.Input((case["steps"], case["input"]), dtype="float64")
    x = inputs
    for _ in range(case["layers"]):
        options: dict[str, Any] = {"return_sequences": True, "use_bias": case["use_bias"]}
        options.update({k: case[k] for k in ARGUMENTS if case[k] is not None})
        layer = getattr(keras.layers, LAYERS[case["cell"]])(case["units"], **options)
        if case["merge"]:
            layer = keras.layers.Bidirectional(layer, merge_mode=case["merge"])
        x = layer(x)
    model = keras.Model(inputs, x)
    for w in model.weights:  # not get_weights(): Variable.numpy() warns under numpy 2
        w.assign(rng.normal(size=w.shape) * 0.6)
    return model


def config(case: dict[str, Any], model: Any, xs: np.ndarray) -> dict[str, Any]:
    """The model typed into a config under Keras's own names (``layout: keras``)."""
    groups = []
    for layer in model.layers[1:]:
        subs = [("forward_layer", layer.forward_layer), ("backward_layer", layer.backward_layer)] \
            if case["merge"] else [(None, layer)]
        group = {}
        for name, sub in subs:
            arrays = {w.path.rsplit("/", 1)[-1]: w.value.detach().cpu().numpy().tolist()
                      for w in sub.weights}
            group.update({name: arrays} if name else arrays)
        groups.append(group)
    out: dict[str, Any] = {
        "cell": case["cell"], "layout": "keras", "inputs": xs.tolist(),
        "num_layers": case["layers"],
        "weights": groups[0] if len(groups) == 1 else {f"l{k}": g for k, g in enumerate(groups)},
    }
    if case["merge"]:
        out.update(direction="bidirectional", merge_mode=case["merge"])
    out.update({k: case[k] for k in ARGUMENTS if case[k] is not None})
    return out


@settings(max_examples=settings.default.max_examples // 2)  # a Keras model takes ~0.3 s to build
@given(stacks())
def test_against_keras(case: dict[str, Any]) -> None:
    model = keras_model(case)
    xs = np.random.default_rng(case["seed"] + 1).normal(size=(case["steps"], case["input"]))
    expected = np.asarray(model(xs[None]).detach().cpu().numpy())[0]
    trace = rnncalc.run(rnncalc.load(config(case, model, xs)))
    np.testing.assert_allclose(np.asarray(trace.to_dict()["output"]), expected,
                               rtol=1e-5, atol=1e-6)


def test_gru_bias_rows_must_match_reset_after() -> None:
    """A reset_after GRU keeps two bias rows; one row then is an error, with Keras's reason."""
    cfg = {"cell": "gru", "layout": "keras", "inputs": [[1.0]], "reset_after": True,
           "weights": {"kernel": [[0.1] * 3], "recurrent_kernel": [[0.2] * 3], "bias": [0.0] * 3}}
    with pytest.raises(rnncalc.ConfigError, match=r"weights.bias: expected shape \[2, 3\]"):
        rnncalc.load(cfg)


@pytest.mark.parametrize("cell", sorted(LAYERS))
def test_go_backwards_is_a_reverse_direction(cell: str) -> None:
    """Keras's go_backwards=True: the layer reads x_{T-1} first and returns its outputs in the
    order computed, so its k-th output is rnncalc's output at position T-1-k; the final state
    is the same."""
    rng = np.random.default_rng(14)
    steps, units, width = 4, 2, 3
    inputs = keras.Input((steps, width), dtype="float64")
    layer = getattr(keras.layers, LAYERS[cell])(units, return_sequences=True,
                                                go_backwards=True)
    model = keras.Model(inputs, layer(inputs))
    for w in model.weights:
        w.assign(rng.normal(size=w.shape) * 0.6)
    x = rng.normal(size=(1, steps, width))
    want = model(x).detach().cpu().numpy()[0]
    weights = {w.path.rsplit("/", 1)[-1]: w.value.detach().cpu().numpy().tolist()
               for w in layer.weights}
    cfg = {"cell": cell, "layout": "keras", "go_backwards": True, "inputs": x[0].tolist(),
           "weights": weights}
    got = rnncalc.run(rnncalc.load(cfg)).to_dict()
    assert got["direction"] == "reverse"
    np.testing.assert_allclose(got["output"][::-1], want, rtol=1e-5, atol=1e-6)
    with pytest.raises(rnncalc.ConfigError, match="direction is set by Keras's go_backwards"):
        rnncalc.load({**cfg, "direction": "forward"})
