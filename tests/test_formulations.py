"""Formulations: the printed equations against the engine, hand-worked cases, merge, direction.

The equations ``rnncalc formulas`` prints are evaluated here, as text, on a step's numbers and must
give what the engine recorded, for random formulations (so the text cannot drift from the code).
The other cases are worked by hand in the tests: GRU's two candidate forms and update directions,
TF1's forget bias, peepholes, clip, input_forget, every activation.
"""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import rnncalc
from rnncalc.cells.activations import apply
from rnncalc.formulation import (
    ACTIVATIONS,
    CONVENTIONS,
    PACKINGS,
    ROLES,
    activation,
    equations,
    preset,
)
from tests.conftest import CONFIGS

TOL = 1e-12
GATES = {"rnn": "h", "lstm": "ifgo", "gru": "rzn", "indrnn": "h"}


def close(a, b, tol=TOL):
    return torch.allclose(torch.as_tensor(a, dtype=torch.float64),
                          torch.as_tensor(b, dtype=torch.float64), atol=tol, rtol=0)


# --- the printed equations, evaluated ---------------------------------------------------------

def _scalar_function(formula: str):
    """An activation's printed formula (``x if x >= 0 else 0.1*x``) as an element-wise function."""
    code = compile(formula.replace("|x|", "abs(x)"), "<formula>", "eval")
    env = {"exp": math.exp, "tanh": math.tanh, "log": math.log, "max": max, "min": min,
           "abs": abs}
    return lambda t: t.clone().apply_(lambda x: eval(code, env, {"x": x}))


def _functions(lines: list[str]) -> dict:
    """Every ``name(x) = formula`` line of the symbols; tanh (not spelt out) from math."""
    fns = {"tanh": _scalar_function("tanh(x)")}
    for line in lines:
        m = re.match(r"^  (\w+)\(x\) = (.+)$", line)
        if m:
            fns[m[1]] = _scalar_function(m[2])
        m = re.match(r"^  clip\(a\)\s+min\(max\(a, -([^)]+)\), ([^)]+)\)", line)
        if m:
            bound = float(m[2])
            fns["clip"] = lambda t, b=bound: t.clamp(-b, b)
    return fns


def _python(expr: str) -> str:
    expr = expr.replace("h_{t-1}", "h_prev").replace("c_{t-1}", "c_prev").replace("x_t", "x")
    # a matrix times what follows it: "W_hn (r_t * h_prev)", "W_ii x"
    return re.sub(r"\b(W_\w+) (\([^()]*\)|\w+)", r"(\1 @ \2)", expr)


def evaluate(lines: list[str], env: dict) -> dict:
    """Evaluate the equations in order; returns every left-hand side by name."""
    env = {**env, **_functions(lines)}
    out = {}
    for line in lines[: lines.index("")]:
        lhs, rhs = line.split(" = ", 1)
        out[lhs] = env[lhs] = eval(_python(rhs), {}, env)
    return out


def _symbols(ex, layer: int, direction: int) -> dict:
    w = ex.weights[layer][direction]
    dt = torch.float64
    W_ih, W_hh = torch.tensor(w.weight_ih, dtype=dt), torch.tensor(w.weight_hh, dtype=dt)
    G = len(GATES[ex.cell])
    zeros = torch.zeros(W_ih.shape[0], dtype=dt)
    b_ih = zeros if w.bias_ih is None else torch.tensor(w.bias_ih, dtype=dt)
    b_hh = zeros if w.bias_hh is None else torch.tensor(w.bias_hh, dtype=dt)
    if ex.cell == "rnn":
        return {"W_ih": W_ih, "W_hh": W_hh, "b_ih": b_ih, "b_hh": b_hh}
    env = {}
    for g, wi, wh, bi, bh in zip(GATES[ex.cell], W_ih.chunk(G), W_hh.chunk(G), b_ih.chunk(G),
                                 b_hh.chunk(G), strict=True):
        env |= {f"W_i{g}": wi, f"W_h{g}": wh, f"b_i{g}": bi, f"b_h{g}": bh}
    if w.peephole is not None:
        env |= dict(zip(("p_i", "p_f", "p_o"), torch.tensor(w.peephole, dtype=dt), strict=True))
    if w.weight_hr is not None:
        env["W_hr"] = torch.tensor(w.weight_hr, dtype=dt)
    return env


_ACT = st.sampled_from(sorted(ACTIVATIONS)).flatmap(
    lambda name: st.builds(
        activation, st.just(name),
        *(st.floats(-1.5, 1.5).map(lambda v: round(v, 3)),) * 2
    )
)


@st.composite
def formulated(draw):
    """A random config with a random formulation (every option the cell has)."""
    cell = draw(st.sampled_from(["rnn", "lstm", "gru"]))
    H, I, T = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    config: dict = {"cell": cell, "convention": draw(st.sampled_from(CONVENTIONS)),
                    "activations": {}, "hidden_size": H}
    for role in ROLES[cell]:
        if draw(st.booleans()):
            a = draw(_ACT)
            config["activations"][role] = a.to_dict()
    if draw(st.booleans()):
        config["clip"] = draw(st.floats(0.25, 3.0))
    peep = proj = False
    if cell == "gru":
        config["reset_after"] = draw(st.booleans())
        config["z_weights"] = draw(st.sampled_from(["previous", "candidate"]))
    if cell == "lstm":
        config["input_forget"] = draw(st.booleans())
        config["forget_bias"] = draw(st.sampled_from([0.0, 1.0, -0.75]))
        peep, proj = draw(st.booleans()), draw(st.booleans()) and H > 1
    torch.manual_seed(draw(st.integers(0, 2**31 - 1)))
    S = H - 1 if proj else H

    def rand(*shape):
        return (torch.randn(*shape, dtype=torch.float64) * 1.5).tolist()

    if cell == "rnn":
        weights = {"W_ih": rand(H, I), "W_hh": rand(H, H), "b_ih": rand(H), "b_hh": rand(H)}
    else:
        weights = {}
        for g in GATES[cell]:
            weights |= {f"W_i{g}": rand(H, I), f"W_h{g}": rand(H, S), f"b_i{g}": rand(H),
                        f"b_h{g}": rand(H)}
    if peep:
        weights |= {"p_i": rand(H), "p_f": rand(H), "p_o": rand(H)}
    if proj:
        config["proj_size"] = S
        weights["W_hr"] = rand(S, H)
    config["inputs"] = rand(T, I)
    config["initial"] = {"h": rand(S)} | ({"c": rand(H)} if cell == "lstm" else {})
    config["weights"] = weights
    return config


@given(formulated())
def test_printed_equations_compute_what_the_engine_records(config):
    ex = rnncalc.load(config)
    trace = rnncalc.run(ex)
    # unbounded gate activations (softplus, affine, ...) can grow without limit: keep numbers
    # that math.exp takes (e^709 is the largest float)
    tr = trace.layers[0].directions["forward"]
    assume(all(bool(v.abs().max() < 700) for v in (tr.h, *tr.pre.values())))
    lines = equations(ex.formulation)
    env0 = _symbols(ex, 0, 0)

    def same(a, b):
        return torch.allclose(a, b, atol=1e-10, rtol=1e-10)

    for step in trace.layers[0].directions["forward"].steps():
        got = evaluate(lines, {**env0, "x": step.x, "h_prev": step.h_prev, "c_prev": step.c_prev})
        for gate in GATES[ex.cell] if ex.cell != "rnn" else ():
            assert same(got[f"{gate}_t"], step.act[gate]), (gate, lines)
        assert same(got["h_t"], step.h), lines
        if step.c is not None:
            assert same(got["c_t"], step.c)
        if "m_t" in got:
            assert same(got["m_t"], step.extra["m"])


def test_every_activation_is_its_printed_formula():
    x = torch.tensor([-3.0, -1.0, -0.25, 0.0, 0.4, 1.0, 2.5], dtype=torch.float64)
    for name in ACTIVATIONS:
        for params in ((None, None), (0.3, -0.2)):
            a = activation(name, *params)
            assert close(apply(a, x), _scalar_function(a.formula())(x)), name


@pytest.mark.parametrize(("act", "x", "expected"), [
    (activation("hard_sigmoid"), 1.0, 0.7),  # 0.2*1 + 0.5
    (activation("hard_sigmoid"), 3.0, 1.0),  # clamped
    (activation("hard_sigmoid", 1 / 6, 0.5), -1.5, 0.25),  # Keras 3's (relu6(x + 3) / 6)
    (activation("leaky_relu", 0.1), -2.0, -0.2),
    (activation("elu"), -1.0, math.exp(-1) - 1),
    (activation("softsign"), 1.0, 0.5),
    (activation("softplus"), 0.0, math.log(2)),
    (activation("identity"), -4.5, -4.5),
    (activation("relu"), -4.5, 0.0),
    (activation("thresholded_relu", 1.0), 0.9, 0.0),
    (activation("scaled_tanh", 2.0, 0.5), 1.0, 2 * math.tanh(0.5)),
    (activation("Affine", 2.0, 1.0), 1.5, 4.0),  # ONNX's spelling
])
def test_activations_by_hand(act, x, expected):
    assert close(apply(act, torch.tensor([x], dtype=torch.float64)), [expected])


# --- hand-worked cells ------------------------------------------------------------------------

def sigmoid(a):
    return 1 / (1 + math.exp(-a))


GRU_1 = {  # one unit, one input x = 1, h_0 = 0.5, no biases except b_iz = ln 3 (z = 0.75 at t=0)
    "cell": "gru", "inputs": [[1.0]], "initial": {"h": [0.5]},
    "weights": {"W_ir": [[0.0]], "W_hr": [[0.0]], "W_iz": [[0.0]], "W_hz": [[0.0]],
                "W_in": [[1.0]], "W_hn": [[2.0]], "b_iz": [math.log(3)], "b_hn": [1.0]},
}


@pytest.mark.parametrize(("options", "n", "h"), [
    # r = 0.5, z = 0.75. Reset after: n = tanh(1 + 0.5 * (2 * 0.5 + 1)) = tanh(2)
    ({}, math.tanh(2), 0.25 * math.tanh(2) + 0.75 * 0.5),
    # reset before: n = tanh(1 + 2 * (0.5 * 0.5) + 1) = tanh(2.5)
    ({"reset_after": False}, math.tanh(2.5), 0.25 * math.tanh(2.5) + 0.75 * 0.5),
    # z weights the candidate: h = z n + (1 - z) h_prev
    ({"z_weights": "candidate"}, math.tanh(2), 0.75 * math.tanh(2) + 0.25 * 0.5),
    ({"convention": "d2l"}, math.tanh(2.5), 0.25 * math.tanh(2.5) + 0.75 * 0.5),
])
def test_gru_forms_by_hand(options, n, h):
    trace = rnncalc.run(rnncalc.load(GRU_1 | options)).to_dict()
    step = trace["layers"][0]["directions"]["forward"][0]
    assert close(step["act"]["r"], [0.5]) and close(step["act"]["z"], [0.75])
    assert close(step["act"]["n"], [n])
    assert close(step["h"], [h])


LSTM_1 = {  # one unit, x = 1, c_0 = 1, h_0 = 0; only W_ig = 1: i = f = o = 0.5 and g = tanh(1)
    "cell": "lstm", "inputs": [[1.0]], "initial": {"h": [0.0], "c": [1.0]},
    "weights": {f"W_{k}{g}": [[1.0 if (k, g) == ("i", "g") else 0.0]]
                for k in "ih" for g in "ifgo"},
}


def test_tf1_forget_bias_by_hand():
    plain = rnncalc.run(rnncalc.load(LSTM_1)).to_dict()
    tf1 = rnncalc.run(rnncalc.load(LSTM_1 | {"convention": "tf1"})).to_dict()
    # PyTorch: f = sigmoid(0) = 0.5; c = 0.5 * 1 + 0.5 * tanh(1)
    assert close(plain["c_n"], [[0.5 + 0.5 * math.tanh(1)]])
    # TF1: forget_bias 1 added inside the sigmoid at every step: f = sigmoid(1)
    c = sigmoid(1) + 0.5 * math.tanh(1)
    step = tf1["layers"][0]["directions"]["forward"][0]
    assert close(step["pre"]["f"], [1.0]) and close(step["act"]["f"], [sigmoid(1)])
    assert close(tf1["c_n"], [[c]]) and close(tf1["h_n"], [[0.5 * math.tanh(c)]])
    assert tf1["formulation"]["forget_bias"] == 1.0


def test_peepholes_by_hand():
    config = LSTM_1 | {"weights": LSTM_1["weights"] | {"p_i": [1.0], "p_f": [-1.0], "p_o": [2.0]}}
    step = rnncalc.run(rnncalc.load(config)).to_dict()["layers"][0]["directions"]["forward"][0]
    i, f = sigmoid(1.0), sigmoid(-1.0)  # i and f read c_{t-1} = 1
    c = f * 1 + i * math.tanh(1)
    o = sigmoid(2 * c)  # o reads c_t
    assert close(step["act"]["i"], [i]) and close(step["act"]["f"], [f])
    assert close(step["c"], [c]) and close(step["act"]["o"], [o])
    assert close(step["h"], [o * math.tanh(c)])


def test_clip_clamps_pre_activations_not_the_cell_state():
    w = LSTM_1["weights"] | {"W_ii": [[10.0]], "W_ig": [[10.0]], "W_if": [[10.0]]}
    config = LSTM_1 | {"weights": w, "clip": 3.0, "inputs": [[1.0], [1.0]]}
    steps = rnncalc.run(rnncalc.load(config)).to_dict()["layers"][0]["directions"]["forward"]
    assert close(steps[0]["pre"]["i"], [3.0]) and close(steps[0]["act"]["g"], [math.tanh(3)])
    i = f = sigmoid(3.0)
    c0 = f * 1 + i * math.tanh(3)
    c1 = f * c0 + i * math.tanh(3)
    assert c1 > 1 and close(steps[1]["c"], [c1])  # c_t grows past any bound: it is not clipped


def test_input_forget_couples_the_gates_by_hand():
    w = LSTM_1["weights"] | {"W_ii": [[2.0]]}
    step = rnncalc.run(rnncalc.load(LSTM_1 | {"weights": w, "input_forget": True})).to_dict()
    step = step["layers"][0]["directions"]["forward"][0]
    i = sigmoid(2)
    assert close(step["act"]["f"], [1 - i])
    assert close(step["c"], [(1 - i) * 1 + i * math.tanh(1)])


def test_stacked_relu_lstm_config_by_hand_first_step():
    trace = rnncalc.run(rnncalc.load(CONFIGS / "lstm_stacked_relu.yaml"))
    assert trace.exercise.num_layers == 2
    assert trace.exercise.formulation.act["cell_input"].name == "relu"
    step = trace.layers[0].directions["forward"].step(1)
    # seed LSTM weights, x_1 = [4, 5, 6], h_0 = c_0 = 0 after a first step of relu(g) = 0
    assert close(trace.layers[0].directions["forward"].step(0).h, [0.0, 0.0])
    a_g = [4 - 3, 4 - 3]  # W_ig x_1 = [4 - 3, 4 - 3], h = 0
    i = [sigmoid(-4 + 3), sigmoid(-4 - 3)]
    o = [sigmoid(4 + 5 + 3), sigmoid(4 - 5 - 3)]
    c = [i[k] * max(a_g[k], 0) for k in range(2)]
    assert close(step.c, c) and close(step.h, [o[k] * max(c[k], 0) for k in range(2)])


# --- merge modes and directions ---------------------------------------------------------------

RNN_BI = {
    "cell": "rnn", "inputs": [[1, 2], [0.5, -1], [-2, 1]], "bidirectional": True,
    "weights": {"l0": {"W_ih": [[0.5, -1], [1, 0.25]], "W_hh": [[0.5, 0], [-1, 0.5]],
                       "b_ih": [0.1, -0.2]},
                "l0_reverse": {"W_ih": [[-0.5, 1], [0.3, 0.2]], "W_hh": [[0, 1], [1, 0]]}},
}


@pytest.mark.parametrize(("mode", "join"), [
    ("sum", lambda f, b: f + b), ("mul", lambda f, b: f * b), ("ave", lambda f, b: (f + b) / 2),
])
def test_merge_modes_join_the_directions_for_output_and_head(mode, join):
    concat = rnncalc.run(rnncalc.load(RNN_BI))
    f, b = concat.output[:, :2], concat.output[:, 2:]
    head = {"task": "regression", "W": [[1.0, -2.0]], "b": 0.5}
    merged = rnncalc.run(rnncalc.load(RNN_BI | {"merge_mode": mode, "head": head}))
    assert close(merged.output, join(f, b))
    final = join(concat.h_n[0], concat.h_n[1])  # h_forward at T-1, h_backward at 0
    assert close(merged.head.logits, [final[0] - 2 * final[1] + 0.5])
    assert merged.to_dict()["merge_mode"] == mode


def test_merged_output_feeds_the_next_layer():
    two = RNN_BI | {"num_layers": 2, "merge_mode": "sum"}
    two["weights"] = RNN_BI["weights"] | {"l1": RNN_BI["weights"]["l0"],
                                          "l1_reverse": RNN_BI["weights"]["l0_reverse"]}
    trace = rnncalc.run(rnncalc.load(two))
    layer0 = trace.layers[0].directions
    below = layer0["forward"].h + layer0["backward"].h.flip(0)
    assert close(trace.layers[1].directions["forward"].x, below)


def test_reverse_direction_is_a_forward_run_on_the_reversed_sequence():
    torch.manual_seed(3)
    module = torch.nn.RNN(2, 3, dtype=torch.float64)
    x = torch.randn(4, 2, dtype=torch.float64)
    weights = {k: v.tolist() for k, v in module.state_dict().items()}
    trace = rnncalc.run(rnncalc.load({"cell": "rnn", "inputs": x.tolist(), "direction": "reverse",
                                      "weights": weights}))
    out, h_n = module(x.flip(0))
    assert close(trace.output, out.detach().flip(0)) and close(trace.h_n, h_n.detach())
    doc = trace.to_dict()
    assert doc["direction"] == "reverse"
    assert list(doc["layers"][0]["directions"]) == ["backward"]
    assert [s["t"] for s in doc["layers"][0]["directions"]["backward"]] == [3, 2, 1, 0]


def test_direction_bidirectional_equals_bidirectional_true():
    a = rnncalc.run(rnncalc.load(RNN_BI)).to_dict()
    b = rnncalc.run(rnncalc.load({**RNN_BI, "direction": "bidirectional"}))
    del RNN_BI["bidirectional"]  # restore below
    c = rnncalc.run(rnncalc.load({**RNN_BI, "direction": "bidirectional"}))
    RNN_BI["bidirectional"] = True
    assert a == b.to_dict() == c.to_dict()


# --- presets, formulas, comparison, errors ----------------------------------------------------

def test_presets_state_what_each_system_assumes():
    assert preset("gru", "pytorch").reset_after and preset("gru", "keras").reset_after
    assert not any(preset("gru", c).reset_after for c in ("onnx", "tf1", "d2l"))
    assert preset("lstm", "tf1").forget_bias == 1.0 and preset("lstm", "pytorch").forget_bias == 0
    assert PACKINGS["onnx"].gate_order["lstm"] == ("i", "o", "f", "g")
    assert PACKINGS["keras"].gate_order["gru"] == ("z", "r", "n")
    for c in CONVENTIONS:  # every preset's packing names every gate of every cell once
        for cell, gates in PACKINGS[c].gate_order.items():
            assert sorted(gates) == sorted(GATES[cell])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_formulas_command_prints_the_equations(cli, cell, convention):
    result = cli("formulas", cell, "--convention", convention)
    assert result.exit_code == 0, result.output
    eq = equations(preset(cell, convention))
    lines = result.stdout.splitlines()
    assert lines[2:2 + len(eq)] == eq
    assert "where:" in result.stdout
    # then the names other sources use, which a config may give (issue #14)
    assert lines[2 + len(eq)] == "also accepted:"
    assert ("W_xz, W_hz, b_z" in result.stdout) == (cell == "gru")
    assert ("W_c, b_c" in result.stdout) == (cell == "lstm")


def test_formulas_of_a_config(cli):
    result = cli("formulas", "lstm", "-c", str(CONFIGS / "lstm_stacked_relu.yaml"))
    assert result.exit_code == 0, result.output
    assert "g_t = relu(W_ig x_t + W_hg h_{t-1})" in result.stdout  # no biases in this config


def test_formulas_of_another_cells_config_suggests_formulas(cli):
    path = str(CONFIGS / "lstm.yaml")
    result = cli("formulas", "gru", "-c", path)
    assert result.exit_code == 3 and result.stdout == ""
    assert result.stderr == (f"{path}:4: cell: this config is for 'lstm', not 'gru': run "
                             "`rnncalc formulas lstm`\n")


def test_compare_conventions_marks_the_ones_that_differ(cli):
    result = cli("gru", "--compare-conventions")
    assert result.exit_code == 0, result.output
    assert "this config (pytorch = keras)" in result.stdout
    assert "onnx = tf1 = d2l" in result.stdout and " *" in result.stdout
    doc = json.loads(cli("gru", "--compare-conventions", "-f", "json").stdout)["compare"]
    assert [v["conventions"] for v in doc][:2] == [["pytorch", "keras"], ["onnx", "tf1", "d2l"]]
    assert [v["differs"]["h_n"] for v in doc] == [False, True, True]
    reset_before = rnncalc.run(rnncalc.load(CONFIGS / "gru.yaml", convention="onnx"))
    assert close(doc[1]["h_n"], reset_before.h_n)


def test_compare_conventions_when_none_differs(cli):
    result = cli("rnn", "--compare-conventions")
    assert result.exit_code == 0, result.output
    assert "every convention gives this config's answer" in result.stdout


@pytest.mark.parametrize(("args", "named"), [
    (("--svg", "{tmp}/cc.svg"), "--svg"),
    (("--explain",), "--explain"),
    (("t=1",), "--explain"),
    (("--round", "2"), "--round"),
])
def test_compare_conventions_refuses_the_options_it_would_drop(cli, tmp_path, args, named):
    """No SVG written, no arithmetic, no rounding: said, as a usage error, not silently."""
    result = cli("gru", "--compare-conventions", *(a.format(tmp=tmp_path) for a in args))
    assert result.exit_code == 2, result.output
    assert "--compare-conventions" in result.stderr and named in result.stderr
    assert result.stdout == "" and not (tmp_path / "cc.svg").exists()


def test_convention_option_overrides_the_config(cli):
    a = json.loads(cli("gru", "-f", "json", "--convention", "d2l").stdout)
    b = json.loads(cli("gru", "-c", str(CONFIGS / "gru_d2l.yaml"), "-f", "json").stdout)
    assert a["formulation"] == b["formulation"] and a["h_n"] == b["h_n"]
    assert a["formulation"]["reset_after"] is False


@pytest.mark.parametrize(("extra", "message"), [
    ({"activations": {"gate": "sigmod"}}, "activations.gate: unknown activation 'sigmod' (did "
     "you mean 'sigmoid'?)"),
    ({"activations": {"hidden": "relu"}}, "activations.hidden: the gru cell has no activation "
     "role"),
    ({"activations": {"gate": {"name": "tanh", "alpha": 2}}}, "tanh takes no alpha or beta"),
    ({"forget_bias": 1.0}, "forget_bias: forget_bias is an option of the lstm cell; this "
     "exercise's cell is gru"),
    ({"initial": {"c": [0, 0]}}, "initial.c: only an lstm has a cell state c; this exercise's "
     "cell is gru"),
    ({"nonlinearity": "relu"}, "nonlinearity: nonlinearity is the rnn's and indrnn's; for the "
     "gru cell choose"),
    ({"direction": "reverse", "bidirectional": True}, "contradicts direction: reverse"),
    ({"clip": 0}, "clip:"),
    ({"merge_mode": "max"}, "merge_mode: expected one of concat, sum, mul, ave"),
])
def test_formulation_errors_are_one_located_line(cli, tmp_path, extra, message):
    import yaml

    text = (tmp_path / "c.yaml")
    text.write_text(yaml.safe_dump(yaml.safe_load((CONFIGS / "gru.yaml").read_text()) | extra))
    result = cli("gru", "-c", str(text))
    assert result.exit_code == 3, result.output
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{text}:")
