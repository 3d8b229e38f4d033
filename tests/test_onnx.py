"""``layout: onnx`` against real ONNX implementations, on random RNN/LSTM/GRU nodes.

Each case is one ONNX node, built with ``onnx.helper``, run by ``onnxruntime`` (float32) or by
``onnx.reference.ReferenceEvaluator`` (float64), and typed into an rnncalc config as it is: the
same W, R, B, P, initial states and attributes. rnncalc (float64) must give ONNX's Y, Y_h, Y_c.

onnx 1.23's reference evaluator ignores ``clip``, ``input_forget`` and the LSTM/GRU
``activations`` attribute, and raises on an RNN ``Relu``: the cases that use them go to
onnxruntime only. onnxruntime's defaults for some activations' alpha/beta differ from the ONNX
operators' (its Affine defaults to 0), so the cases always give alpha and beta explicitly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import rnncalc

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from tests.conftest import ARRAYS, run_on  # noqa: E402

OPS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
ROLES = {"rnn": 1, "lstm": 3, "gru": 2}
# ONNX spelling -> (takes alpha, takes beta); explicit values keep onnxruntime and ONNX agreed
ACTIVATIONS = {
    "Sigmoid": (False, False), "Tanh": (False, False), "Relu": (False, False),
    "HardSigmoid": (True, True), "LeakyRelu": (True, False), "Elu": (True, False),
    "Softsign": (False, False), "Softplus": (False, False), "Affine": (True, True),
    "ScaledTanh": (True, True),
}


def _f32(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    """Random numbers that float32 holds exactly, so both runtimes read the same weights."""
    return (rng.normal(size=shape) * scale).astype(np.float32).astype(np.float64)


@st.composite
def nodes(draw: Any, *, runtime: str) -> dict[str, Any]:
    """A random ONNX node: its cell, attributes and inputs (numpy, float32-exact)."""
    cell = draw(st.sampled_from(sorted(OPS)))
    direction = draw(st.sampled_from(["forward", "reverse", "bidirectional"]))
    D, G = 2 if direction == "bidirectional" else 1, GATES[cell]
    H, I, T = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    inputs = {"X": _f32(rng, T, 1, I), "W": _f32(rng, D, G * H, I, scale=0.7),
              "R": _f32(rng, D, G * H, H, scale=0.7)}
    if draw(st.booleans()):
        inputs["B"] = _f32(rng, D, 2 * G * H, scale=0.5)
    if draw(st.booleans()):
        inputs["initial_h"] = _f32(rng, D, 1, H)
    if cell == "lstm" and draw(st.booleans()):
        inputs["initial_c"] = _f32(rng, D, 1, H)
    if cell == "lstm" and draw(st.booleans()):
        inputs["P"] = _f32(rng, D, 3 * H, scale=0.5)
    attrs: dict[str, Any] = {"direction": direction}
    if cell == "gru":
        attrs["linear_before_reset"] = draw(st.sampled_from([0, 1]))
    if runtime == "onnxruntime":
        if draw(st.booleans()):
            names = draw(st.lists(st.sampled_from(sorted(ACTIVATIONS)), min_size=ROLES[cell],
                                  max_size=ROLES[cell]))
            alphas = [round(float(rng.uniform(0.1, 1.0)), 2) for n in names if ACTIVATIONS[n][0]]
            betas = [round(float(rng.uniform(0.0, 0.5)), 2) for n in names if ACTIVATIONS[n][1]]
            attrs["activations"] = names * D
            if alphas:
                attrs["activation_alpha"] = alphas * D
            if betas:
                attrs["activation_beta"] = betas * D
        if draw(st.booleans()):
            attrs["clip"] = draw(st.sampled_from([0.25, 0.5, 1.0, 2.0]))
        if cell == "lstm" and draw(st.booleans()):
            attrs["input_forget"] = 1
    return {"cell": cell, "H": H, "attrs": attrs, "inputs": inputs}


def run_onnx(node: dict[str, Any], runtime: str) -> list[np.ndarray]:
    """Y ``[T, D, 1, H]``, Y_h ``[D, 1, H]`` (and Y_c) as the runtime computes them."""
    cell, inputs = node["cell"], node["inputs"]
    dtype = np.float32 if runtime == "onnxruntime" else np.float64
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    order = ["X", "W", "R", "B", "sequence_lens", "initial_h"] + (
        ["initial_c", "P"] if cell == "lstm" else [])
    names = [n if n in inputs else "" for n in order]
    while names[-1] == "":
        names.pop()
    outputs = ["Y", "Y_h"] + (["Y_c"] if cell == "lstm" else [])
    op = helper.make_node(OPS[cell], names, outputs, hidden_size=node["H"], **node["attrs"])
    graph = helper.make_graph(
        [op], "node", [helper.make_tensor_value_info(n, elem, None) for n in names if n],
        [helper.make_tensor_value_info(n, elem, None) for n in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    feeds = {n: inputs[n].astype(dtype) for n in names if n}
    if runtime == "onnxruntime":
        session = ort.InferenceSession(model.SerializeToString(),
                                       providers=["CPUExecutionProvider"])
        return session.run(None, feeds)
    return ReferenceEvaluator(model).run(None, feeds)


def config(node: dict[str, Any]) -> dict[str, Any]:
    """The node typed into an rnncalc config, as a user would: ``layout: onnx``."""
    inputs = node["inputs"]
    out: dict[str, Any] = {"cell": node["cell"], "layout": "onnx", "hidden_size": node["H"],
                           **node["attrs"], "inputs": inputs["X"][:, 0].tolist(),
                           "weights": {k: inputs[k].tolist() for k in ("W", "R", "B", "P")
                                       if k in inputs}}
    initial = {k[-1]: inputs[k][:, 0].tolist() for k in ("initial_h", "initial_c") if k in inputs}
    if initial:
        out["initial"] = initial
    return out


def run_rnncalc(node: dict[str, Any], arrays: str | None = None) -> list[np.ndarray]:
    """rnncalc's trace arranged as ONNX's outputs (by position; directions in ONNX's order),
    computed on ``arrays`` (numpy, torch; None: as rnncalc.run chooses)."""
    trace = run_on(arrays, config(node))
    dirs = list(trace.layers[0].directions.values())
    # onnxruntime's float32 Softplus is log(1 + exp(x)): inf past x = 88 (rnncalc's is exact)
    assume(max(float(p.abs().max()) for tr in dirs for p in tr.pre.values()) < 80)
    T, H = len(node["inputs"]["X"]), node["H"]
    Y = np.zeros((T, len(dirs), 1, H))
    for d, tr in enumerate(dirs):
        for j, t in enumerate(tr.positions):
            Y[t, d, 0] = tr.h[j].numpy()
    out = [Y, np.stack([tr.h[-1].numpy() for tr in dirs])[:, None]]
    if node["cell"] == "lstm":
        out.append(np.stack([tr.c[-1].numpy() for tr in dirs])[:, None])
    return out


@given(nodes(runtime="onnxruntime"))
def test_against_onnxruntime(node: dict[str, Any]) -> None:
    expected = run_onnx(node, "onnxruntime")
    for got, want in zip(run_rnncalc(node), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("arrays", ARRAYS)
@given(nodes(runtime="reference"))
def test_against_reference_evaluator(arrays: str, node: dict[str, Any]) -> None:
    expected = run_onnx(node, "reference")
    for got, want in zip(run_rnncalc(node, arrays), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("cell", "forward", "backward"), [
    ("rnn", ["Relu"], ["Tanh"]),
    ("lstm", ["Sigmoid", "Tanh", "Tanh"], ["HardSigmoid", "Softsign", "Relu"]),
    ("gru", ["Sigmoid", "Tanh"], ["Sigmoid", "Relu"]),
])
def test_each_direction_its_own_activations(cell: str, forward: list[str],
                                            backward: list[str]) -> None:
    """An ONNX node may give each direction its own group: a ReLU forward and a tanh backward."""
    rng = np.random.default_rng(14)
    G, H, I, T = GATES[cell], 2, 3, 4
    node = {"cell": cell, "H": H, "attrs": {"direction": "bidirectional",
                                          "activations": forward + backward},
            "inputs": {"X": _f32(rng, T, 1, I), "W": _f32(rng, 2, G * H, I, scale=0.7),
                       "R": _f32(rng, 2, G * H, H, scale=0.7),
                       "B": _f32(rng, 2, 2 * G * H, scale=0.5)}}
    want = run_onnx(node, "onnxruntime")
    trace = rnncalc.run(rnncalc.load(config(node)))
    dirs = list(trace.layers[0].directions.values())
    Y = np.zeros((T, 2, 1, H))
    for d, tr in enumerate(dirs):
        for j, t in enumerate(tr.positions):
            Y[t, d, 0] = tr.h[j].numpy()
    np.testing.assert_allclose(Y, want[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.stack([tr.h[-1].numpy() for tr in dirs])[:, None], want[1],
                               rtol=1e-5, atol=1e-5)
    doc = trace.to_dict()
    assert doc["backward_formulation"]["activations"] != doc["formulation"]["activations"]
    # grad runs each direction with its own derivatives: held to finite differences of the loss
    from rnncalc.bptt import backprop

    up = {"upstream": [[1.0] * (2 * H)] * T}
    ex = rnncalc.load({**config(node), **up})
    grad = backprop(rnncalc.run(ex)).params["weight_hh_l0_reverse"]
    cfg = config(node)
    eps, R = 1e-6, np.array(cfg["weights"]["R"])
    k = 0  # the first row of the backward direction's R (gate blocks in ONNX's order)
    total = []
    for sign in (1, -1):
        bumped = R.copy()
        bumped[1, k, 0] += sign * eps
        out = rnncalc.run(rnncalc.load({**cfg, "weights": {**cfg["weights"],
                                                           "R": bumped.tolist()}}))
        total.append(float(out.output.sum()))
    numeric = (total[0] - total[1]) / (2 * eps)
    from rnncalc.formulation import PACKINGS

    order = PACKINGS["onnx"].gate_order[cell]
    ours = GATES_ORDER[cell].index(order[k // H]) * H + k % H
    assert float(grad[ours, 0]) == pytest.approx(numeric, rel=1e-5, abs=1e-7)


GATES_ORDER = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


def test_a_padded_batch_with_sequence_lens_against_onnxruntime() -> None:
    """ONNX's own batch: X [T, B, I] padded, sequence_lens; Y is zero past each sequence's end and
    Y_h is each sequence's state at its own last step (configs/batch/gru_sequence_lens.yaml)."""
    from rnncalc import minibatch
    from tests.conftest import CONFIGS

    batch = rnncalc.load(CONFIGS / "batch" / "gru_sequence_lens.yaml", batch=True)
    import yaml

    cfg = yaml.safe_load((CONFIGS / "batch" / "gru_sequence_lens.yaml").read_text())
    X = np.array(cfg["batch"], dtype=np.float32).transpose(1, 0, 2)  # [T, B, I]
    names = ["X", "W", "R", "B", "sequence_lens"]
    op = helper.make_node("GRU", names, ["Y", "Y_h"], hidden_size=2)
    elem = TensorProto.FLOAT
    graph = helper.make_graph(
        [op], "node", [helper.make_tensor_value_info(n, elem, None) for n in names[:4]]
        + [helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, None)],
        [helper.make_tensor_value_info(n, elem, None) for n in ("Y", "Y_h")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"X": X, **{k: np.array(cfg["weights"][k], dtype=np.float32) for k in "WRB"},
             "sequence_lens": np.array(cfg["sequence_lens"], dtype=np.int32)}
    Y, Y_h = session.run(None, feeds)
    got = minibatch.run(batch).to_dict()
    np.testing.assert_allclose(np.array(got["output"]), Y[:, 0].transpose(1, 0, 2), atol=1e-6)
    np.testing.assert_allclose(got["h_n"], Y_h, atol=1e-6)
