"""Issue #14: gradients as published backward exercises give them, against autograd.

Coursera's ``lstm_backward`` takes ``da`` (dL/dh at every step) and ``dc_next``; a walkthrough
prints each term of the loss; a sheet writes tanh(c_t) and sigmoid'(a) beside the gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import rnncalc
from rnncalc.bptt import backprop
from tests.conftest import ARRAYS, backprop_on

I, H, T = 3, 2, 4
RNG = np.random.default_rng(41)


def _lstm_config(cell: torch.nn.LSTMCell, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
                 **extra: Any) -> dict[str, Any]:
    weights = {f"{k}_l0": v.detach().tolist() for k, v in cell.state_dict().items()}
    return {"cell": "lstm", "inputs": xs.tolist(), "weights": weights,
            "initial": {"h": h0.tolist(), "c": c0.tolist()}, **extra}


def _autograd(cell: torch.nn.LSTMCell, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
              da: np.ndarray, dc: np.ndarray) -> dict[str, np.ndarray]:
    """L = sum_t <da_t, h_t> + <dc_t, c_t>: its gradients are what the upstream vectors say."""
    h = torch.tensor(h0, requires_grad=True)
    c = torch.tensor(c0, requires_grad=True)
    start = (h, c)
    loss = torch.zeros((), dtype=torch.float64)
    for t in range(len(xs)):
        h, c = cell(torch.tensor(xs[t]), (h, c))
        loss = loss + (h * torch.tensor(da[t])).sum() + (c * torch.tensor(dc[t])).sum()
    loss.backward()
    out = {f"{k}_l0": p.grad.numpy() for k, p in cell.named_parameters()}
    out["h0"], out["c0"] = start[0].grad.numpy(), start[1].grad.numpy()
    return out


@pytest.mark.parametrize("arrays", ARRAYS)
@pytest.mark.parametrize("dc_every_step", [False, True])
def test_courseras_da_and_dc_next_against_autograd(dc_every_step: bool, arrays: str) -> None:
    torch.manual_seed(41)
    cell = torch.nn.LSTMCell(I, H, dtype=torch.float64)
    xs, h0, c0 = RNG.normal(size=(T, I)), RNG.normal(size=H), RNG.normal(size=H)
    da = RNG.normal(size=(T, H))
    dc = RNG.normal(size=(T, H)) if dc_every_step else np.vstack([np.zeros((T - 1, H)),
                                                                  RNG.normal(size=(1, H))])
    given = dc if dc_every_step else dc[-1:]  # dc_next: the last step's only
    cfg = _lstm_config(cell, xs, h0, c0, upstream=da.tolist(), upstream_c=given.tolist())
    grad = backprop_on(arrays, cfg)
    want = _autograd(cell, xs, h0, c0, da, dc)
    for name, v in grad.params.items():
        np.testing.assert_allclose(np.asarray(v), want[name], rtol=1e-10, atol=1e-12, err_msg=name)
    doc = grad.to_dict()
    np.testing.assert_allclose(doc["initial"]["h"][0], want["h0"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(doc["initial"]["c"][0], want["c0"], rtol=1e-10, atol=1e-12)
    rows = doc["steps"][0]["directions"]["forward"]  # t = T-1 first
    np.testing.assert_allclose([r["dc_out"] for r in rows], dc[::-1], atol=0)


def test_fewer_upstream_vectors_are_the_last_positions() -> None:
    """upstream with K < T vectors: the last K positions; the rest are zero (da_next)."""
    torch.manual_seed(5)
    cell = torch.nn.LSTMCell(I, H, dtype=torch.float64)
    xs, h0, c0 = RNG.normal(size=(T, I)), np.zeros(H), np.zeros(H)
    last = RNG.normal(size=(1, H))
    da = np.vstack([np.zeros((T - 1, H)), last])
    cfg = _lstm_config(cell, xs, h0, c0, upstream=last.tolist())
    grad = backprop(rnncalc.run(rnncalc.load(cfg)))
    want = _autograd(cell, xs, h0, c0, da, np.zeros((T, H)))
    for name, v in grad.params.items():
        np.testing.assert_allclose(v.numpy(), want[name], rtol=1e-10, atol=1e-12, err_msg=name)
    assert grad.to_dict()["upstream"][0] == [0.0, 0.0]
    with pytest.raises(rnncalc.ConfigError, match=r"expected at most 4 vectors .*the last K "
                       r"positions', the rest zero\), got 5"):
        rnncalc.load({**cfg, "upstream": [[0.0, 0.0]] * 5})
    with pytest.raises(rnncalc.ConfigError, match="only an lstm has a cell state"):
        rnncalc.load({"cell": "rnn", "inputs": [[1.0]], "weights": {"W_ih": [[1.0]],
                      "W_hh": [[0.5]]}, "upstream_c": [[1.0]]})


def test_each_terms_loss_beside_the_total_worked_by_hand() -> None:
    """A scalar walkthrough: h_t = tanh(w x_t + u h_{t-1}), y_t = v h_t, L = sum 1/2 (y - t)^2:
    L_1, L_2 and their sum."""
    cfg = {"cell": "rnn", "inputs": [1, 2], "weights": {"W_ih": 0.5, "W_hh": -1},
           "head": {"task": "regression", "W": 2, "b": 0},
           "loss": {"type": "half_sse", "targets": [0.5, 1.0]}}
    h1 = np.tanh(0.5)
    h2 = np.tanh(1.0 - h1)
    L = [0.5 * (2 * h1 - 0.5) ** 2, 0.5 * (2 * h2 - 1.0) ** 2]
    doc = backprop(rnncalc.run(rnncalc.load(cfg))).to_dict()
    assert doc["head"]["terms"] == pytest.approx(L, abs=1e-15)
    assert doc["loss"] == pytest.approx(sum(L), abs=1e-15)


def test_intermediates_a_sheet_prints_against_autograd(cli, tmp_path) -> None:
    """tanh(c_t) and every gate's act'(a), as JSON fields and as --step-by-step rows."""
    torch.manual_seed(7)
    cell = torch.nn.LSTMCell(I, H, dtype=torch.float64)
    xs = RNG.normal(size=(T, I))
    cfg = _lstm_config(cell, xs, np.zeros(H), np.zeros(H), upstream=[[1.0, 1.0]])
    trace = rnncalc.run(rnncalc.load(cfg))
    rows = backprop(trace).to_dict()["steps"][0]["directions"]["forward"]
    tr = trace.layers[0].directions["forward"]
    for row in rows:
        t = row["t"]
        np.testing.assert_allclose(row["tanh_c"], torch.tanh(tr.c[t]).numpy(), rtol=1e-14)
        for gate, fn in (("i", torch.sigmoid), ("f", torch.sigmoid), ("g", torch.tanh),
                         ("o", torch.sigmoid)):
            a = tr.pre[gate][t].clone().requires_grad_(True)
            fn(a).sum().backward()
            np.testing.assert_allclose(row["slope"][gate], a.grad.numpy(), rtol=1e-12,
                                       err_msg=gate)
    import yaml

    path = tmp_path / "up.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = cli("grad", "-c", str(path), "--step-by-step")
    assert result.exit_code == 0, result.output
    assert "tanh(c_t)" in result.stdout and "sigmoid'(a_f)" in result.stdout
    assert "tanh'(a_g)" in result.stdout
    assert "tanh(c_t)" not in cli("grad", "-c", str(path)).stdout


def _sig(v: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(v)


def _lstm_run(gates: Any, xs: np.ndarray) -> torch.Tensor:
    """Sum of h_T with gates(x, h) -> (i, f, g, o) pre-activations: the loss autograd takes."""
    h = torch.zeros(H, dtype=torch.float64)
    c = torch.zeros(H, dtype=torch.float64)
    for x in torch.tensor(xs):
        i, f, g, o = gates(x, h)
        c = _sig(f) * c + _sig(i) * torch.tanh(g)
        h = _sig(o) * torch.tanh(c)
    return h.sum()


def _param(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.tensor(RNG.normal(size=shape), requires_grad=True)


def _grads_as_written(cfg: dict[str, Any]) -> dict[str, Any]:
    cfg = {**cfg, "upstream": [[1.0] * H]}  # dL/dh_T = 1: L = sum of h_T
    return backprop(rnncalc.run(rnncalc.load(cfg))).to_dict()["params_as_written"]


def test_concat_gradients_named_as_courseras_dW_f() -> None:
    xs = RNG.normal(size=(T, I))
    W = {g: _param((H, H + I)) for g in "fico"}
    b = {g: _param((H,)) for g in "fico"}
    loss = _lstm_run(lambda x, h: tuple(W[g] @ torch.cat([h, x]) + b[g] for g in "ifco"), xs)
    loss.backward()
    cfg = {"cell": "lstm", "layout": "concat", "concat": ["h", "x"], "inputs": xs.tolist(),
           "weights": {f"{p}_{g}": v[g].tolist() for g in "fico" for p, v in (("W", W),
                                                                               ("b", b))}}
    got = _grads_as_written(cfg)
    assert got["layout"] == "concat"
    assert sorted(got["grads"]) == sorted(f"d{p}_{g}" for g in "fico" for p in "Wb")
    for g in "fico":  # the names as written: Coursera's c, not rnncalc's g
        np.testing.assert_allclose(got["grads"][f"dW_{g}"], W[g].grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(got["grads"][f"db_{g}"], b[g].grad.numpy(), rtol=1e-10)


def test_keras_and_onnx_gradients_in_their_own_tensors() -> None:
    xs = RNG.normal(size=(T, I))
    kernel, rk, bias = _param((I, 4 * H)), _param((H, 4 * H)), _param((4 * H,))

    def keras(x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
        i, f, c, o = (x @ kernel + h @ rk + bias).split(H)  # Keras: i, f, c, o
        return i, f, c, o

    _lstm_run(keras, xs).backward()
    got = _grads_as_written({"cell": "lstm", "layout": "keras", "inputs": xs.tolist(),
                             "weights": {"kernel": kernel.tolist(),
                                         "recurrent_kernel": rk.tolist(),
                                         "bias": bias.tolist()}})["grads"]
    for name, p in (("dkernel", kernel), ("drecurrent_kernel", rk), ("dbias", bias)):
        np.testing.assert_allclose(got[name], p.grad.numpy(), rtol=1e-10, err_msg=name)
    W, R, B = _param((1, 4 * H, I)), _param((1, 4 * H, H)), _param((1, 8 * H))

    def onnx(x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
        a = W[0] @ x + R[0] @ h + B[0, :4 * H] + B[0, 4 * H:]
        i, o, f, c = a.split(H)  # ONNX: i, o, f, c
        return i, f, c, o

    _lstm_run(onnx, xs).backward()
    got = _grads_as_written({"cell": "lstm", "layout": "onnx", "inputs": xs.tolist(),
                             "weights": {"W": W.tolist(), "R": R.tolist(), "B": B.tolist()}})
    for name, p in (("dW", W), ("dR", R), ("dB", B)):
        np.testing.assert_allclose(got["grads"][name], p.grad.numpy(), rtol=1e-10,
                                   err_msg=name)


def test_d2l_and_per_gate_gradients_keep_their_names() -> None:
    xs = RNG.normal(size=(T, I))
    P = {f"W_x{g}": _param((I, H)) for g in "ifoc"} | {f"W_h{g}": _param((H, H))
                                                       for g in "ifoc"}
    P |= {f"b_{g}": _param((H,)) for g in "ifoc"}
    _lstm_run(lambda x, h: tuple(x @ P[f"W_x{g}"] + h @ P[f"W_h{g}"] + P[f"b_{g}"]
                                 for g in "ifco"), xs).backward()
    got = _grads_as_written({"cell": "lstm", "convention": "d2l", "inputs": xs.tolist(),
                             "weights": {k: v.tolist() for k, v in P.items()}})
    assert got["layout"] == "d2l" and sorted(got["grads"]) == sorted(f"d{k}" for k in P)
    for name, p in P.items():
        np.testing.assert_allclose(got["grads"][f"d{name}"], p.grad.numpy(), rtol=1e-10,
                                   err_msg=name)
    # the same weights as a per-gate sheet in columns, one bias per gate (b_i? only)
    cols = {k.replace("W_x", "W_i").replace("c", "g") if k.startswith("W_x") else
            k.replace("c", "g").replace("b_", "b_i"): v for k, v in P.items()}
    got = _grads_as_written({"cell": "lstm", "layout": "per-gate", "orientation": "columns",
                             "inputs": xs.tolist(),
                             "weights": {k: v.tolist() for k, v in cols.items()}})
    assert sorted(got["grads"]) == sorted(f"d{k}" for k in cols)  # no db_h?: none written
    np.testing.assert_allclose(got["grads"]["dW_ig"], P["W_xc"].grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(got["grads"]["db_ig"], P["b_c"].grad.numpy(), rtol=1e-10)


def test_the_shipped_coursera_backward_exercise_against_autograd() -> None:
    """configs/lstm_coursera_backward.yaml, typed into torch from the file's own numbers:
    L = sum_t <da_t, a_t> + <dc_next, c_T>, so autograd's gradients are the notebook's."""
    import yaml

    from tests.conftest import CONFIGS

    cfg = yaml.safe_load((CONFIGS / "lstm_coursera_backward.yaml").read_text())
    W = {g: torch.tensor(cfg["weights"][f"W_{g}"], dtype=torch.float64, requires_grad=True)
         for g in "fico"}
    b = {g: torch.tensor(cfg["weights"][f"b_{g}"], dtype=torch.float64, requires_grad=True)
         for g in "fico"}
    a = torch.zeros(2, 1, dtype=torch.float64)
    c = torch.zeros(2, 1, dtype=torch.float64)
    loss = torch.zeros((), dtype=torch.float64)
    for x, da in zip(cfg["inputs"], cfg["upstream"], strict=True):
        concat = torch.cat([a, torch.tensor(x, dtype=torch.float64)])
        ft, it, ot = (torch.sigmoid(W[g] @ concat + b[g]) for g in "fio")
        c = ft * c + it * torch.tanh(W["c"] @ concat + b["c"])
        a = ot * torch.tanh(c)
        loss = loss + (a[:, 0] * torch.tensor(da, dtype=torch.float64)).sum()
    loss = loss + (c[:, 0] * torch.tensor(cfg["upstream_c"][0], dtype=torch.float64)).sum()
    loss.backward()
    ex = rnncalc.load(CONFIGS / "lstm_coursera_backward.yaml")
    got = backprop(rnncalc.run(ex)).to_dict()["params_as_written"]["grads"]
    for g in "fico":
        np.testing.assert_allclose(got[f"dW_{g}"], W[g].grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(np.array(got[f"db_{g}"])[:, None], b[g].grad.numpy(),
                                   rtol=1e-10)
