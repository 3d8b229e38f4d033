"""The JSON output is written a few hundred steps at a time (issue 18): the same bytes as the
whole document serialized at once; and running out of memory is the input's size (exit 3), named
with the way out, not a bug (exit 4)."""

from __future__ import annotations

import json

import pytest
import torch

import rnncalc
from rnncalc.render.json import CHUNK, render, stream
from tests.conftest import CONFIGS


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_streamed_bytes_are_the_whole_documents(path, dtype):
    trace = rnncalc.run(rnncalc.load(str(path), dtype=dtype))
    assert b"".join(stream(trace)) == render(trace).encode()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_sequence_longer_than_a_piece(cell):
    torch.manual_seed(0)
    steps = 2 * CHUNK + 3
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        2, 3, bidirectional=True, dtype=torch.float64)
    config = {"cell": cell, "bidirectional": True,
              "weights": {k: v.tolist() for k, v in module.state_dict().items()},
              "inputs": torch.randn(steps, 2, dtype=torch.float64).tolist()}
    trace = rnncalc.run(rnncalc.load(config))
    text = b"".join(stream(trace))
    assert text == render(trace).encode()
    doc = json.loads(text)
    assert [s["t"] for s in doc["layers"][0]["directions"]["backward"]] == \
        list(range(steps - 1, -1, -1))
    assert torch.tensor(doc["output"], dtype=torch.float64).equal(trace.output)


def test_out_of_memory_is_the_inputs_size_exit_3(cli, monkeypatch):
    from rnncalc import engine

    def short_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(engine, "run", short_of_memory)
    monkeypatch.setattr(engine, "compute", short_of_memory)  # the table's and JSON's way
    result = cli("lstm", "-c", str(CONFIGS / "lstm.yaml"), "-f", "json")
    assert result.exit_code == 3
    message = result.stderr.strip()
    assert message.startswith(f"{CONFIGS / 'lstm.yaml'}: out of memory: 3 steps of 2 units")
    assert "--steps" in message and "smaller T" in message and "\n" not in message
    assert "internal error" not in message
