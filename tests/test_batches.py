"""Issue #14: a batch of sequences in one config, against torch.nn modules run on the whole batch
(packed sequences for different lengths), torch.nn losses over the batch, and autograd."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnncalc
from rnncalc import minibatch
from tests.conftest import CONFIGS

MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
I, H = 3, 2
LENGTHS = [4, 2, 3]


def _batch_config(cell: str, module: torch.nn.Module, xs: list[np.ndarray],
                  **extra: Any) -> dict[str, Any]:
    weights = {k: v.detach().tolist() for k, v in module.state_dict().items()}
    return {"cell": cell, "bidirectional": module.bidirectional,
            "num_layers": module.num_layers, "weights": weights,
            "batch": [{"inputs": x.tolist()} for x in xs], **extra}


def _padded(xs: list[np.ndarray]) -> torch.Tensor:
    out = torch.zeros(len(xs), max(len(x) for x in xs), I, dtype=torch.float64)
    for b, x in enumerate(xs):
        out[b, :len(x)] = torch.tensor(x)
    return out


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_different_lengths_agree_with_packed_sequences(cell: str, bidirectional: bool) -> None:
    """Outputs past a sequence's end are zero; its final state is at its own last step."""
    torch.manual_seed(14)
    module = MODULES[cell](I, H, num_layers=2, bidirectional=bidirectional, batch_first=True,
                           dtype=torch.float64)
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(n, I)) for n in LENGTHS]
    packed = pack_padded_sequence(_padded(xs), LENGTHS, batch_first=True, enforce_sorted=False)
    out, state = module(packed)
    out, _ = pad_packed_sequence(out, batch_first=True)
    h_n = state[0] if cell == "lstm" else state
    batch = rnncalc.load(_batch_config(cell, module, xs), batch=True)
    got = minibatch.run(batch).to_dict()
    assert got["batch"] == {"size": 3, "sequence_lens": LENGTHS}
    assert got["sizes"]["batch"] == 3 and got["sizes"]["steps"] == 4
    np.testing.assert_allclose(got["output"], out.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got["h_n"], h_n.detach().numpy(), rtol=1e-12, atol=1e-14)
    if cell == "lstm":
        np.testing.assert_allclose(got["c_n"], state[1].detach().numpy(), rtol=1e-12,
                                   atol=1e-14)
    # each sequence's own JSON is exactly that of the sequence run alone
    for b, x in enumerate(xs):
        alone = rnncalc.load({k: v for k, v in _batch_config(cell, module, xs).items()
                              if k != "batch"} | {"inputs": x.tolist()})
        assert got["sequences"][b] == rnncalc.run(alone).to_dict()


def test_initial_states_per_sequence_or_shared() -> None:
    torch.manual_seed(2)
    module = torch.nn.LSTM(I, H, batch_first=True, dtype=torch.float64)
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=(3, I)) for _ in range(2)]
    h0 = rng.normal(size=(1, 2, H))
    c0 = rng.normal(size=(1, 2, H))
    cfg = _batch_config("lstm", module, xs)
    cfg["initial"] = {"h": h0[0, 0].tolist(), "c": c0[0, 0].tolist()}  # shared by both ...
    cfg["batch"][1]["initial"] = {"h": h0[0, 1].tolist(), "c": c0[0, 1].tolist()}  # ... but one
    out, _ = module(_padded(xs), (torch.tensor(np.stack([h0[0, 0], h0[0, 1]])[None]),
                                  torch.tensor(np.stack([c0[0, 0], c0[0, 1]])[None])))
    got = minibatch.run(rnncalc.load(cfg, batch=True)).to_dict()
    np.testing.assert_allclose(got["output"], out.detach().numpy(), rtol=1e-12, atol=1e-14)


def _autograd_params(module: torch.nn.Module, fc: torch.nn.Linear) -> dict[str, np.ndarray]:
    out = {k: v.grad.numpy() for k, v in module.named_parameters()}
    out["head.W"], out["head.b"] = fc.weight.grad.numpy(), fc.bias.grad.numpy()
    return out


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_on_the_final_states_reduces_over_the_batch_as_torch(reduction: str) -> None:
    torch.manual_seed(3)
    module = torch.nn.GRU(I, H, batch_first=True, dtype=torch.float64)
    fc = torch.nn.Linear(H, 2, dtype=torch.float64)
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(n, I)) for n in LENGTHS]
    targets = rng.normal(size=(3, 2))
    packed = pack_padded_sequence(_padded(xs), LENGTHS, batch_first=True, enforce_sorted=False)
    _, h_n = module(packed)
    loss = torch.nn.MSELoss(reduction=reduction)(fc(h_n[0]), torch.tensor(targets))
    loss.backward()
    cfg = _batch_config("gru", module, xs, loss={"type": "mse", "reduction": reduction},
                        head={"task": "regression", "W": fc.weight.tolist(),
                              "b": fc.bias.tolist()})
    for b, t in enumerate(targets):
        cfg["batch"][b]["target"] = t.tolist()
    trace = minibatch.run(rnncalc.load(cfg, batch=True))
    grad = minibatch.backprop(trace)
    assert grad.value == pytest.approx(loss.item(), rel=1e-12)
    assert sum(grad.to_dict()["sequence_losses"]) == pytest.approx(loss.item(), rel=1e-12)
    want = _autograd_params(module, fc)
    for name, v in grad.params.items():
        np.testing.assert_allclose(v.numpy(), want[name], rtol=1e-10, atol=1e-12, err_msg=name)


def test_cross_entropy_at_every_position_of_different_lengths() -> None:
    """Labeling over a packed batch: torch averages over every real position of the batch."""
    torch.manual_seed(4)
    module = torch.nn.LSTM(I, H, batch_first=True, bidirectional=True, dtype=torch.float64)
    fc = torch.nn.Linear(2 * H, 3, dtype=torch.float64)
    rng = np.random.default_rng(4)
    xs = [rng.normal(size=(n, I)) for n in LENGTHS]
    labels = [rng.integers(0, 3, size=n) for n in LENGTHS]
    packed = pack_padded_sequence(_padded(xs), LENGTHS, batch_first=True, enforce_sorted=False)
    out, _ = module(packed)
    logits = fc(out.data)  # the packed positions, every real one once
    order = pack_padded_sequence(torch.tensor(np.stack([np.pad(k, (0, 4 - len(k)))
                                                        for k in labels])),
                                 LENGTHS, batch_first=True, enforce_sorted=False).data
    loss = torch.nn.CrossEntropyLoss()(logits, order)
    loss.backward()
    cfg = _batch_config("lstm", module, xs, loss={"type": "cross_entropy"},
                        head={"task": "labeling", "W": fc.weight.tolist(),
                              "b": fc.bias.tolist()})
    for b, k in enumerate(labels):
        cfg["batch"][b]["targets"] = k.tolist()
    grad = minibatch.backprop(minibatch.run(rnncalc.load(cfg, batch=True)))
    assert grad.value == pytest.approx(loss.item(), rel=1e-12)
    assert grad.to_dict()["terms"] == sum(LENGTHS)
    want = _autograd_params(module, fc)
    for name, v in grad.params.items():
        np.testing.assert_allclose(v.numpy(), want[name], rtol=1e-10, atol=1e-12, err_msg=name)


def test_sequence_lens_drops_the_padding() -> None:
    torch.manual_seed(5)
    module = torch.nn.RNN(I, H, batch_first=True, dtype=torch.float64)
    rng = np.random.default_rng(5)
    xs = [rng.normal(size=(n, I)) for n in LENGTHS]
    padded = _padded(xs).tolist()
    cfg = _batch_config("rnn", module, xs)
    cfg["batch"] = padded  # bare lists of vectors, all of length 4, as ONNX's X
    cfg["sequence_lens"] = LENGTHS
    got = minibatch.run(rnncalc.load(cfg, batch=True)).to_dict()
    assert got["batch"]["sequence_lens"] == LENGTHS
    packed = pack_padded_sequence(_padded(xs), LENGTHS, batch_first=True, enforce_sorted=False)
    _, h_n = module(packed)
    np.testing.assert_allclose(got["h_n"], h_n.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_batch_errors_name_the_entry(tmp_path) -> None:
    cfg = {"cell": "rnn", "weights": {"W_ih": [[1.0, 0.0]], "W_hh": [[0.5]]},
           "batch": [{"inputs": [[1, 2]]}, {"inputs": [[1, 2, 3]]}]}
    with pytest.raises(rnncalc.ConfigError) as err:
        rnncalc.load(cfg, batch=True)
    assert err.value.path.startswith("batch[1].")
    with pytest.raises(rnncalc.ConfigError, match="holds a batch"):
        rnncalc.load({**cfg, "batch": [{"inputs": [[1, 2]]}]})
    with pytest.raises(rnncalc.ConfigError, match=r"unknown key 'weights' in a batch entry"):
        rnncalc.load({**cfg, "batch": [{"inputs": [[1, 2]], "weights": {}}]}, batch=True)
    with pytest.raises(rnncalc.ConfigError, match="sequence 0 has length 2, but its inputs"):
        rnncalc.load({**cfg, "batch": [[[1, 2]]], "sequence_lens": [2]}, batch=True)


def test_cli_shows_the_batch_axis(cli, tmp_path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("cell: rnn\nweights: {W_ih: [[1, 0]], W_hh: [[0.5]]}\n"
                    "head: {task: regression, W: [[2]], b: 0}\nloss: {type: mse}\n"
                    "batch:\n  - {inputs: [[1, 2], [0, 1]], target: 1}\n"
                    "  - {inputs: [[0.5, 0]], target: 0}\n")
    result = cli("rnn", "-c", str(path))
    assert result.exit_code == 0, result.output
    assert "Sequence 0 of the batch (2 sequences" in result.stdout
    assert "Sequence 1 of the batch (2 sequences, the same weights) · 1 step" in result.stdout
    result = cli("grad", "-c", str(path), "-f", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    h0, h1 = np.tanh(1.0), np.tanh(0.5)
    h0 = np.tanh(0.0 + 0.5 * h0)
    # mse over the batch of two one-output terms: ((2 h_a - 1)^2 + (2 h_b - 0)^2) / 2
    assert doc["grad"]["loss"] == pytest.approx(((2 * h0 - 1) ** 2 + (2 * h1) ** 2) / 2)
    assert doc["grad"]["params"]["head.W"][0][0] == pytest.approx((2 * h0 - 1) * h0 + 2 * h1 * h1)
    result = cli("rnn", "-c", str(path), "-f", "markdown")
    assert result.exit_code == 2 and "a batch is written as table or json" in result.stderr


BATCH_CONFIGS = sorted((CONFIGS / "batch").glob("*.yaml"))


@pytest.mark.parametrize("path", BATCH_CONFIGS, ids=lambda p: p.name)
def test_every_shipped_batch_config_runs(cli, path) -> None:
    """configs/batch/ (kept apart from configs/, whose files every command takes one sequence
    at a time): each runs forward, and backward when it has a loss."""
    batch = rnncalc.load(path, batch=True)
    got = minibatch.run(batch).to_dict()
    assert got["batch"]["size"] == len(batch.exercises) >= 2
    result = cli(batch.first.cell, "-c", str(path), "-f", "json")
    assert result.exit_code == 0, result.output
    if batch.first.loss is not None:
        result = cli("grad", "-c", str(path), "-f", "json")
        assert result.exit_code == 0, result.output
        assert "params" in json.loads(result.stdout)["grad"]
    assert cli("validate", str(path)).exit_code == 0


def test_the_shipped_lstm_batch_against_torch() -> None:
    """configs/batch/lstm_batch.yaml typed into torch by hand: one LSTM, three packed sequences,
    MSELoss over the batch."""
    cfg = rnncalc.load(CONFIGS / "batch" / "lstm_batch.yaml", batch=True)
    lstm = torch.nn.LSTM(2, 2, batch_first=True, dtype=torch.float64)
    w = {"weight_ih_l0": [[0.5, -0.5], [0.1, 0.2], [0.3, 0.1], [-0.2, 0.4], [1, 0], [0, 1],
                          [0.2, 0.2], [0.2, -0.2]],
         "weight_hh_l0": [[0.1, 0], [0, 0.1], [0, 0.1], [0.1, 0], [0.5, -0.5], [0.5, 0.5],
                          [0.1, 0.1], [-0.1, 0.1]],
         "bias_ih_l0": [0, 0, 1, 1, 0, 0, 0, 0], "bias_hh_l0": [0] * 8}
    lstm.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in w.items()})
    xs = torch.tensor([[[1, 2], [0.5, -1], [0, 1]], [[-1, 0], [2, 1], [0, 0]],
                       [[0, 1], [0, 0], [0, 0]]], dtype=torch.float64)
    h0 = torch.tensor([[[0, 0], [0.1, 0.2], [0, 0]]], dtype=torch.float64)
    packed = pack_padded_sequence(xs, [3, 2, 1], batch_first=True)
    _, (h_n, _) = lstm(packed, (h0, torch.zeros_like(h0)))
    y = h_n[0] @ torch.tensor([[1.0], [-1.0]], dtype=torch.float64) + 0.1
    loss = torch.nn.MSELoss()(y, torch.tensor([[0.5], [-0.25], [0]], dtype=torch.float64))
    loss.backward()
    grad = minibatch.backprop(minibatch.run(cfg))
    assert grad.value == pytest.approx(loss.item(), rel=1e-12)
    for name, p in lstm.named_parameters():
        np.testing.assert_allclose(grad.params[name].numpy(), p.grad.numpy(), rtol=1e-10,
                                   atol=1e-13, err_msg=name)
