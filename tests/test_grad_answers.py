"""Gradient answers (``grad:`` in an answers file, as ``rnncalc grad`` shows them) marked by
``rnncalc check``: right, carried from the student's own earlier gradients, wrong; and
``answers-template --grad``. The true gradients come from torch autograd on the seed's RNN,
worked here."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from tests.conftest import CONFIGS

GRAD = CONFIGS / "rnn_grad.yaml"  # the seed's RNN, regression head [0, 1] on h_2, 1/2 (y - 0.5)^2


@pytest.fixture(scope="module")
def truth():
    """Every gradient of the seed's RNN exercise by autograd (float64)."""
    dt = torch.float64
    W_ih = torch.tensor([[-1, 0, 0.5], [1, 0, -0.5]], dtype=dt, requires_grad=True)
    W_hh = torch.tensor([[0, -1], [0, -1]], dtype=dt, requires_grad=True)
    b_ih = torch.ones(2, dtype=dt, requires_grad=True)
    b_hh = torch.ones(2, dtype=dt, requires_grad=True)
    xs = torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=dt)
    h, pres, hs = torch.zeros(2, dtype=dt), [], []
    for x in xs:
        pre = W_ih @ x + b_ih + W_hh @ h + b_hh
        pre.retain_grad()
        h = torch.tanh(pre)
        h.retain_grad()
        pres.append(pre)
        hs.append(h)
    y = h[1]  # head W = [[0, 1]], b = 0
    loss = 0.5 * (y - 0.5) ** 2
    loss.backward()
    loss = loss.detach()
    return {"loss": loss.item(), "dpre": [p.grad.tolist() for p in pres], "x": xs.tolist(),
            "h": [v.detach().tolist() for v in hs], "W_ih": W_ih.grad.tolist(),
            "W_hh": W_hh.grad.tolist(), "b_ih": b_ih.grad.tolist()}


def four(v: float) -> str:
    return f"{v:.4f}"


def step(t: int, **fields) -> dict:
    return {"t": t, **fields}


def answers(tmp_path, grad: dict) -> str:
    text = yaml.safe_dump({"grad": grad}, sort_keys=False)
    text = text.replace("'", "")  # numbers written as text keep their digits
    path = tmp_path / "grad_answers.yaml"
    path.write_text(text)
    return str(path)


def marked(cli, path: str, *extra: str) -> tuple[int, dict]:
    result = cli("check", str(GRAD), path, "-f", "jsonl", *extra)
    rec = json.loads(result.stdout)
    assert "error" not in rec, rec
    return result.exit_code, rec


def test_right_gradients_are_right(cli, tmp_path, truth):
    dpre2 = truth["dpre"][2]
    grad = {"loss": four(truth["loss"]),
            "steps": [{"layer": 0, "directions": {"forward": [
                step(2, dpre={"h": [four(v) for v in dpre2]})]}}],
            "params": {"weight_hh_l0": [[four(v) for v in row] for row in truth["W_hh"]],
                       "bias_ih_l0": [four(v) for v in truth["b_ih"]]}}
    code, rec = marked(cli, answers(tmp_path, grad))
    assert code == 0 and rec["wrong"] == 0 and rec["right"] == 1 + 2 + 4 + 2
    names = [i["name"] for i in rec["items"]]
    # in the order computed: the loss, the last step back, then the totals
    assert names[:3] == ["loss", "dpre h_2[0]", "dpre h_2[1]"]
    assert names[3:] == ["weight_hh_l0[0,0]", "weight_hh_l0[0,1]", "weight_hh_l0[1,0]",
                         "weight_hh_l0[1,1]", "bias_ih_l0[0]", "bias_ih_l0[1]"] or \
        sorted(names[3:]) == sorted(["weight_hh_l0[0,0]", "weight_hh_l0[0,1]", "weight_hh_l0[1,0]",
                                     "weight_hh_l0[1,1]", "bias_ih_l0[0]", "bias_ih_l0[1]"])


def test_a_wrong_gate_delta_carries_into_the_steps_dW_and_db(cli, tmp_path, truth):
    dpre2, x2 = truth["dpre"][2], truth["x"][2]
    mine = [dpre2[0], dpre2[1] * 2]  # a slip in dL/dpre_2[1] (dpre_2[0] is 0: head W = [0, 1])
    assert four(mine[1]) != four(dpre2[1])
    # from the numbers written, as a student works: 4 decimals of dpre, times x
    dW = [[four(float(four(mine[r])) * x2[c]) for c in range(3)] for r in range(2)]
    grad = {"steps": [{"layer": 0, "directions": {"forward": [
        step(2, dpre={"h": [four(v) for v in mine]}, dW={"W_ih": dW},
             db={"b_ih": [four(v) for v in mine]})]}}]}
    code, rec = marked(cli, answers(tmp_path, grad))
    marks = {i["name"]: i["mark"] for i in rec["items"]}
    assert code == 1
    assert marks["dpre h_2[1]"] == "wrong" and marks["dpre h_2[0]"] == "right"
    assert marks["dW_ih_2[1,0]"] == marks["dW_ih_2[1,2]"] == "carried"
    assert marks["dW_ih_2[0,0]"] == "right" and marks["db_ih_2[1]"] == "carried"
    _, rec = marked(cli, answers(tmp_path, grad), "--carried", "none", "--points", "grad:1",
                    "--points", "pre:0")
    # right: dpre_2[1], dW_ih_2[1, 0..2], db_ih_2[1]; carried earns nothing
    assert rec["score"] == 5


def test_a_total_summed_from_the_students_own_steps_is_carried(cli, tmp_path, truth):
    """weight_ih_l0 = sum_t dpre_t x_t^T: a wrong step's contribution carried into the total."""
    dpre, xs = truth["dpre"], truth["x"]
    rows = []
    for t in (2, 1, 0):
        factor = 3 if t == 1 else 1  # the student's dW_ih at t=1 is wrong
        rows.append(step(t, dW={"W_ih": [[four(factor * dpre[t][r] * xs[t][c]) for c in range(3)]
                                          for r in range(2)]}))
    total = [[sum(float(four((3 if t == 1 else 1) * dpre[t][r] * xs[t][c])) for t in range(3))
              for c in range(3)] for r in range(2)]
    assert four(total[1][0]) != four(truth["W_ih"][1][0])
    grad = {"steps": [{"layer": 0, "directions": {"forward": rows}}],
            "params": {"weight_ih_l0": [[four(v) for v in row] for row in total]}}
    _, rec = marked(cli, answers(tmp_path, grad), "--tolerance", "0.0002")
    marks = {i["name"]: i["mark"] for i in rec["items"]}
    assert marks["weight_ih_l0[1,0]"] == "carried"
    assert marks["dW_ih_1[1,0]"] == "wrong" and marks["dW_ih_2[1,0]"] == "right"


def test_a_new_mistake_in_a_total_is_wrong(cli, tmp_path, truth):
    grad = {"params": {"weight_hh_l0": [["0.1234", four(truth["W_hh"][0][1])]]}}
    _, rec = marked(cli, answers(tmp_path, grad))
    assert [i["mark"] for i in rec["items"]] == ["wrong", "right"]


def test_max_score_counts_the_gradients_of_an_exercise_with_a_loss(cli, tmp_path, truth):
    empty = tmp_path / "empty.yaml"
    empty.write_text("student: x\n")
    _, rec = marked(cli, str(empty))
    forward = 3 * 2 * 2 + 1 + 3  # pre, h at 3 steps x 2 units; y; y_t
    # loss; head z, dz (1 each), dh (2); per step dh_out, dh_future, dh, dpre (2 each), dW_ih (6),
    # dW_hh (4), db_ih, db_hh (2 each), dx (3); initial dh (2); params: 6 + 4 + 2 + 2 + 2 + 1
    backward = 1 + 1 + 1 + 2 + 3 * (2 * 4 + 6 + 4 + 2 * 2 + 3) + 2 + (6 + 4 + 2 + 2 + 2 + 1)
    assert rec["max_score"] == forward + backward
    _, rec = marked(cli, str(empty), "--points", "grad:0")
    assert rec["max_score"] == forward


def test_answers_template_grad_is_the_blank_of_every_gradient(cli, truth):
    result = cli("answers-template", str(GRAD), "--grad")
    assert result.exit_code == 0, result.stderr
    doc = yaml.safe_load(result.stdout)
    assert set(doc) == {"grad"} and doc["grad"]["loss"] is None
    steps = doc["grad"]["steps"][0]["directions"]["forward"]
    assert [s["t"] for s in steps] == [2, 1, 0]
    assert steps[0]["dW"]["W_hh"] == [[None, None], [None, None]]
    assert doc["grad"]["params"]["weight_ih_l0"] == [[None] * 3] * 2


def test_answers_template_grad_needs_a_loss(cli):
    result = cli("answers-template", str(CONFIGS / "rnn_hidden.yaml"), "--grad")
    assert result.exit_code == 3 and "needs a loss" in result.stderr


def test_a_wrong_dh_carries_through_the_cells_backward_step(cli, tmp_path, truth):
    """dh_out_2 wrong (0.6 for 0.4983): dh_2, dpre_2 = dh_2 (1 - h_2^2) and the next step's
    dh_future_1 = W_hh^T dpre_2 follow from it: carried."""
    h2 = truth["h"][2]
    dh = [0.0, 0.6]
    dpre = [d * (1 - h * h) for d, h in zip(dh, h2, strict=True)]
    dh_future_1 = [0.0, -(dpre[0] + dpre[1])]  # W_hh = [[0, -1], [0, -1]]
    assert four(dpre[1]) != four(truth["dpre"][2][1])
    grad = {"steps": [{"layer": 0, "directions": {"forward": [
        step(2, dh_out=["0.0000", "0.6000"], dh=["0.0000", "0.6000"],
             dpre={"h": [four(v) for v in dpre]}),
        step(1, dh_future=[four(v) for v in dh_future_1])]}}]}
    _, rec = marked(cli, answers(tmp_path, grad))
    marks = {i["name"]: i["mark"] for i in rec["items"]}
    assert marks["dh_out_2[1]"] == "wrong" and marks["dh_out_2[0]"] == "right"
    assert marks["dh_2[1]"] == marks["dpre h_2[1]"] == marks["dh_future_1[1]"] == "carried"


def test_indrnn_step_recurrent_weight_carried_from_the_students_dh(cli, tmp_path):
    """IndRNN's w_hh is a vector (one weight per unit): its step gradient dW_hh_t[j] =
    dL/dh_t[j] tanh'(a_t[j]) h_{t-1}[j], from the student's own (wrong) dh_out; worked here by
    autograd (it crashed with an IndexError, reading a column the vector has not)."""
    config = tmp_path / "indrnn.yaml"
    config.write_text("cell: indrnn\nnonlinearity: tanh\ninputs: [[1], [0.5]]\n"
                      "weights: {W_ih: [[0.5], [-1]], W_hh: [0.8, -0.6], b_ih: 0.1, b_hh: 0}\n"
                      "head: {task: regression, W: [[1, 1]], b: 0}\n"
                      "loss: {type: half_sse, target: 0}\n")
    dt = torch.float64
    W_ih, w_hh = torch.tensor([[0.5], [-1]], dtype=dt), torch.tensor([0.8, -0.6], dtype=dt)
    h0 = torch.tanh(W_ih @ torch.tensor([1.0], dtype=dt) + 0.1)
    pre1 = W_ih @ torch.tensor([0.5], dtype=dt) + 0.1 + w_hh * h0
    h1 = torch.tanh(pre1)
    dh_out = h1.sum() * torch.ones(2, dtype=dt)  # d/dh_1 of 1/2 (h_1[0] + h_1[1])^2
    mine = dh_out * torch.tensor([2.0, 1.0], dtype=dt)  # unit 0 written wrong: twice the truth
    dW_hh = [float(four(float(v))) * float(1 - h1[j] ** 2) * float(h0[j])
             for j, v in enumerate(mine)]
    path = answers(tmp_path, {"steps": [{"layer": 0, "directions": {"forward": [
        step(1, dh_out=[four(v) for v in mine.tolist()],
             dW={"W_hh": [four(v) for v in dW_hh]})]}}]})
    result = cli("check", str(config), path, "-f", "jsonl")
    assert result.exit_code == 1, result.stderr
    marks = {i["name"]: i["mark"] for i in json.loads(result.stdout)["items"]}
    assert marks == {"dh_out_1[0]": "wrong", "dh_out_1[1]": "right",
                     "dW_hh_1[0]": "carried", "dW_hh_1[1]": "right"}
