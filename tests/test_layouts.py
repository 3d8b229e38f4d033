"""Weight layouts: round trips through every layout, the per-gate forms against numpy formulas,
and every layout's errors (file:line: field path, expected vs got, exit 3)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import rnncalc
from rnncalc.convert import TARGETS, convert
from rnncalc.errors import ExitCode

GATES = {"rnn": "h", "lstm": "ifgo", "gru": "rzn"}


@st.composite
def exercises(draw: Any) -> dict[str, Any]:
    """A random exercise in the per-gate form: any cell, stack, direction, biases, peepholes."""
    cell = draw(st.sampled_from(sorted(GATES)))
    direction = draw(st.sampled_from(["forward", "reverse", "bidirectional"]))
    layers, H, I, T = (draw(st.integers(1, n)) for n in (2, 3, 3, 3))
    biases = draw(st.sampled_from([0, 1, 2]))  # none, one per gate (b_i?), two per gate
    peepholes = cell == "lstm" and draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    D = 2 if direction == "bidirectional" else 1
    merge = draw(st.sampled_from(["concat", "sum", "ave"])) if D == 2 else "concat"

    def m(*shape: int) -> Any:
        return rng.normal(size=shape).tolist()

    weights = {}
    for k in range(layers):
        width = I if k == 0 else (D * H if merge == "concat" else H)
        for suffix in ("", "_reverse")[:D]:
            group = {}
            for g in GATES[cell]:
                group[f"W_i{g}"], group[f"W_h{g}"] = m(H, width), m(H, H)
                if biases:
                    group[f"b_i{g}"] = m(H)
                if biases == 2:
                    group[f"b_h{g}"] = m(H)
            if peepholes:
                group.update(p_i=m(H), p_f=m(H), p_o=m(H))
            weights[f"l{k}{suffix}"] = group
    cfg: dict[str, Any] = {"cell": cell, "inputs": m(T, I), "num_layers": layers,
                           "direction": direction, "weights": weights}
    if D == 2:
        cfg["merge_mode"] = merge
    if cell == "gru":
        cfg["reset_after"] = draw(st.booleans())
    if cell == "rnn":
        cfg["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    if draw(st.booleans()):
        cfg["initial"] = {"h": m(layers * D, H)} | ({"c": m(layers * D, H)} if cell == "lstm"
                                                    else {})
    return cfg


def refused(cfg: dict[str, Any], layout: str) -> bool:
    """Where a layout cannot hold the exercise: convert must refuse it (exit 3), not guess."""
    peep = any("p_i" in g for g in cfg["weights"].values())
    if peep and layout in ("pytorch", "keras", "concat"):
        return True
    # a reset_after GRU's b_hn sits inside r * (...): one bias per gate cannot hold it (Keras
    # keeps a second bias row for it)
    b_hn = any("b_hn" in g for g in cfg["weights"].values())
    return cfg["cell"] == "gru" and bool(cfg.get("reset_after")) and b_hn and layout == "concat"


def trace_of(cfg: dict[str, Any]) -> dict[str, Any]:
    return rnncalc.run(rnncalc.load(cfg)).to_dict()


def summed_biases(cfg: dict[str, Any], layout: str) -> bool:
    """A one-bias layout adds b_ih + b_hh: the trace then agrees to rounding, not bit for bit."""
    two = any("b_hi" in g or "b_hr" in g or "b_hh" in g for g in cfg["weights"].values())
    gru_two_rows = layout == "keras" and cfg["cell"] == "gru" and cfg.get("reset_after")
    return two and layout in ("keras", "concat") and not gru_two_rows


@pytest.mark.parametrize("layout", TARGETS)
@settings(max_examples=settings.default.max_examples // 3)  # five layouts: a third each
@given(cfg=exercises())
def test_round_trip(layout: str, cfg: dict[str, Any]) -> None:
    """per-gate -> layout -> per-gate: the same trace, and the same per-gate weights."""
    want = trace_of(cfg)
    if refused(cfg, layout):
        with pytest.raises(rnncalc.ConfigError):
            convert(cfg, layout)
        return
    there = yaml.safe_load(convert(cfg, layout))
    assert there.get("layout", "pytorch") == layout
    back = yaml.safe_load(convert(there, "per-gate"))
    for got in (trace_of(there), trace_of(back)):
        if summed_biases(cfg, layout):
            np.testing.assert_allclose(got["output"], want["output"], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(got["h_n"], want["h_n"], rtol=1e-12, atol=1e-12)
        else:
            assert got == want


@pytest.mark.parametrize("layout", ["per-gate", "concat"])
@settings(max_examples=settings.default.max_examples // 3)
@given(cfg=exercises(), concat=st.sampled_from([("h", "x"), ("x", "h")]))
def test_round_trip_transposed(layout: str, cfg: dict[str, Any], concat: tuple[str, str]) -> None:
    """The per-gate forms written ``orientation: columns`` (and concat either way) read back."""
    if refused(cfg, layout):
        return
    there = yaml.safe_load(convert(cfg, layout, orientation="columns", concat=concat))
    assert there["orientation"] == "columns"
    got, want = trace_of(there), trace_of(cfg)
    if summed_biases(cfg, layout):
        np.testing.assert_allclose(got["output"], want["output"], rtol=1e-12, atol=1e-12)
    else:
        assert got == want


@pytest.mark.parametrize("columns", [False, True])
@pytest.mark.parametrize("order", [["h", "x"], ["x", "h"]])
def test_concat_lstm_against_colah(order: list[str], columns: bool) -> None:
    """colah's LSTM in numpy: f = σ(W_f [h; x] + b_f), ..., c = f*c + i*C~, h = o*tanh(c)."""
    rng = np.random.default_rng(7)
    H, I, T = 2, 3, 3
    W = {g: rng.normal(size=(H, H + I)) for g in "ifco"}
    b = {g: rng.normal(size=H) for g in "ifco"}
    xs = rng.normal(size=(T, I))
    names = {"i": "i", "f": "f", "c": "g", "o": "o"}  # colah's C~ is rnncalc's g
    weights: dict[str, Any] = {}
    for g, ours in names.items():
        Wg = W[g] if order == ["h", "x"] else np.hstack([W[g][:, H:], W[g][:, :H]])
        weights[f"W_{ours}"] = (Wg.T if columns else Wg).tolist()
        weights[f"b_{ours}"] = b[g].tolist()
    cfg = {"cell": "lstm", "layout": "concat", "concat": order, "inputs": xs.tolist(),
           "weights": weights} | ({"orientation": "columns"} if columns else {})
    trace = trace_of(cfg)

    def sigmoid(v: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-v))

    h, c = np.zeros(H), np.zeros(H)
    for t in range(T):
        hx = np.concatenate([h, xs[t]])
        f, i, o = (sigmoid(W[g] @ hx + b[g]) for g in "fio")
        c = f * c + i * np.tanh(W["c"] @ hx + b["c"])
        h = o * np.tanh(c)
        np.testing.assert_allclose(trace["output"][t], h, rtol=1e-12, atol=1e-14)


def test_row_vector_orientation_against_numpy() -> None:
    """``orientation: columns``: h_t = tanh(x_t W_ih + h_{t-1} W_hh + b), matrices [in, out]."""
    rng = np.random.default_rng(3)
    Wx, Wh, b, xs = rng.normal(size=(3, 2)), rng.normal(size=(2, 2)), rng.normal(size=2), \
        rng.normal(size=(4, 3))
    cfg = {"cell": "rnn", "layout": "per-gate", "orientation": "columns", "inputs": xs.tolist(),
           "weights": {"W_ih": Wx.tolist(), "W_hh": Wh.tolist(), "b_ih": b.tolist()}}
    h = np.zeros(2)
    for t, got in enumerate(trace_of(cfg)["output"]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        np.testing.assert_allclose(got, h, rtol=1e-12, atol=1e-14)


def test_onnx_lstm_gate_order_by_hand() -> None:
    """ONNX stacks LSTM gates i, o, f, c: one unit, one step, worked by hand."""
    # W rows: i, o, f, c; x = 1, h0 = 0, c0 = 0.5, no biases
    cfg = {"cell": "lstm", "layout": "onnx", "inputs": [[1.0]], "initial": {"c": [[0.5]]},
           "weights": {"W": [[[1.0], [2.0], [3.0], [4.0]]], "R": [[[0.0]] * 4]}}
    step = trace_of(cfg)["layers"][0]["directions"]["forward"][0]

    def sigmoid(v: float) -> float:
        return float(1 / (1 + np.exp(-v)))

    i, o, f, g = sigmoid(1.0), sigmoid(2.0), sigmoid(3.0), float(np.tanh(4.0))
    assert step["act"]["i"] == pytest.approx([i]) and step["act"]["o"] == pytest.approx([o])
    assert step["act"]["f"] == pytest.approx([f]) and step["act"]["g"] == pytest.approx([g])
    assert step["c"] == pytest.approx([f * 0.5 + i * g])


# ---- errors -------------------------------------------------------------------------------------

BAD = {
    "onnx_W_shape": ("""\
cell: lstm
layout: onnx
inputs: [[1, 2, 3]]
weights:
  W: [[[1, 2], [3, 4]]]
  R: [[[1], [2], [3], [4]]]
""", "cfg.yaml:5: weights.W: expected shape [1, 4, 3] ([num_directions, 4*hidden, input], "
     "gates i|o|f|c), got [1, 2, 2]"),
    "onnx_activations": ("""\
cell: gru
layout: onnx
activations: [Sigmoid, Tanh, Tanh]
inputs: [[1]]
weights: {W: [[[1], [2], [3]]], R: [[[1], [2], [3]]]}
""", "cfg.yaml:3: activations: expected 2 names (2 per direction: gate, candidate), got "
     "['Sigmoid', 'Tanh', 'Tanh']"),
    "onnx_activation_name": ("""\
cell: rnn
layout: onnx
activations: [Tanhh]
inputs: [[1]]
weights: {W: [[[1]]], R: [[[1]]]}
""", "cfg.yaml:3: activations[0]: unknown ONNX activation 'Tanhh'"),
    "onnx_attribute_elsewhere": ("""\
cell: gru
linear_before_reset: 1
inputs: [[1]]
weights: {W_ir: [[1]], W_hr: [[1]], W_iz: [[1]], W_hz: [[1]], W_in: [[1]], W_hn: [[1]]}
""", "cfg.yaml:2: linear_before_reset: linear_before_reset is an ONNX attribute: it needs "
     "layout: onnx"),
    "keras_bias_rows": ("""\
cell: gru
layout: keras
reset_after: false
inputs: [[1]]
weights:
  kernel: [[1, 2, 3]]
  recurrent_kernel: [[1, 2, 3]]
  bias: [[0, 0, 0], [0, 0, 0]]
""", "cfg.yaml:8: weights.bias: expected shape [3] ([3*units, gates z|r|h]; a reset_after: "
     "false GRU has one bias), got [2, 3]"),
    "keras_sublayer": ("""\
cell: rnn
layout: keras
direction: bidirectional
inputs: [[1]]
weights:
  forward_layer: {kernel: [[1]], recurrent_kernel: [[1]]}
  backwards_layer: {kernel: [[1]], recurrent_kernel: [[1]]}
""", "cfg.yaml:7: weights.backwards_layer: unknown keras Bidirectional weight name "
     "'backwards_layer'; did you mean 'backward_layer'?"),
    "concat_order": ("""\
cell: rnn
layout: concat
inputs: [[1, 2]]
weights: {W_h: [[1, 2, 3]]}
""", "cfg.yaml:2: layout: layout: concat needs the key concat: [h, x] or [x, h]"),
    "concat_shape": ("""\
cell: rnn
layout: concat
concat: [h, x]
inputs: [[1, 2]]
weights: {W_h: [[1, 2]]}
""", "cfg.yaml:5: weights.W_h: expected shape [1, 3] (hidden x (hidden + input) on [h; x]), "
     "got [1, 2]"),
    "orientation_columns_shape": ("""\
cell: rnn
layout: per-gate
orientation: columns
inputs: [[1, 2, 3]]
weights:
  W_ih: [[1, 2], [3, 4]]
  W_hh: [[1, 2], [3, 4]]
""", "cfg.yaml:6: weights.W_ih: expected shape [3, 2] (input x hidden, orientation: columns, "
     "x W), got [2, 2]"),
    "orientation_needs_per_gate": ("""\
cell: rnn
orientation: columns
inputs: [[1]]
weights: {W_ih: [[1]], W_hh: [[1]]}
""", "cfg.yaml:2: orientation: orientation applies to the per-gate layouts (per-gate, concat), "
     "not to layout: pytorch"),
    "layout_name": ("""\
cell: rnn
layout: tensorflow
inputs: [[1]]
weights: {W_ih: [[1]], W_hh: [[1]]}
""", "cfg.yaml:2: layout: expected one of pytorch, per-gate, onnx, keras, concat; got "
     "'tensorflow'"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_layout_errors(cli: Any, tmp_path: Any, monkeypatch: Any, name: str) -> None:
    text, message = BAD[name]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cfg.yaml").write_text(text)
    cell = yaml.safe_load(text)["cell"]
    result = cli(cell, "--config", "cfg.yaml")
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


# ---- rnncalc convert ----------------------------------------------------------------------------


def test_convert_cli_writes_a_config_that_gives_the_same_trace(cli: Any, tmp_path: Any) -> None:
    from tests.conftest import CONFIGS

    out = tmp_path / "lstm_onnx.yaml"
    result = cli("convert", str(CONFIGS / "lstm.yaml"), "--to", "onnx", "--output", str(out))
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load(out.read_text())["layout"] == "onnx"
    assert trace_of(yaml.safe_load(out.read_text())) == \
        rnncalc.run(rnncalc.load(CONFIGS / "lstm.yaml")).to_dict()


def test_convert_writes_a_trained_models_weights_as_a_sheet(cli: Any, tmp_path: Any) -> None:
    """``--weights model.pt``: the sheet gives what torch.nn.LSTM itself gives."""
    import torch

    from tests.conftest import CONFIGS

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 2, dtype=torch.float64)
    torch.save(lstm.state_dict(), tmp_path / "model.pt")
    result = cli("convert", str(CONFIGS / "lstm.yaml"), "--to", "per-gate", "--weights",
                 str(tmp_path / "model.pt"))
    assert result.exit_code == 0, result.stderr
    sheet = yaml.safe_load(result.stdout)
    assert "W_ii" in sheet["weights"] and "model.pt" in result.stdout.splitlines()[0]
    with torch.no_grad():
        _, (h_n, c_n) = lstm(torch.tensor(sheet["inputs"], dtype=torch.float64))
    got = trace_of(sheet)
    np.testing.assert_allclose(got["h_n"], h_n.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got["c_n"], c_n.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("orientation", ["rows", "columns"])
def test_convert_writes_a_projected_lstm_as_a_per_gate_sheet(cli: Any, tmp_path: Any,
                                                           orientation: str) -> None:
    """The per-gate layout reads ``W_hr`` (README, form 2), so convert writes it there too (it
    refused: "a projection has no place in layout per-gate"); torch.nn.LSTM gives the answer."""
    import torch

    from tests.conftest import CONFIGS

    torch.manual_seed(1)
    lstm = torch.nn.LSTM(3, 2, num_layers=2, bidirectional=True, proj_size=1,
                         dtype=torch.float64)
    torch.save(lstm.state_dict(), tmp_path / "model.pt")
    result = cli("convert", str(CONFIGS / "lstm.yaml"), "--to", "per-gate", "--orientation",
                 orientation, "--weights", str(tmp_path / "model.pt"))
    assert result.exit_code == 0, result.stderr
    sheet = yaml.safe_load(result.stdout)
    assert len(sheet["weights"]["l1_reverse"]["W_hr"]) == (1 if orientation == "rows" else 2)
    with torch.no_grad():
        _, (h_n, c_n) = lstm(torch.tensor(sheet["inputs"], dtype=torch.float64))
    got = trace_of(sheet)
    np.testing.assert_allclose(got["h_n"], h_n.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got["c_n"], c_n.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("layout", TARGETS)
def test_every_shipped_config_converts(layout: str) -> None:
    """Every file in configs/ in every layout: the same trace, or a refusal that says why."""
    from tests.conftest import CONFIGS

    for path in sorted(CONFIGS.glob("*.yaml")):
        want = rnncalc.run(rnncalc.load(path)).to_dict()
        try:
            text = convert(path, layout)
        except rnncalc.ConfigError as exc:
            assert "layout" in str(exc) or "PyTorch" in str(exc), (path.name, str(exc))
            continue
        got = trace_of(yaml.safe_load(text))
        assert got.keys() == want.keys(), path.name
        np.testing.assert_allclose(got["output"], want["output"], rtol=1e-12, atol=1e-12,
                                   err_msg=path.name)
        assert got["formulation"] == want["formulation"], path.name


def test_convert_refuses_what_a_layout_cannot_hold(cli: Any, tmp_path: Any) -> None:
    cfg = tmp_path / "peep.yaml"
    cfg.write_text("cell: lstm\ninputs: [[1]]\nweights: {W_ii: [[1]], W_hi: [[1]], W_if: [[1]], "
                   "W_hf: [[1]], W_ig: [[1]], W_hg: [[1]], W_io: [[1]], W_ho: [[1]], "
                   "p_i: [0.5]}\n")
    result = cli("convert", str(cfg), "--to", "keras")
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "layout keras has no peephole weights" in result.stderr


def test_convert_needs_no_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, rnncalc.convert as c; c.convert({'cell': 'rnn', 'inputs': [[1]], "
            "'weights': {'W_ih': [[1]], 'W_hh': [[1]]}}, 'keras'); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_gru_w_hr_is_its_reset_block_not_a_projection():
    """W_hr is the GRU's reset gate's recurrent block (an LSTM's projection has the same name):
    in columns orientation a wrong one is named where it is written, not blamed on W_ir."""
    eye = [[1, 0], [0, 1]]
    config = {"cell": "gru", "layout": "per-gate", "orientation": "columns", "inputs": [[1, 2]],
              "weights": {"W_ir": eye, "W_iz": eye, "W_in": eye, "W_hr": [[1, 0, 3], [0, 1, 3]],
                          "W_hz": eye, "W_hn": eye}}
    with pytest.raises(rnncalc.ConfigError, match=r"weights\.W_hr: expected shape \[2, 2\]"):
        rnncalc.load(config)
