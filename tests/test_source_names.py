"""Issue #14: source names and shapes as published exercises write them.

Every reference is independent of rnncalc's reader: torch.nn modules loaded in the test, the
sources' own equations in numpy, or numbers worked here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import rnncalc


def trace_of(cfg: dict[str, Any]) -> dict[str, Any]:
    return rnncalc.run(rnncalc.load(cfg)).to_dict()


def sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


RNG = np.random.default_rng(14)
H, I, T = 2, 3, 3
XS = RNG.normal(size=(T, I))


def test_concat_lstm_takes_courseras_W_c_and_b_c() -> None:
    """Coursera's lstm_cell_forward: concat = [a_prev; xt], cct = tanh(Wc concat + bc)."""
    W = {g: RNG.normal(size=(H, H + I)) for g in "fico"}
    b = {g: RNG.normal(size=(H, 1)) for g in "fico"}  # numpy column vectors, as Coursera's
    weights = {f"W_{g}": W[g].tolist() for g in "fico"} | {f"b_{g}": b[g].tolist() for g in "fico"}
    cfg = {"cell": "lstm", "layout": "concat", "concat": ["h", "x"], "inputs": XS.tolist(),
           "weights": weights}
    a, c = np.zeros((H, 1)), np.zeros((H, 1))
    for t, got in enumerate(trace_of(cfg)["output"]):
        concat = np.vstack([a, XS[t][:, None]])
        ft, it, ot = (sigmoid(W[g] @ concat + b[g]) for g in "fio")
        c = ft * c + it * np.tanh(W["c"] @ concat + b["c"])
        a = ot * np.tanh(c)
        np.testing.assert_allclose(got, a[:, 0], rtol=1e-12, atol=1e-14)


def test_concat_refuses_W_c_beside_W_g() -> None:
    cfg = {"cell": "lstm", "layout": "concat", "concat": ["h", "x"], "inputs": [[1.0]],
           "weights": {g: [[0.0, 0.0]] for g in ("W_i", "W_f", "W_g", "W_c", "W_o")}}
    with pytest.raises(rnncalc.ConfigError, match="W_c and W_g are the same weight"):
        rnncalc.load(cfg)


def test_per_gate_lstm_takes_W_ic_W_hc_b_ic_as_the_candidate() -> None:
    lstm = torch.nn.LSTM(I, H, dtype=torch.float64)
    sd = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
    weights: dict[str, Any] = {}
    for k, g in enumerate("ifco"):  # torch's blocks i, f, g, o; the sheet calls g c
        block = slice(k * H, (k + 1) * H)
        weights[f"W_i{g}"] = sd["weight_ih_l0"][block].tolist()
        weights[f"W_h{g}"] = sd["weight_hh_l0"][block].tolist()
        weights[f"b_i{g}"] = sd["bias_ih_l0"][block].tolist()
        weights[f"b_h{g}"] = sd["bias_hh_l0"][block].tolist()
    out, _ = lstm(torch.tensor(XS))
    got = trace_of({"cell": "lstm", "inputs": XS.tolist(), "weights": weights})
    np.testing.assert_allclose(got["output"], out.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_an_alias_error_names_the_key_as_written() -> None:
    weights = {f"W_i{g}": [[0.0] * I] * H for g in "ifo"} | {f"W_h{g}": [[0.0] * H] * H
                                                              for g in "ifco"}
    weights["W_ic"] = [[0.0] * (I + 1)] * H
    with pytest.raises(rnncalc.ConfigError) as err:
        rnncalc.load({"cell": "lstm", "inputs": XS.tolist(), "weights": weights})
    assert err.value.path == "weights.W_ic" and "expected shape [2, 3]" in str(err.value)


def test_d2l_lstm_names_against_torch() -> None:
    """d2l: I = sigmoid(X W_xi + H W_hi + b_i), ..., C~ = tanh(X W_xc + H W_hc + b_c)."""
    lstm = torch.nn.LSTM(I, H, dtype=torch.float64)
    with torch.no_grad():
        lstm.bias_hh_l0.zero_()
    sd = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
    weights: dict[str, Any] = {}
    for k, g in enumerate("ifco"):
        block = slice(k * H, (k + 1) * H)
        weights[f"W_x{g}"] = sd["weight_ih_l0"][block].T.tolist()  # d2l: [in, hidden]
        weights[f"W_h{g}"] = sd["weight_hh_l0"][block].T.tolist()
        weights[f"b_{g}"] = sd["bias_ih_l0"][block].tolist()
    out, _ = lstm(torch.tensor(XS))
    got = trace_of({"cell": "lstm", "convention": "d2l", "inputs": XS.tolist(),
                    "weights": weights})
    np.testing.assert_allclose(got["output"], out.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_d2l_gru_names_against_d2ls_own_equations() -> None:
    """d2l's gru(): R = σ(X W_xr + H W_hr + b_r), Z = ..., H~ = tanh(X W_xh + (R*H) W_hh + b_h),
    H = Z*H + (1 - Z)*H~."""
    P = {f"W_x{g}": RNG.normal(size=(I, H)) for g in "rzh"}
    P |= {f"W_h{g}": RNG.normal(size=(H, H)) for g in "rzh"}
    P |= {f"b_{g}": RNG.normal(size=H) for g in "rzh"}
    got = trace_of({"cell": "gru", "convention": "d2l", "inputs": XS.tolist(),
                    "weights": {k: v.tolist() for k, v in P.items()}})
    h = np.zeros(H)
    for t in range(T):
        x = XS[t]
        r = sigmoid(x @ P["W_xr"] + h @ P["W_hr"] + P["b_r"])
        z = sigmoid(x @ P["W_xz"] + h @ P["W_hz"] + P["b_z"])
        cand = np.tanh(x @ P["W_xh"] + (r * h) @ P["W_hh"] + P["b_h"])
        h = z * h + (1 - z) * cand
        np.testing.assert_allclose(got["output"][t], h, rtol=1e-12, atol=1e-14)


def test_d2l_names_are_checked_as_written() -> None:
    weights = {"W_xh": [[0.1, 0.2, 0.3]] * 2, "W_hh": [[0.0, 0.0]] * 2}  # W_xh must be [3, 2]
    with pytest.raises(rnncalc.ConfigError) as err:
        rnncalc.load({"cell": "rnn", "convention": "d2l", "inputs": XS.tolist(),
                      "weights": weights})
    assert err.value.path == "weights.W_xh" and "expected shape [3, 2]" in str(err.value)
    with pytest.raises(rnncalc.ConfigError, match="unknown d2l rnn weight name 'W_ih'"):
        rnncalc.load({"cell": "rnn", "convention": "d2l", "inputs": XS.tolist(),
                      "weights": {"W_xh": [[0.0]] * 3, "W_ih": [[0.0]]}})


def test_bare_numbers_for_a_one_unit_net_worked_by_hand() -> None:
    """h_t = tanh(0.5 x_t - h_{t-1} + 0.1), h_{-1} = 0.2, y = 2 h + 1, typed as a scalar sheet."""
    cfg = {"cell": "rnn", "inputs": [1, 2, 3], "initial": {"h": 0.2},
           "weights": {"W_ih": 0.5, "W_hh": -1, "b_ih": 0.1},
           "head": {"task": "regression", "W": 2, "b": 1}}
    got = trace_of(cfg)
    h = 0.2
    for t, x in enumerate([1, 2, 3]):
        h = float(np.tanh(0.5 * x - h + 0.1))
        assert got["output"][t] == pytest.approx([h], abs=1e-15)
    assert got["head"]["y"] == pytest.approx([2 * h + 1], abs=1e-15)


def test_numpy_column_vectors_read_as_vectors() -> None:
    """Coursera writes b, a0 and each x_t as (n, 1): the same exercise as plain vectors."""
    plain = {"cell": "rnn", "inputs": XS.tolist(), "initial": {"h": [0.1, -0.2]},
             "weights": {"W_ih": RNG.normal(size=(H, I)).tolist(),
                         "W_hh": RNG.normal(size=(H, H)).tolist(), "b_ih": [0.3, -0.4]}}
    columns = {**plain, "inputs": [[[v] for v in x] for x in XS.tolist()],
               "initial": {"h": [[0.1], [-0.2]]},
               "weights": {**plain["weights"], "b_ih": [[0.3], [-0.4]]}}
    assert trace_of(columns) == trace_of(plain)


def test_head_in_columns_and_a_keras_dense_kernel() -> None:
    """The TF book's w_output [[1.0], [2.0]] (h W), and a Keras Dense kernel [width, outputs]."""
    weights = {"W_ih": [[0.5, -0.5, 1.0], [0.25, 0.0, -1.0]], "W_hh": [[0.1, 0.2], [-0.3, 0.4]]}
    per_gate = {"cell": "rnn", "layout": "per-gate", "orientation": "columns",
                "inputs": XS.tolist(),
                "weights": {"W_ih": np.array(weights["W_ih"]).T.tolist(),
                            "W_hh": np.array(weights["W_hh"]).T.tolist()},
                "head": {"task": "regression", "W": [[1.0], [2.0]], "b": 0.5}}
    got = trace_of(per_gate)
    h = np.array(got["output"][-1])
    assert got["head"]["y"] == pytest.approx([h[0] * 1.0 + h[1] * 2.0 + 0.5], abs=1e-14)
    keras = {"cell": "rnn", "layout": "keras", "inputs": XS.tolist(),
             "weights": {"kernel": per_gate["weights"]["W_ih"],
                         "recurrent_kernel": per_gate["weights"]["W_hh"]},
             "head": {"task": "regression", "kernel": [[1.0, 0.0], [2.0, -1.0]],
                      "bias": [0.5, 0.25]}}
    got = trace_of(keras)
    h = np.array(got["output"][-1])
    want = h @ np.array([[1.0, 0.0], [2.0, -1.0]]) + np.array([0.5, 0.25])
    np.testing.assert_allclose(got["head"]["y"], want, rtol=1e-14)
    with pytest.raises(rnncalc.ConfigError, match="needs layout: keras"):
        rnncalc.load({**per_gate, "layout": "per-gate", "head": keras["head"]})


def test_flat_row_major_arrays_with_their_shape() -> None:
    """TFLite keeps every tensor as a flat buffer: {shape, values} is read row-major."""
    W_ih = RNG.normal(size=(H, I))
    nested = {"cell": "rnn", "inputs": XS.tolist(),
              "weights": {"W_ih": W_ih.tolist(), "W_hh": [[0.5, 0.0], [0.0, 0.5]]}}
    flat = {**nested, "inputs": {"shape": [T, I], "values": XS.reshape(-1).tolist()},
            "weights": {"W_ih": {"shape": [H, I], "values": W_ih.reshape(-1).tolist()},
                        "W_hh": {"shape": [2, 2], "values": [0.5, 0.0, 0.0, 0.5]}}}
    assert trace_of(flat) == trace_of(nested)
    bad = {**nested, "weights": {**nested["weights"], "W_ih": W_ih.reshape(-1).tolist()}}
    with pytest.raises(rnncalc.ConfigError, match=r"a flat list of 6 numbers; .*\{shape: "):
        rnncalc.load(bad)
    short = {**nested, "weights": {**nested["weights"], "W_ih": {"shape": [2, 3],
                                                                  "values": [1, 2]}}}
    with pytest.raises(rnncalc.ConfigError, match=r"expected 6 numbers \(shape \[2, 3\]"):
        rnncalc.load(short)


class _Model(torch.nn.Module):
    def __init__(self, cell: type[torch.nn.Module] = torch.nn.GRU, outputs: int = 2) -> None:
        super().__init__()
        self.rnn = cell(I, H, dtype=torch.float64)
        self.fc = torch.nn.Linear(H, outputs, dtype=torch.float64)


def test_a_whole_models_file_finds_the_recurrent_module_and_its_linear_head(tmp_path) -> None:
    model = _Model()
    torch.save(model.state_dict(), tmp_path / "model.pt")
    cfg = tmp_path / "ex.yaml"
    cfg.write_text(f"cell: gru\ninputs: {XS.tolist()}\nweights_file: model.pt\n"
                   "head: {task: regression}\n")
    got = rnncalc.run(rnncalc.load(cfg)).to_dict()
    out, h_n = model.rnn(torch.tensor(XS))
    np.testing.assert_allclose(got["output"], out.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got["head"]["y"], model.fc(h_n[0]).detach().numpy(), rtol=1e-12)


def test_weights_prefix_names_the_module_and_messages_list_the_prefixes(tmp_path) -> None:
    model = torch.nn.ModuleDict({"enc": torch.nn.GRU(I, H, dtype=torch.float64),
                                 "dec": torch.nn.GRU(H, H, dtype=torch.float64)})
    torch.save(model.state_dict(), tmp_path / "two.pt")
    cfg = tmp_path / "ex.yaml"
    cfg.write_text(f"cell: gru\ninputs: {XS.tolist()}\nweights_file: two.pt\n")
    with pytest.raises(rnncalc.ConfigError, match=r"several recurrent modules \('enc', 'dec'\); "
                       "name one with weights_prefix"):
        rnncalc.load(cfg)
    cfg.write_text(f"cell: gru\ninputs: {XS.tolist()}\nweights_file: two.pt\n"
                   "weights_prefix: enc\n")
    got = rnncalc.run(rnncalc.load(cfg)).to_dict()
    out, _ = model["enc"](torch.tensor(XS))
    np.testing.assert_allclose(got["output"], out.detach().numpy(), rtol=1e-12, atol=1e-14)
    cfg.write_text(f"cell: gru\ninputs: {XS.tolist()}\nweights_file: two.pt\n"
                   "weights_prefix: rnn\n")
    with pytest.raises(rnncalc.ConfigError, match=r"weights_prefix: no module 'rnn' in the file; "
                       r"it holds 'enc', 'dec'"):
        rnncalc.load(cfg)


def test_a_yaml_weight_hr_sets_proj_size_as_a_file_does() -> None:
    lstm = torch.nn.LSTM(I, 3, proj_size=2, dtype=torch.float64)
    weights = {k: v.tolist() for k, v in lstm.state_dict().items()}
    got = trace_of({"cell": "lstm", "inputs": XS.tolist(), "weights": weights})
    out, _ = lstm(torch.tensor(XS))
    np.testing.assert_allclose(got["output"], out.detach().numpy(), rtol=1e-12, atol=1e-14)
