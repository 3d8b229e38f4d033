"""Issue 12 (Trust II): graders run students' files, so nothing may hang, leak, overwrite or be
gamed. One section per class of the issue, each with hostile inputs of its own; the bounded fuzz
test of every class together is in ``tests/test_fuzz.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rnncalc.errors import MAX_MESSAGE, ExitCode
from tests.conftest import CONFIGS

RNN = str(CONFIGS / "rnn_regression.yaml")  # h_0 = [0.98661..., 0.90514...]
LSTM = str(CONFIGS / "lstm.yaml")
WRONG_H0 = "layers: [{layer: 0, directions: {forward: [{t: 0, h: [0.5, 0.5]}]}}]\n"


def one_error(result, code: int = ExitCode.INVALID_INPUT) -> str:
    """The one short line on stderr of a refused run, after checking its code and shape."""
    assert result.exit_code == code, (result.exit_code, result.stdout[:500], result.stderr[:500])
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[:2000]
    assert len(lines[0]) <= MAX_MESSAGE + 1, lines[0]
    return lines[0]


def write(tmp_path: Path, text: str | bytes, name: str = "answers.yaml") -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


# ----------------------------------------------------------------------------- grading can be gamed


@pytest.mark.parametrize("tolerance", ["10", "1e300", ".inf", ".nan", "-1", "-.inf", "1e999"])
def test_answers_file_tolerance_never_marks_a_wrong_answer_right(cli, tmp_path, tolerance):
    """h_0 = 0.5 is wrong whatever tolerance the student writes: exit 1 (a finite one, shown as
    not used) or exit 3 at its line (a tolerance that is no tolerance)."""
    path = write(tmp_path, f"# mine\ntolerance: {tolerance}\n{WRONG_H0}")
    result = cli("check", RNN, path)
    if tolerance in ("10", "1e300"):
        assert result.exit_code == ExitCode.WRONG_ANSWERS, result.stdout
        assert "tolerance" in result.stdout and "is not used" in result.stdout
    else:
        assert f"{path}:2: tolerance: expected a finite number >= 0" in one_error(result)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "-0.5", "NaN"])
def test_command_line_tolerance_must_be_finite_and_not_negative(cli, tmp_path, value):
    result = cli("check", RNN, write(tmp_path, WRONG_H0), "--tolerance", value)
    assert result.exit_code == ExitCode.USAGE, result.stdout
    assert "--tolerance" in result.stderr and "finite number >= 0" in result.stderr


def test_command_line_tolerance_still_marks(cli, tmp_path):
    path = write(tmp_path, "layers: [{layer: 0, directions: {forward: [{t: 0, h: [0.986]}]}}]\n")
    assert cli("check", RNN, path, "--tolerance", "0.001").exit_code == ExitCode.OK
    assert cli("check", RNN, path, "--tolerance", "0").exit_code == ExitCode.WRONG_ANSWERS
    assert cli("check", RNN, path).exit_code == ExitCode.WRONG_ANSWERS  # 0.986 != 0.987
