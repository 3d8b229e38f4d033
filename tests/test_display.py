"""What a newcomer reads (issue 17): numbers too small for the precision, --round's digits, CSV
with the head, LaTeX that typesets, options that say what they take."""

from __future__ import annotations

import csv
import io
import math

import pytest

from rnncalc.render import fmt, fmt_input
from rnncalc.render.latex import mixed
from tests.conftest import CONFIGS
from tests.test_reports import needs_pdflatex, pdflatex


def test_fmt_keeps_a_tiny_value_visible():
    assert fmt(1e-5, 4) == "1.000e-05"
    assert fmt(-0.00001234, 4) == "-1.234e-05"
    assert fmt(0.0, 4) == fmt(-0.0, 4) == "0.0000"
    assert fmt(0.25, 4) == "0.2500" and fmt(0.00005, 4) == "0.0001"  # shown: fixed point


def test_given_numbers_as_written():
    assert fmt_input([1.0, 0.0]) == "[1, 0]"
    assert fmt_input([0.5, -1.0]) == "[0.5, -1]"


def test_seed_lstm_input_gate_is_not_shown_as_zero(cli):
    """The seed LSTM's i_2 at its second unit is sigmoid(-11.4996) = 1.013e-05 (worked here)."""
    tiny = 1 / (1 + math.exp(11.4996))
    result = cli("lstm", "--step-by-step")
    assert result.exit_code == 0
    assert f"{tiny:.3e}" in result.stdout
    assert "0.0000]" not in result.stdout.split("\n 2 ")[1].split("\n")[1]


def test_round_sets_the_digits_shown(cli):
    rounded = cli("lstm", "--round", "2", "-s").stdout
    assert "[0.62, 0.08]" in rounded  # i_0 = sigmoid(0.5), sigmoid(-2.5) to 2 places
    assert "[0.6200, 0.0800]" in cli("lstm", "--round", "2", "--precision", "4", "-s").stdout


def test_csv_has_the_head(cli):
    rows = list(csv.DictReader(io.StringIO(cli("rnn", "--task", "labeling", "-f", "csv").stdout)))
    head = [r for r in rows if r["layer"] == "head"]
    assert [r["label"] for r in head] == ["1", "0", "0"]  # the seed's labels
    z = [0.9051, 0.9866]  # the seed's logits at t = 0 (W = [[0, 1], [1, 0]])
    p1 = math.exp(z[1]) / (math.exp(z[0]) + math.exp(z[1]))
    assert head[0]["p[1]"] == f"{p1:.4f}"
    assert rows[0]["x[0]"] == "1" and rows[0]["label"] == ""
    regression = list(csv.DictReader(io.StringIO(cli("rnn", "-f", "csv").stdout)))
    assert regression[-1]["t"] == "final" and regression[-1]["y[0]"] == "0.9983"


def test_grad_format_offers_what_it_takes(cli):
    assert "csv" not in cli("grad", "--help").stdout
    result = cli("grad", "-c", str(CONFIGS / "rnn_grad.yaml"), "-f", "csv")
    assert result.exit_code == 2


def test_check_both_stdin_says_why_in_full(cli):
    result = cli("check", "-", "-")
    assert result.exit_code == 2
    assert "can be read from stdin" in " ".join(result.stderr.split())


@pytest.mark.parametrize(("label", "tex"), [
    ("dL/dh_t from the output", "$dL/dh_t$ from the output"),
    ("step's dL/dW_ii", "step's $dL/dW_{ii}$"),
    ("final: y = W h_{T-1} + b", "final: $y = W h_{T-1} + b$"),
    ("sum_n dL/dz_n (x) h_n", "$\\sum_n dL/dz_n \\otimes h_n$"),
])
def test_latex_labels_keep_words_out_of_math(label, tex):
    assert mixed(label) == tex


@needs_pdflatex
def test_grad_latex_of_a_two_step_lstm_fits_the_page(cli, tmp_path):
    result = cli("grad", "-c", str(CONFIGS / "lstm_grad_gomez.yaml"), "-f", "latex")
    assert result.exit_code == 0
    tex = result.stdout
    assert "$dL/dh_t$ from the output" in tex and "final: $y = W h_{T-1} + b$" in tex
    log = pdflatex(tmp_path, "grad", tex)
    assert "Overfull \\vbox" not in log and "Overfull \\hbox" not in log


@pytest.mark.parametrize(("selection", "names"), [
    ("unit=2", "unit values are 0, 1 (units count from 0)"),  # a 2-unit net
    ("gate=r", "gate values are c, f, g, h, i, o"),  # an LSTM: not the GRU's r, z, n
    ("t=3", "t values are 0, 1, 2"),
])
def test_explain_selection_outside_the_exercise_is_usage(cli, selection, names):
    result = cli("lstm", "--explain", selection)
    assert result.exit_code == 2
    assert names in " ".join(result.stderr.split())


def test_narrow_terminal_headers_wrap_between_words():
    import rnncalc
    from rnncalc.render.table import render, to_text

    text = to_text(render(rnncalc.run(rnncalc.load(cell="lstm")), step_by_step=True), width=40)
    header = text.split("Layer 0 · forward\n\n")[1].split(" ──")[0].split("\n")
    assert [line.split() for line in header if line] == [["pre-"], ["t", "quantity", "activation",
                                                              "activation"]]


def test_table_echoes_the_given_weights(cli):
    """As markdown and LaTeX do: the seed LSTM's W_hf and the RNN's head, as written."""
    assert "  W_hf = [[0, 1], [0, -1]]" in cli("lstm").stdout
    out = cli("rnn", "-c", str(CONFIGS / "rnn_regression.yaml")).stdout
    assert "Given\n" in out and "  b_ih = [1, 1]" in out and "  W = [[0, 1]]" in out


def test_steps_take_a_python_stride(cli):
    """README promised Python slices; ``::100`` was refused."""
    from rnncalc.steps import shown

    assert shown(list(range(300)), "::100") == [0, None, 100, None, 200, None]
    out = cli("lstm", "--steps", "::2").stdout
    assert "\n 0   [1, 2, 3]" in out and "\n 2   [7, 8, 9]" in out and "[4, 5, 6]" not in out
    assert cli("lstm", "--steps", "::0").exit_code == 2
