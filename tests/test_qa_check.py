"""QA: what a hostile answers file makes ``rnncalc check`` print.

A student's number is shown as written, but never whole past a line's worth: a 5,000-digit
number (or 400 decimals) in an answers file must not turn the table, the first-mistake line or
Gradescope's per-question output into 5,000-column lines (issue 12: a message is one line of at
most about 300 characters; numbers are elided with their length given).
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import CONFIGS

RNN = str(CONFIGS / "rnn_regression.yaml")


def answers(tmp_path, number: str) -> str:
    path = tmp_path / "answers.yaml"
    path.write_text("layers:\n- layer: 0\n  directions:\n    forward:\n    - t: 0\n"
                    f"      h: [{number}, 0.9051]\n", encoding="utf-8")
    return str(path)


HUGE = ["1" + "0" * 5000, "0." + "0" * 5000 + "1", "1e-400"]


@pytest.mark.parametrize("number", HUGE, ids=["5001 digits", "5002 decimals", "1e-400"])
def test_a_huge_number_is_not_echoed_whole_by_check(cli, tmp_path, number):
    result = cli("check", RNN, answers(tmp_path, number))
    assert result.exit_code == 1, result.stderr  # h_0[0] = tanh(2.5) = 0.9866 is not that
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 300
    wrote = next(line for line in lines if line.startswith("First mistake"))
    if len(number) > 40:  # a short one (1e-400) is shown as written
        assert number not in wrote and f"{len(number):,} characters" in wrote
    assert "0.9866" in result.stdout  # the expected value is still shown, at 4 decimals or so


@pytest.mark.parametrize("number", HUGE, ids=["5001 digits", "5002 decimals", "1e-400"])
def test_a_huge_number_is_not_echoed_whole_to_gradescope(cli, tmp_path, number):
    result = cli("check", RNN, answers(tmp_path, number), "--format", "gradescope")
    assert result.exit_code == 1, result.stderr
    outputs = [t["output"] for t in json.loads(result.stdout)["tests"]]
    assert max(len(o) for o in outputs) <= 300
    assert outputs[0].startswith("XX wrong: you wrote ")
