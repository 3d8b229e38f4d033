"""``rnncalc run --grad``: one call computes a class's forward and backward exercises. The
reference: torch autograd on the seed's RNN regression, 1/2 (y - 0.5)^2 on the final output."""

from __future__ import annotations

import json

import pytest

from tests.conftest import CONFIGS
from tests.test_export import seed_rnn


def autograd_seed() -> tuple[float, list[list[float]]]:
    rnn, out = seed_rnn()
    loss = 0.5 * (out[-1, 1] - 0.5) ** 2  # head W = [[0, 1]], b = 0
    loss.backward()
    return loss.item(), rnn.weight_hh_l0.grad.tolist()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_run_grad_adds_the_gradients_of_configs_with_a_loss(cli, jobs):
    configs = [str(CONFIGS / "rnn_grad.yaml"), str(CONFIGS / "rnn_hidden.yaml")]
    result = cli("run", *configs, "--grad", "-f", "jsonl", "--jobs", jobs)
    assert result.exit_code == 0, result.stderr
    with_loss, hidden = (json.loads(line) for line in result.stdout.splitlines())
    loss, dW_hh = autograd_seed()
    assert with_loss["grad"]["loss"] == pytest.approx(loss, abs=1e-12)
    got = with_loss["grad"]["params"]["weight_hh_l0"]
    assert [v for row in got for v in row] == pytest.approx(
        [v for row in dW_hh for v in row], abs=1e-12)
    assert "grad" not in hidden and hidden["path"] == configs[1]


def test_run_without_grad_is_forward_only(cli):
    result = cli("run", str(CONFIGS / "rnn_grad.yaml"), "-f", "jsonl")
    assert "grad" not in json.loads(result.stdout)


def test_run_grad_table_shows_the_backward_sections(cli):
    result = cli("run", str(CONFIGS / "rnn_grad.yaml"), "--grad")
    assert result.exit_code == 0 and "Head gradients" in result.stdout
