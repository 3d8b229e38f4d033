"""``--explain`` and ``--round``: golden files checked against the seed figures and re-evaluated.

The golden files (``tests/golden/explain_*.txt``) hold the arithmetic of the seed exercises. They
were read by hand against the seed's printed figures (../shared/seed/README.md), and the tests
hold them there: each seed figure must appear on the line that computes it, and every line of
every golden file is re-evaluated here with Python's ``math`` (not torch): each stage with numbers
substituted must come out at the value the line ends with. Regenerate after a deliberate layout
change with ``RNNCALC_UPDATE_GOLDEN=1 python -m pytest tests/test_explain.py`` and read the diff.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pytest

import rnncalc
from rnncalc.cells.activations import ACTIVATIONS, activation, apply
from rnncalc.explain import explain, line_text, parse_selection
from rnncalc.render.explain import render
from rnncalc.rounding import round_half_away, rounding
from tests.conftest import CONFIGS

GOLDEN = Path(__file__).parent / "golden"

CASES = {
    "lstm": dict(cell="lstm"),
    "rnn_labeling": dict(cell="rnn", task="labeling"),
    "rnn_bidirectional": dict(cell="rnn", bidirectional=True),
    "gru": dict(source=str(CONFIGS / "gru.yaml")),
}


def _trace(case: str, round_to: int | None = None):
    kwargs = dict(CASES[case])
    source = kwargs.pop("source", None)
    return rnncalc.run(rnncalc.load(source, **kwargs), round_to=round_to)


def _text(case: str) -> str:
    return render(explain(_trace(case)))


@pytest.mark.parametrize("case", CASES)
def test_golden(case):
    path = GOLDEN / f"explain_{case}.txt"
    text = _text(case)
    if os.environ.get("RNNCALC_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- seed figures

SEED_LINES = {
    "lstm": [
        # the seed prints the pre-activations at t=0: i [0.5, -2.5], f [2.5, -0.5],
        # g [-0.5, -0.5], o [4.5, -2.5]; and h_0 = [-0.2769, -0.0027]
        "i_0[0] = sigmoid( (-1)(1) + (0)(2) + (0.5)(3)  +  (0)(0) + (1)(0)  +  0 ) = "
        "sigmoid(0.5) =",
        "i_0[1] = sigmoid( (-1)(1) + (0)(2) + (-0.5)(3)  +  (0)(0) + (-1)(0)  +  0 ) = "
        "sigmoid(-2.5) =",
        # the issue's own example line, W_if row 1 = [1, 0, 0.5] on x_0 = [1, 2, 3]
        "f_0[0] = sigmoid( (1)(1) + (0)(2) + (0.5)(3)  +  (0)(0) + (1)(0)  +  0 ) = sigmoid(2.5) "
        "= 0.9241",
        "= sigmoid(-0.5) = 0.3775",
        "g_0[0] = tanh( (1)(1) + (0)(2) + (-0.5)(3)  +  (0)(0) + (1)(0)  +  0 ) = tanh(-0.5) = "
        "-0.4621",
        "= sigmoid(4.5) = 0.989",
        "o_0[1] = sigmoid( (1)(1) + (-1)(2) + (-0.5)(3)  +  (0)(0) + (-1)(0)  +  0 ) = "
        "sigmoid(-2.5)",
        "c_0[0] = f_0[0]*c_{-1}[0] + i_0[0]*g_0[0] = (0.9241)(0) + (0.6225)(-0.4621) = ",
        "h_0[0] = o_0[0]*tanh(c_0[0]) = ",
        "= -0.2769",
        "= -0.0027",
    ],
    "rnn_labeling": [
        # h_0 = tanh(W_ih x_0 + 1 + W_hh h_{-1} + 1): (-1)(1) + (0.5)(3) + 2 = 2.5
        "h_0[0] = tanh( (-1)(1) + (0)(2) + (0.5)(3)  +  (0)(0) + (-1)(0)  +  1 + 1 ) = tanh(2.5) "
        "= 0.9866",
        "= tanh(1.5) = 0.9051",
        "= 0.0946", "= 0.9702", "= -0.8996", "= 0.9983",
        "p_0[0] = exp(z_0[0]) / (exp(z_0[0]) + exp(z_0[1])) = exp(0.9051) / (exp(0.9051) + "
        "exp(0.9866)) =",
        "= 0.4796", "= 0.5204", "= 0.7059", "= 0.2941", "= 0.8697", "= 0.1303",
        "label_0 = argmax(0.4796, 0.5204) = 1",
        "label_1 = argmax(0.7059, 0.2941) = 0",
        "label_2 = argmax(0.8697, 0.1303) = 0",
    ],
    "rnn_bidirectional": [
        "= -0.4621", "= 0.9998", "= 0.9114", "= 0.4899",
        "y_0[0] = ", "= 4.2931", "= 3.029", "= 1.6363",
        "y[0] = (1)(-0.8996) + (1)(0.9983) + (1)(0.9114) + (1)(0.4899)  +  1 = 2.5",
    ],
}


@pytest.mark.parametrize("case", SEED_LINES)
def test_seed_figures_on_their_lines(case):
    text = (GOLDEN / f"explain_{case}.txt").read_text(encoding="utf-8")
    for fragment in SEED_LINES[case]:
        assert fragment in text, fragment


# ----------------------------------------------------------------------------- re-evaluation


def _argmax(*values: float) -> int:
    return max(range(len(values)), key=values.__getitem__)


_FUNCTIONS = {
    "sigmoid": lambda x: 1 / (1 + math.exp(-x)), "tanh": math.tanh, "relu": lambda x: max(0, x),
    "exp": math.exp, "argmax": _argmax,
}


def _evaluate(stage: str) -> float:
    python = stage.replace(")(", ")*(").replace("[p >= 0.5]", "(lambda p: p >= 0.5)")
    return float(eval(python, {"__builtins__": {}}, _FUNCTIONS))


@pytest.mark.parametrize("case", CASES)
def test_every_line_adds_up(case):
    """Each stage written with numbers only evaluates (in Python) to the line's value.

    The numbers shown are rounded to 4 decimals, so the stages agree to within what that
    rounding can move a sum of a few products of numbers below 10.
    """
    checked = 0
    for line in (GOLDEN / f"explain_{case}.txt").read_text(encoding="utf-8").splitlines():
        if not line.startswith("  "):
            continue
        stages = line.strip().split(" = ")
        value = float(stages[-1])
        for stage in stages[1:-1]:
            if re.search(r"[a-z](_|\[)", stage):  # a symbolic stage: f_0[0]*c_{-1}[0] + ...
                continue
            assert _evaluate(stage) == pytest.approx(value, abs=2e-3), line
            checked += 1
    assert checked > 20


# ----------------------------------------------------------------------------- selection, CLI


def test_selection_picks_step_gate_unit():
    trace = _trace("lstm")
    lines = explain(trace, parse_selection("t=1,gate=f"))
    assert [line_text(ln).split(" = ")[0] for ln in lines] == ["f_1[0]", "f_1[1]"]
    lines = explain(trace, parse_selection("t=0,t=2,gate=c,unit=1"))
    assert [line_text(ln).split(" = ")[0] for ln in lines] == ["c_0[1]", "c_2[1]"]


def test_selection_head_and_direction():
    trace = _trace("rnn_bidirectional")
    backward = explain(trace, parse_selection("direction=backward,t=2"))
    # the backward direction starts at position 2 from h = 0: tanh(W_ih x_2 + 2)
    assert line_text(backward[0]).startswith(
        "h_2[0] = tanh( (-1)(7) + (0)(8) + (0.5)(9)  +  (0)(0) + (-1)(0)  +  1 + 1 ) = tanh(-0.5)")
    head = explain(trace, parse_selection("gate=head"))
    assert {ln.where.layer for ln in head} == {None}


def test_cli_explain(cli):
    result = cli("lstm", "--explain", "t=0,gate=f,unit=0")
    assert result.exit_code == 0, result.stderr
    assert ("  f_0[0] = sigmoid( (1)(1) + (0)(2) + (0.5)(3)  +  (0)(0) + (1)(0)  +  0 ) = "
            "sigmoid(2.5) = 0.9241\n") in result.stdout
    assert "i_0[0]" not in result.stdout


def test_cli_explain_json(cli):
    result = cli("rnn", "--explain", "t=0", "--format", "json")
    assert result.exit_code == 0, result.stderr
    lines = json.loads(result.stdout)["explain"]
    assert [(ln["quantity"], ln["t"], ln["unit"]) for ln in lines][:2] == [("h", 0, 0), ("h", 0, 1)]
    assert lines[0]["text"].endswith("= tanh(2.5) = 0.9866")


@pytest.mark.parametrize("bad", ["t=x", "gate=q", "colour=red", "t"])
def test_cli_bad_selection_is_a_usage_error(cli, bad):
    result = cli("lstm", "--explain", bad)
    assert result.exit_code == 2
    assert "--explain" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("path", ["configs/lstm.yaml", "my.YML", "-"])
def test_cli_a_config_given_as_the_selection_says_to_use_config(cli, path):
    """`rnncalc lstm my.yaml`, a student's first try: the usage error points at --config."""
    result = cli("lstm", path)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "--config/-c" in result.stderr, result.stderr


# ----------------------------------------------------------------------------- --round


def test_round_half_away_from_zero():
    assert round_half_away(0.46205, 4) == 0.4621  # stored as 0.46204999..., rounded as on paper
    assert round_half_away(-0.28765, 4) == -0.2877
    assert round_half_away(0.98655, 4) == 0.9866
    assert round_half_away(2.5, 0) == 3.0


def _hand_rnn(digits: int) -> list[list[float]]:
    """The seed RNN worked as a sheet does, each value rounded to ``digits`` before it is used."""
    r = lambda v: round_half_away(v, digits)  # noqa: E731
    W_ih, W_hh = [[-1, 0, 0.5], [1, 0, -0.5]], [[0, -1], [0, -1]]
    h, out = [0.0, 0.0], []
    for x in ([1, 2, 3], [4, 5, 6], [7, 8, 9]):
        pre = [r(sum(w * v for w, v in zip(W_ih[j], x, strict=True)) + 1
                 + sum(w * v for w, v in zip(W_hh[j], h, strict=True)) + 1) for j in range(2)]
        h = [r(math.tanh(a)) for a in pre]
        out.append(h)
    return out


@pytest.mark.parametrize("digits", [1, 2, 3, 4])
def test_round_reproduces_a_hand_rounded_rnn(digits):
    trace = rnncalc.run(rnncalc.load(cell="rnn", task="hidden"), round_to=digits)
    assert trace.h_n.tolist()[0] == _hand_rnn(digits)[-1]
    assert trace.layers[0].directions["forward"].h.tolist() == _hand_rnn(digits)


def test_round_2_differs_from_exact_where_a_sheet_does():
    # by hand at 2 decimals: h_0 = [0.99, 0.91]; h_1 pre = [-1 - 0.91 + 2, 1 - 0.91 + 2]
    # = [0.09, 2.09] -> [0.09, 0.97]; h_2 pre = [-2.5 - 0.97 + 2, 2.5 - 0.97 + 2] = [-1.47, 3.53]
    # -> [tanh(-1.47), tanh(3.53)] = [-0.90, 1.00]; exact: [-0.8996, 0.9983] -> 1.00 as well
    assert _hand_rnn(2) == [[0.99, 0.91], [0.09, 0.97], [-0.9, 1.0]]


def test_round_4_gives_the_issue_c0():
    """The issue writes the first unit's c_0 = (0.9241)(0) + (0.6225)(-0.4621) = -0.2877: a
    sheet rounding to 4 places. Exact, sigmoid(0.5) * tanh(-0.5) = -0.28765 - 2e-6 rounds to
    -0.2876."""
    exact = 1 / (1 + math.exp(-0.5)) * math.tanh(-0.5)
    assert round(exact, 4) == -0.2876
    assert round_half_away(0.6225 * -0.4621, 4) == -0.2877
    text = render(explain(_trace("lstm", round_to=4), parse_selection("t=0,gate=c,unit=0")))
    assert "c_0[0] = f_0[0]*c_{-1}[0] + i_0[0]*g_0[0] = (0.9241)(0) + (0.6225)(-0.4621) = -0.2877" \
        in text
    exact_text = render(explain(_trace("lstm"), parse_selection("t=0,gate=c,unit=0")))
    assert exact_text.rstrip().endswith("= -0.2876")


def test_round_in_cli_and_json(cli):
    result = cli("rnn", "--round", "2", "--format", "json")
    assert result.exit_code == 0, result.stderr
    d = json.loads(result.stdout)
    assert d["round"] == 2
    assert [s["h"] for s in d["layers"][0]["directions"]["forward"]] == _hand_rnn(2)


def test_round_rounds_softplus_as_a_sheet_does():
    """A 1-unit RNN with softplus, worked at 2 decimals: h_0 = ln(1 + e^0.5) = 0.974077 -> 0.97;
    pre h_1 = 1 + 0.97 = 1.97, h_1 = ln(1 + e^1.97) = 2.100563 -> 2.10 (unrounded h_0 would give
    pre 1.97 too, but h_1 = 2.100563 and h_0 = 0.974077 left as they are)."""
    r = lambda v: round_half_away(v, 2)  # noqa: E731
    h0 = r(math.log1p(math.exp(0.5)))
    h1 = r(math.log1p(math.exp(r(1 + h0))))
    assert (h0, h1) == (0.97, 2.1)
    ex = rnncalc.load(dict(cell="rnn", inputs=[[0.5], [1]], activations={"hidden": "softplus"},
                           weights={"W_ih": [[1]], "W_hh": [[1]]}))
    assert rnncalc.run(ex, round_to=2).layers[0].directions["forward"].h.tolist() == [[h0], [h1]]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_round_rounds_every_activation(name):
    """Every activation's value under --round 2 is a 2-decimal number, for inputs that are."""
    import torch

    x = torch.tensor([-1.23, 0.33, 2.71], dtype=torch.float64)
    with rounding(2):
        y = apply(activation(name), x)
    assert y.tolist() == [round_half_away(v, 2) for v in y.tolist()], name


# ----------------------------------------------------------------------------- every option

_LSTM_W = {f"W_i{g}": [[1, -0.5], [0.5, 1]] for g in "ifgo"} | {
    f"W_h{g}": [[0.5, -1], [1, 0.5]] for g in "ifgo"} | {f"b_i{g}": [0.1, -0.2] for g in "ifgo"}

VARIANTS = {
    "lstm peepholes, forget bias, clip": dict(
        cell="lstm", inputs=[[1, 2], [-1, 0.5]], forget_bias=1.0, clip=2.5,
        weights=_LSTM_W | {"p_i": [0.5, -0.5], "p_f": [1, 0], "p_o": [-1, 0.25]}),
    "lstm input_forget, projection": dict(
        cell="lstm", inputs=[[1, 2], [-1, 0.5]], input_forget=True, proj_size=1,
        weights={**_LSTM_W, **{f"W_h{g}": [[0.5], [-1]] for g in "ifgo"}, "W_hr": [[1, -0.5]]}),
    "gru reset before, z weights candidate, biases": dict(
        cell="gru", inputs=[[1, 2], [0, -1], [2, 1]], reset_after=False, z_weights="candidate",
        weights={f"W_i{g}": [[1, -0.5], [0.5, 1]] for g in "rzn"}
        | {f"W_h{g}": [[0.5, -1], [1, 0.5]] for g in "rzn"}
        | {f"b_i{g}": [0.1, -0.2] for g in "rzn"} | {f"b_h{g}": [0.3, 0] for g in "rzn"}),
    "rnn relu reverse, sigmoid classification": dict(
        cell="rnn", inputs=[[1, 2], [0, -1]], nonlinearity="relu", direction="reverse",
        weights={"W_ih": [[1, -0.5], [0.5, 1]], "W_hh": [[0.5, -1], [1, 0.5]]},
        head={"task": "classification", "W": [[1, -1]], "b": 0.5}),
    "rnn bidirectional sum merge, regression": dict(
        cell="rnn", inputs=[[1, 2], [0, -1]], direction="bidirectional", merge_mode="sum",
        share_directions=True,
        weights={"W_ih": [[1, -0.5], [0.5, 1]], "W_hh": [[0.5, -1], [1, 0.5]]},
        head={"task": "regression", "W": [[1, 2]], "b": 0}),
}
_FUNCTIONS["clip"] = lambda a: max(-2.5, min(2.5, a))


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("round_to", [None, 3])
def test_every_option_adds_up(name, round_to):
    trace = rnncalc.run(rnncalc.load(dict(VARIANTS[name])), round_to=round_to)
    lines = explain(trace)
    values = {(ln.where.layer, ln.where.direction, ln.where.t, ln.where.quantity, ln.where.unit)
              for ln in lines}
    ex = trace.exercise
    assert len(values) == len(lines)  # no line twice
    cell_lines = [ln for ln in lines if ln.where.layer is not None]
    extra = 1 if ex.proj_size else 0  # m_t and h_t = W_hr m_t
    per_step = {"rnn": 1, "lstm": 6 + extra, "gru": 4}[ex.cell]
    assert len(cell_lines) >= per_step * ex.steps * ex.num_directions
    for ln in lines:
        text = line_text(ln, 4)
        stages = text.split(" = ")
        for stage in stages[1:-1]:
            if not re.search(r"[a-z](_|\[)", stage):  # a stage of numbers only
                assert _evaluate(stage) == pytest.approx(float(stages[-1]), abs=5e-3), text
