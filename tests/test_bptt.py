"""``rnncalc grad``: the hand-derived backward recursion against torch.autograd, finite differences,
truncation with a detached state, and a published hand-worked LSTM backward pass.

References are independent of the engine: PyTorch's own modules (``torch.nn.RNN/LSTM/GRU``) and
losses (``MSELoss``, ``CrossEntropyLoss``, ``BCEWithLogitsLoss``) differentiated by autograd, in
float64; for options torch.nn lacks (GRU's reset-before form, z weighting the candidate, other
activations, merge modes), autograd through the forward cells (themselves tested against torch.nn
and onnxruntime by the engine's tests), never through the backward code under test.
"""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import rnncalc
from rnncalc.bptt import backprop
from rnncalc.cells import CELLS
from rnncalc.engine import compute
from rnncalc.engine import params as _params
from rnncalc.errors import RnncalcError
from tests.conftest import ARRAYS, CONFIGS, backprop_on

TOL = 1e-12
F64 = torch.float64
MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


# --- random exercises -------------------------------------------------------------------------


@st.composite
def exercises(draw, cells=("rnn", "lstm", "gru")):
    cell = draw(st.sampled_from(cells))
    spec = {
        "cell": cell,
        "input_size": draw(st.integers(1, 3)),
        "hidden_size": draw(st.integers(1, 3)),
        "num_layers": draw(st.integers(1, 2)),
        "bidirectional": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "steps": draw(st.integers(1, 4)),
        "nonlinearity": draw(st.sampled_from(["tanh", "relu"])) if cell == "rnn" else "tanh",
        "initial": draw(st.booleans()),
        "loss": draw(st.sampled_from(["mse", "half_sse", "cross_entropy", "bce", "upstream"])),
        "per_position": draw(st.booleans()),
        "reduction": draw(st.sampled_from(["mean", "sum"])),
        "outputs": draw(st.integers(1, 3)),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }
    if spec["loss"] == "bce":
        spec["outputs"] = 1
    if spec["loss"] == "cross_entropy":
        spec["outputs"] = max(2, spec["outputs"])
    if spec["loss"] == "half_sse":
        spec["reduction"] = "sum"
    return spec


def build(spec):
    """A config (state_dict weights), the torch.nn module with the same weights, the tensors."""
    torch.manual_seed(spec["seed"])
    module = MODULES[spec["cell"]](
        input_size=spec["input_size"], hidden_size=spec["hidden_size"],
        num_layers=spec["num_layers"], bidirectional=spec["bidirectional"], bias=spec["bias"],
        dtype=F64, **({"nonlinearity": spec["nonlinearity"]} if spec["cell"] == "rnn" else {}))
    D = 2 if spec["bidirectional"] else 1
    T, H, width = spec["steps"], spec["hidden_size"], D * spec["hidden_size"]
    x = torch.randn(T, spec["input_size"], dtype=F64) * 2
    h0 = torch.randn(spec["num_layers"] * D, H, dtype=F64) * spec["initial"]
    c0 = torch.randn(spec["num_layers"] * D, H, dtype=F64) * spec["initial"]
    W = torch.randn(spec["outputs"], width, dtype=F64)
    b = torch.randn(spec["outputs"], dtype=F64)
    config = {
        "cell": spec["cell"], "inputs": x.tolist(), "num_layers": spec["num_layers"],
        "bidirectional": spec["bidirectional"], "bias": spec["bias"],
        "weights": {k: v.tolist() for k, v in module.state_dict().items()},
        "initial": {"h": h0.tolist()} | ({"c": c0.tolist()} if spec["cell"] == "lstm" else {}),
    }
    if spec["cell"] == "rnn":
        config["nonlinearity"] = spec["nonlinearity"]
    kind, n = spec["loss"], T if spec["per_position"] else 1
    task = {"cross_entropy": "labeling", "bce": "labeling"}.get(kind, "regression")
    if not spec["per_position"] and task == "labeling":
        task = "classification"
    config["head"] = {"task": task, "W": W.tolist(), "b": b.tolist()}
    if kind == "upstream":
        target = torch.randn(T, width, dtype=F64)
        config["upstream"] = target.tolist()
    elif kind == "cross_entropy":
        target = torch.randint(0, spec["outputs"], (n,))
        values = target.tolist()
    elif kind == "bce":
        target = torch.rand(n, 1, dtype=F64)
        values = target[:, 0].tolist()
    else:
        target = torch.randn(n, spec["outputs"], dtype=F64)
        values = target.tolist()
    if kind != "upstream":
        key = "targets" if spec["per_position"] else "target"
        config["loss"] = {"type": kind, key: values if spec["per_position"] else values[0]}
        if kind != "half_sse":
            config["loss"]["reduction"] = spec["reduction"]
    return config, module, (x, h0, c0, W, b, target)


def reference_loss(spec, out, h_n, W, b, target):
    """The loss from torch.nn's own loss modules on the head's output."""
    kind = spec["loss"]
    if kind == "upstream":
        return (out * target).sum()
    D = 2 if spec["bidirectional"] else 1
    h = out if spec["per_position"] else torch.cat(list(h_n[-D:]))[None]
    z = h @ W.T + b
    if kind == "half_sse":
        return 0.5 * ((z - target) ** 2).sum()
    if kind == "mse":
        return torch.nn.MSELoss(reduction=spec["reduction"])(z, target)
    if kind == "cross_entropy":
        return torch.nn.CrossEntropyLoss(reduction=spec["reduction"])(z, target)
    return torch.nn.BCEWithLogitsLoss(reduction=spec["reduction"])(z, target)


def assert_close(ours, theirs, what):
    """Relative, and absolute to the largest element: unbounded activations (identity, affine)
    grow gradients to 1e9 within a few steps, and an element that is a small difference of such
    terms carries their rounding, whichever order the sums are taken in."""
    ours, theirs = torch.as_tensor(ours, dtype=F64), torch.as_tensor(theirs, dtype=F64)
    assert ours.shape == theirs.shape, what
    scale = max(1.0, theirs.abs().max().item()) if theirs.numel() else 1.0
    assert torch.allclose(ours, theirs, atol=TOL * scale, rtol=TOL), (what, ours, theirs)


# --- every total against torch.autograd on torch.nn modules -------------------------------------


@pytest.mark.parametrize("arrays", ARRAYS)
@given(exercises())
def test_totals_match_autograd_on_torch_nn(arrays, spec):
    config, module, (x, h0, c0, W, b, target) = build(spec)
    h0.requires_grad_(True)
    c0.requires_grad_(True)
    W.requires_grad_(True)
    b.requires_grad_(True)
    out, state = module(x, (h0, c0) if spec["cell"] == "lstm" else h0)
    h_n = state[0] if spec["cell"] == "lstm" else state
    loss = reference_loss(spec, out, h_n, W, b, target)
    loss.backward()

    grad = backprop_on(arrays, config)
    if spec["loss"] != "upstream":
        assert abs(grad.value - loss.item()) < TOL
    expected = dict(module.named_parameters())
    assert set(grad.params) - {"head.W", "head.b"} == set(expected)
    for name, p in expected.items():
        assert_close(grad.params[name], p.grad, name)
    if spec["loss"] != "upstream":
        assert_close(grad.params["head.W"], W.grad, "head.W")
        assert_close(grad.params["head.b"], b.grad, "head.b")
    dh0 = torch.stack([torch.as_tensor(g.dh0) for dirs in grad.layers for g in dirs.values()])
    assert_close(dh0, h0.grad, "h0")
    if spec["cell"] == "lstm":
        dc0 = torch.stack([torch.as_tensor(g.dc0) for dirs in grad.layers for g in dirs.values()])
        assert_close(dc0, c0.grad, "c0")


@pytest.mark.parametrize("arrays", ARRAYS)
@given(exercises())
def test_step_contributions_add_up_to_the_totals_in_json(arrays, spec):
    config, _, _ = build(spec)
    d = backprop_on(arrays, config).to_dict()
    sums: dict[str, torch.Tensor] = {}
    for layer in d["steps"]:
        for direction, steps in layer["directions"].items():
            suffix = f"_l{layer['layer']}" + ("_reverse" if direction == "backward" else "")
            for step in steps:
                blocks = {**step["dW"], **step.get("db", {})}
                for kind, side in (("weight_ih", "W_i"), ("weight_hh", "W_h"),
                                   ("bias_ih", "b_i"), ("bias_hh", "b_h")):
                    parts = [torch.tensor(v, dtype=F64) for n, v in blocks.items()
                             if n.startswith(side)]
                    if parts:
                        name = kind + suffix
                        sums[name] = sums.get(name, 0) + torch.cat(parts)
                assert step["dh"] == pytest.approx(
                    [a + b for a, b in zip(step["dh_out"], step["dh_future"], strict=True)])
    for name, total in sums.items():
        assert_close(total, torch.tensor(d["params"][name], dtype=F64), name)


# --- options torch.nn lacks: autograd through the forward cells ---------------------------------


@st.composite
def formulated(draw):
    cell = draw(st.sampled_from(["rnn", "lstm", "gru"]))
    acts = ["sigmoid", "tanh", "identity", "softsign", "softplus", "elu", "scaled_tanh",
            "leaky_relu", "hard_sigmoid", "affine", "thresholded_relu"]
    options = {"rnn": {"activations": {"hidden": draw(st.sampled_from([*acts, "relu"]))}},
               "lstm": {"activations": {"gate": draw(st.sampled_from(acts)),
                                        "cell_input": draw(st.sampled_from(acts)),
                                        "cell_output": draw(st.sampled_from(acts))},
                        "forget_bias": draw(st.sampled_from([0.0, 1.0]))},
               "gru": {"reset_after": draw(st.booleans()),
                       "z_weights": draw(st.sampled_from(["previous", "candidate"])),
                       "activations": {"gate": draw(st.sampled_from(acts)),
                                       "candidate": draw(st.sampled_from(acts))}}}[cell]
    clip = draw(st.sampled_from([None, 0.5, 2.0]))  # the LSTM's: test_lstm_options_match_autograd
    if clip is not None and cell != "lstm":
        options["clip"] = clip
    spec = draw(exercises(cells=(cell,)))
    spec["reverse"] = draw(st.booleans())
    spec["bidirectional"] = not spec["reverse"]  # reverse: one direction, last position first
    spec["merge_mode"] = "concat" if spec["reverse"] else draw(
        st.sampled_from(["concat", "sum", "mul", "ave"]))
    if spec["merge_mode"] != "concat":  # one layer: the torch.nn weights read 2*H above it
        spec["num_layers"] = 1
        spec["loss"] = draw(st.sampled_from(["mse", "half_sse"]))
        spec["reduction"] = "sum" if spec["loss"] == "half_sse" else spec["reduction"]
    return spec, options


def autograd_through_cells(ex, loss_of):
    """The forward pass again, through the forward cells with autograd on: the totals."""
    dtype = F64
    leaves = {}
    xs = torch.tensor(ex.inputs, dtype=dtype)
    cell = CELLS[ex.cell]
    for layer, row in enumerate(ex.weights):
        outs = []
        for d, (direction, w) in enumerate(zip(ex.directions, row, strict=True)):
            p = _params(w, dtype)
            p = type(p)(*(t.clone().requires_grad_(True) if t is not None else None for t in p))
            suffix = f"_l{layer}" + ("_reverse" if d == 1 else "")
            leaves.update({f"{k}{suffix}": getattr(p, k) for k in
                           ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr",
                            "peephole") if getattr(p, k) is not None})
            k = layer * ex.num_directions + d
            h = torch.tensor(ex.h0[k], dtype=dtype)
            c = None if ex.c0 is None else torch.tensor(ex.c0[k], dtype=dtype)
            positions = range(len(xs)) if direction == "forward" else reversed(range(len(xs)))
            hs = {}
            for t in positions:
                step = cell.step(p, xs[t], h, c, ex.formulation)
                h, c = step.h, step.c
                hs[t] = h
            outs.append((torch.stack([hs[t] for t in range(len(xs))]), h))
        seq = [o[0] for o in outs]
        finals = [o[1] for o in outs]
        xs = merge(seq, ex.merge_mode)
    loss = loss_of(xs, merge(finals, ex.merge_mode))
    loss.backward()
    return {k: v.grad if v.grad is not None else torch.zeros_like(v) for k, v in leaves.items()}


def merge(parts, mode):
    if len(parts) == 1:
        return parts[0]
    f, b = parts
    return {"concat": lambda: torch.cat([f, b], -1), "sum": lambda: f + b,
            "mul": lambda: f * b, "ave": lambda: (f + b) / 2}[mode]()


@pytest.mark.parametrize("arrays", ARRAYS)
@given(formulated())
def test_formulation_options_match_autograd(arrays, drawn):
    spec, options = drawn
    spec = dict(spec, bias=True)
    config, _, (_, _, _, W, b, target) = build(spec)
    config.pop("nonlinearity", None)
    config.update(options)
    config["merge_mode"] = spec["merge_mode"]
    if spec["reverse"]:
        config["direction"] = "reverse"
    if spec["merge_mode"] != "concat":
        width = spec["hidden_size"]
        W = W[:, :width].contiguous()
        config["head"]["W"] = W.tolist()
    ex = rnncalc.load(config)
    try:
        grad = backprop_on(arrays, ex)
    except RnncalcError as error:  # identity activations can overflow the forward pass itself
        assume("out of the range" not in str(error))
        raise

    def loss_of(out, final):
        if spec["per_position"] or spec["loss"] == "upstream":
            return reference_loss(spec, out, None, W, b, target)
        return _final_loss(spec, final[None] @ W.T + b, target)

    expected = autograd_through_cells(ex, loss_of)
    # unbounded activations can overflow autograd's intermediates (inf - inf) where ours do not
    assume(all(bool(torch.isfinite(g).all()) for g in expected.values()))
    for name, g in expected.items():
        assert_close(grad.params[name], g, name)


@st.composite
def lstm_options(draw):
    """A one-layer LSTM with ONNX's, TF1's and PyTorch's options, per-gate weights, an upstream
    gradient; a small ``clip`` so that some pre-activations are clamped."""
    H, I, T = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 5))
    peep, proj = draw(st.booleans()), draw(st.booleans()) and H > 1
    S = H - 1 if proj else H
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))

    def rand(*shape):
        return (torch.randn(*shape, generator=g, dtype=F64) * 1.5).tolist()

    weights = {}
    for gate in "ifgo":
        weights |= {f"W_i{gate}": rand(H, I), f"W_h{gate}": rand(H, S), f"b_i{gate}": rand(H),
                    f"b_h{gate}": rand(H)}
    if peep:
        weights |= {"p_i": rand(H), "p_f": rand(H), "p_o": rand(H)}
    config = {"cell": "lstm", "inputs": rand(T, I), "weights": weights,
              "initial": {"h": rand(S), "c": rand(H)}, "upstream": rand(T, S),
              "input_forget": draw(st.booleans()),
              "forget_bias": draw(st.sampled_from([0.0, 1.0])),
              "clip": draw(st.sampled_from([None, 0.5, 1.5, 4.0]))}
    if proj:
        config["proj_size"] = S
        weights["W_hr"] = rand(S, H)
    if config["clip"] is None:
        del config["clip"]
    return config


@pytest.mark.parametrize("arrays", ARRAYS)
@given(lstm_options())
def test_lstm_options_match_autograd(arrays, config):
    """Peepholes, clip, input_forget, forget_bias and a projection: every total, including the
    peepholes' (``peephole_l0``, rows p_i, p_f, p_o) and the projection's (``weight_hr_l0``)."""
    ex = rnncalc.load(config)
    grad = backprop_on(arrays, ex)
    upstream = torch.tensor(config["upstream"], dtype=F64)
    expected = autograd_through_cells(ex, lambda out, final: (out * upstream).sum())
    assert set(expected) <= set(grad.params)
    for name, g in expected.items():
        assert_close(grad.params[name], g, name)


def test_lstm_options_in_the_json_steps(cli, tmp_path):
    """Each step's contributions to the options' parameters are in the JSON, and add up."""
    config = {"cell": "lstm", "inputs": [[1.0], [-2.0], [0.5]], "proj_size": 1, "clip": 2.0,
              "weights": {"W_ii": [[0.5], [1.0]], "W_if": [[-0.5], [0.2]], "W_ig": [[2.0], [1.0]],
                          "W_io": [[0.3], [-1.0]], "W_hi": [[0.1], [0.2]], "W_hf": [[0.3], [0.1]],
                          "W_hg": [[-0.2], [0.4]], "W_ho": [[0.5], [0.5]],
                          "p_i": [0.1, -0.2], "p_f": [0.3, 0.1], "p_o": [-0.4, 0.2],
                          "W_hr": [[0.7, -1.2]]},
              "upstream": [[1.0], [0.5], [-1.0]]}
    path = tmp_path / "options.yaml"
    path.write_text(json.dumps(config))
    result = cli("grad", "-c", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    g = json.loads(result.stdout)["grad"]
    rows = g["steps"][0]["directions"]["forward"]
    for name, total in (("p_i", g["params"]["peephole_l0"][0]),
                        ("W_hr", g["params"]["weight_hr_l0"])):
        summed = torch.stack([torch.tensor(r["dW"][name], dtype=F64) for r in rows]).sum(0)
        assert_close(summed, torch.tensor(total, dtype=F64), name)
    explained = cli("grad", "-c", str(path), "--explain")
    assert explained.exit_code == 2 and "without peepholes, clip, a projection" in explained.stderr


def _final_loss(spec, z, target):
    kind = spec["loss"]
    if kind == "half_sse":
        return 0.5 * ((z - target) ** 2).sum()
    if kind == "mse":
        return torch.nn.MSELoss(reduction=spec["reduction"])(z, target)
    if kind == "cross_entropy":
        return torch.nn.CrossEntropyLoss(reduction=spec["reduction"])(z, target)
    return torch.nn.BCEWithLogitsLoss(reduction=spec["reduction"])(z, target)


# --- finite differences, independent of both ------------------------------------------------


def _loss_value(config):
    return backprop(rnncalc.run(rnncalc.load(config))).value


@pytest.mark.parametrize("spec", [
    dict(cell="rnn", nonlinearity="tanh", num_layers=2, bidirectional=True, loss="cross_entropy",
         per_position=True, outputs=3, reduction="mean"),
    dict(cell="lstm", num_layers=1, bidirectional=False, loss="mse", per_position=False,
         outputs=2, reduction="sum"),
    dict(cell="gru", num_layers=2, bidirectional=False, loss="bce", per_position=False,
         outputs=1, reduction="mean"),
])
def test_finite_differences(spec):
    spec = {"input_size": 2, "hidden_size": 2, "bias": True, "steps": 3, "initial": True,
            "nonlinearity": "tanh", "seed": 7, **spec}
    config, _, _ = build(spec)
    grad = backprop(rnncalc.run(rnncalc.load(config)))
    eps = 1e-6
    for name, values in config["weights"].items():
        flat = torch.tensor(values, dtype=F64).flatten()
        numeric = torch.zeros_like(flat)
        for i in range(len(flat)):
            bumped = []
            for sign in (1, -1):
                w = flat.clone()
                w[i] += sign * eps
                shape = torch.tensor(values).shape
                bumped.append(_loss_value({**config, "weights": {
                    **config["weights"], name: w.reshape(shape).tolist()}}))
            numeric[i] = (bumped[0] - bumped[1]) / (2 * eps)
        ours = grad.params[name].flatten()
        assert torch.allclose(ours, numeric, atol=1e-7, rtol=1e-6), (name, ours, numeric)


# --- truncated BPTT against autograd with the state detached at the boundary -----------------


@pytest.mark.parametrize("arrays", ARRAYS)
@given(exercises(), st.integers(1, 4))
def test_truncation_matches_autograd_with_detach(arrays, spec, K):
    config, module, (x, h0, c0, W, b, target) = build(spec)
    grad = backprop_on(arrays, config, truncate=K)
    cells = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}
    D = 2 if spec["bidirectional"] else 1
    leaves = dict(module.named_parameters())
    xs = x
    finals = []
    for layer in range(spec["num_layers"]):
        outs = []
        for d in range(D):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            cell = cells[spec["cell"]](xs.shape[-1], spec["hidden_size"], bias=spec["bias"],
                                       dtype=F64, **({"nonlinearity": spec["nonlinearity"]}
                                                     if spec["cell"] == "rnn" else {}))
            names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if spec["bias"] else [])
            T = len(xs)
            order = list(range(T)) if d == 0 else list(reversed(range(T)))
            state = (h0[layer * D + d], c0[layer * D + d]) if spec["cell"] == "lstm" \
                else h0[layer * D + d]
            hs = {}
            for k, t in enumerate(order):
                inside = k >= T - K
                if k == T - K:  # the boundary: the state entering the window is a constant
                    state = tuple(s.detach() for s in state) if isinstance(state, tuple) \
                        else state.detach()
                # outside the window, the weights and the inputs are constants too
                weights = {n: leaves[n + suffix] if inside else leaves[n + suffix].detach()
                           for n in names}
                inp = xs[t] if inside else xs[t].detach()
                state = torch.func.functional_call(cell, weights, (inp, state))
                hs[t] = state[0] if isinstance(state, tuple) else state
            outs.append(torch.stack([hs[t] for t in range(T)]))
            finals.append(hs[order[-1]])
        xs = torch.cat(outs, -1)
    h_n = torch.stack(finals)
    W.requires_grad_(True)
    b.requires_grad_(True)
    reference_loss(spec, xs, h_n, W, b, target).backward()
    for name, p in leaves.items():
        expected = p.grad if p.grad is not None else torch.zeros_like(p)
        assert_close(grad.params[name], expected, name)


# --- a published hand-worked LSTM backward pass -----------------------------------------------


def test_gomez_numerical_lstm_example():
    """Aidan Gomez, "Backpropogating an LSTM: A Numerical Example" (blog, 17 Apr 2016,
    https://blog.aidangomez.ca/2016/04/17/Backpropogating-an-LSTM-A-Numerical-Example/): one
    unit, x = [1, 2], [0.5, 3], labels 0.5, 1.25, loss sum_t 1/2 (out_t - label_t)^2, then one SGD
    step with learning rate 0.1. The figures below are those printed by a published run of the
    sheet's equations (github.com/ThomasH88/home_made_RNN, LSTM_numerical_example.ipynb): out_t,
    and the weights after the step, rows in the sheet's gate order a, i, f, o (ours g, i, f, o).
    """
    ex = rnncalc.load(CONFIGS / "lstm_grad_gomez.yaml")
    trace = rnncalc.run(ex)
    assert trace.output[:, 0].tolist() == pytest.approx([0.5363133978820118, 0.7719811057588907],
                                                        abs=1e-15)
    grad = backprop(trace)
    order = [2, 0, 1, 3]  # sheet row a, i, f, o -> our blocks g, i, f, o
    W = torch.tensor([[0.45, 0.25], [0.95, 0.8], [0.7, 0.45], [0.6, 0.4]], dtype=F64)
    U = torch.tensor([0.15, 0.8, 0.1, 0.25], dtype=F64)
    b = torch.tensor([0.2, 0.65, 0.15, 0.1], dtype=F64)
    new_W = [[0.45267162, 0.25922011], [0.95022037, 0.80066386], [0.70031533, 0.45189196],
             [0.60259241, 0.41626039]]
    new_U = [0.15103961, 0.80005983, 0.10033823, 0.25296999]
    new_b = [0.20364084, 0.65027615, 0.15063065, 0.1053613]
    step = {name: grad.params[name][order] for name in grad.params if name.endswith("_l0")}
    assert (W - 0.1 * step["weight_ih_l0"]).tolist() == [pytest.approx(r, abs=1e-8) for r in new_W]
    assert (U - 0.1 * step["weight_hh_l0"][:, 0]).tolist() == pytest.approx(new_U, abs=1e-8)
    # the sheet has one bias per gate; ours are b_ih + b_hh, each receiving the whole gradient
    assert (b - 0.1 * step["bias_ih_l0"]).tolist() == pytest.approx(new_b, abs=1e-8)
    assert torch.equal(step["bias_ih_l0"], step["bias_hh_l0"])


# --- the command ------------------------------------------------------------------------------


def test_cli_grad_json_contract(cli):
    result = cli("grad", "-c", str(CONFIGS / "rnn_labeling_grad.yaml"), "--format", "json")
    assert result.exit_code == 0, result.stderr
    d = json.loads(result.stdout)
    assert d["layers"] and d["head"]["task"] == "labeling"  # the forward object first
    g = d["grad"]
    assert set(g["params"]) == {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                "head.W", "head.b"}
    steps = g["steps"][0]["directions"]["forward"]
    assert [s["t"] for s in steps] == [2, 1, 0]  # in the order computed: last step first
    # slope: each gate's act'(a), the factor dpre multiplies by (issue #14)
    assert set(steps[0]) == {"t", "dh_out", "dh_future", "dh", "dpre", "slope", "dW", "db", "dx"}
    assert set(steps[0]["dW"]) == {"W_ih", "W_hh"} and set(steps[0]["db"]) == {"b_ih", "b_hh"}
    # the loss against torch.nn.CrossEntropyLoss on the seed's printed probabilities' logits
    z = torch.tensor([s["logits"] for s in d["head"]["steps"]], dtype=F64)
    expected = torch.nn.CrossEntropyLoss()(z, torch.tensor([1, 0, 0]))
    assert g["loss"] == pytest.approx(float(expected), abs=1e-12)


def test_cli_grad_table_markdown_latex_and_explain(cli):
    config = str(CONFIGS / "lstm_grad_gomez.yaml")
    table = cli("grad", "-c", config, "--explain", "--element", "weight_ih_l0[2,1]")
    assert table.exit_code == 0, table.stderr
    for text in ("Backward · layer 0 · forward", "dL/dc_t", "step's dL/dW_ig", "Gradient totals",
                 "Chain rule for weight_ih_l0[2,1]", "dL/dweight_ih_l0[2,1] = "):
        assert text in table.stdout, text
    # the chain rule's last number is the total, -0.0922 in Gomez's sheet (dW_a, second input)
    assert table.stdout.rstrip().endswith("= -0.0922")
    for fmt, marker in (("markdown", "## Gradient totals"), ("latex", "Gradient totals")):
        result = cli("grad", "-c", config, "--format", fmt, "-e")
        assert result.exit_code == 0, result.stderr
        assert marker in result.stdout
    result = cli("grad", "-c", config, "-f", "json", "-e", "--element", "head.b[0]")
    lines = json.loads(result.stdout)["grad"]["explain"]["lines"]
    assert lines[-1].startswith("dL/dhead.b[0] = ")


def test_lstm_chain_rule_writes_dl_dc_at_every_step(cli):
    """The LSTM's chain rule has a dL/dc_t line at each step (written by the cell's own module),
    its value autograd's dL/dc_t: Gomez's sheet computed by hand in torch, c_t kept."""
    result = cli("grad", "-c", str(CONFIGS / "lstm_grad_gomez.yaml"), "-f", "json", "-e",
                 "--precision", "8", "--element", "weight_ih_l0[2,1]")
    assert result.exit_code == 0, result.stderr
    lines = json.loads(result.stdout)["grad"]["explain"]["lines"]
    shown = {int(line[len("dL/dc_")]): float(line.rsplit("= ", 1)[1])
             for line in lines if line.startswith("dL/dc_")}
    W = torch.tensor([[0.95, 0.8], [0.7, 0.45], [0.45, 0.25], [0.6, 0.4]], dtype=F64,
                     requires_grad=True)  # rows i, f, g, o
    U = torch.tensor([0.8, 0.1, 0.15, 0.25], dtype=F64)
    b = torch.tensor([0.65, 0.15, 0.2, 0.1], dtype=F64)
    h, c, cs, loss = torch.zeros((), dtype=F64), torch.zeros((), dtype=F64), [], 0.0
    for x, label in zip(([1.0, 2.0], [0.5, 3.0]), (0.5, 1.25), strict=True):
        a = W @ torch.tensor(x, dtype=F64) + U * h + b
        i, f, g, o = a[0].sigmoid(), a[1].sigmoid(), a[2].tanh(), a[3].sigmoid()
        c = f * c + i * g
        c.retain_grad()
        cs.append(c)
        h = o * c.tanh()
        loss = loss + 0.5 * (h - label) ** 2
    loss.backward()
    assert shown == pytest.approx({t: float(c.grad) for t, c in enumerate(cs)}, abs=1e-8)


@pytest.mark.parametrize(("reset_after", "z_weights", "row", "factor"), [
    (True, "previous", 2, "*(1 - z_2[0])*tanh'(a_n_2[0])"),
    (True, "previous", 1, "*(h_prev_2[0] - n_2[0])*sigmoid'(a_z_2[0])"),
    (True, "candidate", 1, "*(n_2[0] - h_prev_2[0])*sigmoid'(a_z_2[0])"),
    (True, "previous", 0, "dL/da_n_2[0]*(W_hn h_prev_2[0] + b_hn[0])*sigmoid'(a_r_2[0])"),
    (False, "candidate", 2, "dL/dh_2[0]*z_2[0]*tanh'(a_n_2[0])"),
])
def test_gru_chain_rule_brackets_its_differences(cli, tmp_path, reset_after, z_weights, row,
                                                 factor):
    """A factor that is a difference or a sum is bracketed: dL/da_n = dL/dh (1 - z) tanh'(a_n)
    (the module docstring's equation) was written dL/dh*1 - z*tanh'(a_n)."""
    path = tmp_path / "gru.yaml"
    path.write_text(f"""cell: gru
reset_after: {str(reset_after).lower()}
z_weights: {z_weights}
inputs: [[1], [0.5], [-1]]
weights: {{W_ir: [[0.5]], W_iz: [[-0.5]], W_in: [[1]], W_hr: [[0.3]], W_hz: [[0.2]],
           W_hn: [[-0.4]], b_ir: 0.1, b_iz: 0.2, b_in: 0.3, b_hn: 0.4}}
head: {{task: regression, W: [[1]], b: 0}}
loss: {{type: half_sse, target: 0.5}}
""")
    result = cli("grad", "-c", str(path), "-f", "json", "-e", "--element",
                 f"weight_hh_l0[{row},0]")
    assert result.exit_code == 0, result.stderr
    lines = json.loads(result.stdout)["grad"]["explain"]["lines"]
    gate = "rzn"[row]
    line = next(ln for ln in lines if ln.startswith(f"dL/da_{gate}_2[0] = "))
    assert line.split(" = ")[1].endswith(factor), line


def test_cli_grad_truncate_lists_only_the_window(cli):
    result = cli("grad", "-c", str(CONFIGS / "rnn_grad.yaml"), "--truncate", "2", "-f", "json")
    assert result.exit_code == 0, result.stderr
    g = json.loads(result.stdout)["grad"]
    assert g["truncate"] == 2
    assert [s["t"] for s in g["steps"][0]["directions"]["forward"]] == [2, 1]
    assert "initial" not in g


def _numbers(tree):
    if isinstance(tree, dict):
        for v in tree.values():
            yield from _numbers(v)
    elif isinstance(tree, list):
        for v in tree:
            yield from _numbers(v)
    elif isinstance(tree, float):
        yield tree


@pytest.mark.parametrize("name", ["rnn_grad", "lstm_grad_gomez", "rnn_labeling_grad"])
def test_cli_grad_round_rounds_every_backward_number(cli, name):
    """--round N: every number of the backward pass has N decimals (it was rounded before it
    was used further), and stays near the exact gradient."""
    config = str(CONFIGS / f"{name}.yaml")
    exact = json.loads(cli("grad", "-c", config, "-f", "json").stdout)["grad"]
    result = cli("grad", "-c", config, "--round", "4", "-f", "json")
    assert result.exit_code == 0, result.stderr
    rounded = json.loads(result.stdout)["grad"]
    steps = list(_numbers(rounded["steps"])) + list(_numbers(rounded["params"]))
    assert steps and all(abs(v * 1e4 - round(v * 1e4)) < 1e-6 for v in steps)
    assert list(_numbers(exact["params"])) != list(_numbers(rounded["params"]))
    for name_, value in exact["params"].items():
        assert torch.allclose(torch.tensor(rounded["params"][name_], dtype=F64),
                              torch.tensor(value, dtype=F64), atol=2e-3), name_


@pytest.mark.parametrize(("extra", "message"), [
    ({"loss": None}, "needs a loss"),
    ({"loss": {"type": "bce", "target": 1}}, "needs a head with task classification or labeling"),
    ({"loss": {"type": "half_sse", "target": 0.5, "reduction": "mean"}}, "a sum by definition"),
    ({"loss": {"type": "mse", "targets": [0.5]}}, "expected 3 targets"),
    # fewer vectors than steps are the last positions' (issue #14); more is refused
    ({"upstream": [[1, 0]] * 4}, "expected at most 3 vectors"),
])
def test_cli_grad_errors_exit_3_without_traceback(cli, tmp_path, extra, message):
    import yaml

    config = yaml.safe_load((CONFIGS / "rnn_grad.yaml").read_text())
    if "upstream" in extra:
        config.pop("loss")
    for key, value in extra.items():
        if value is None:
            config.pop(key)
        else:
            config[key] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    result = cli("grad", "-c", str(path))
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("old", "new", "where"), [
    ("target: 0.5", "target: .nan", "22: loss.target: expected a finite number, got nan"),
    ("target: 0.5", "target: 1e600", "22: loss.target: expected a finite number, got inf"),
    ("target: 0.5", "targets: [0, 0.5, -.inf]",
     "22: loss.targets[2]: expected a finite number, got -inf"),
    ("loss:\n  type: half_sse\n  target: 0.5\n", "upstream: [[0, 0], [0, .nan], [0, 0]]\n",
     "20: upstream[1][1]: expected a finite number, got nan"),
])
def test_cli_grad_a_target_or_upstream_that_is_not_finite_is_refused_at_its_line(
        cli, tmp_path, old, new, where):
    """As every other number of a config: not a NaN loss, nor an error at no line."""
    text = (CONFIGS / "rnn_grad.yaml").read_text()
    assert text.count(old) == 1
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(old, new))
    for command in ("grad", "validate"):
        result = cli(command, *(("-c",) if command == "grad" else ()), str(path))
        assert result.exit_code == 3, (result.stdout, result.stderr)
        assert result.stderr == f"{path}:{where}\n"


@pytest.mark.parametrize("arrays", ARRAYS)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_long_sequence_through_the_fast_forward_path(cell, arrays):
    """From 16 steps the forward pass takes torch's fused kernels; the recursion reads its trace."""
    spec = {"cell": cell, "input_size": 3, "hidden_size": 4, "num_layers": 2,
            "bidirectional": True, "bias": True, "steps": 24, "nonlinearity": "tanh",
            "initial": True, "loss": "cross_entropy", "per_position": True, "reduction": "mean",
            "outputs": 3, "seed": 3}
    config, module, (x, h0, c0, W, b, target) = build(spec)
    W.requires_grad_(True)
    out, _ = module(x, (h0, c0) if cell == "lstm" else h0)
    reference_loss(spec, out, None, W, b, target).backward()
    grad = backprop_on(arrays, config)
    for name, p in module.named_parameters():
        assert_close(grad.params[name], p.grad, name)
    assert_close(grad.params["head.W"], W.grad, "head.W")


@pytest.mark.parametrize("arrays", ARRAYS)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_rows_of_the_steps_selected_are_those_of_every_step(cell, arrays):
    """The totals are block products over every step; the rows shown work out each step's
    contributions from the vectors the recursion kept: each row equals the row of the same step
    when every step is shown, and every step's contributions, summed, give the totals."""
    spec = {"cell": cell, "input_size": 2, "hidden_size": 3, "num_layers": 2,
            "bidirectional": True, "bias": True, "steps": 30, "nonlinearity": "tanh",
            "initial": True, "loss": "mse", "per_position": True, "reduction": "mean",
            "outputs": 2, "seed": 5}
    config = build(spec)[0]
    every = backprop_on(arrays, config, steps="all")
    default, some = backprop_on(arrays, config, steps=None), backprop_on(arrays, config,
                                                                         steps="3,-2:")
    for dirs_all, dirs_default, dirs_some in zip(every.layers, default.layers, some.layers,
                                                 strict=True):
        for d, g in dirs_all.items():
            assert len(g.positions) == 30
            forward = d == "forward"
            assert dirs_default[d].positions == (tuple(range(29, 24, -1)) + tuple(range(4, -1, -1))
                                                 if forward else (*range(5), *range(25, 30)))
            picked = dirs_some[d]
            assert picked.positions == ((29, 28, 3) if forward else (3, 28, 29))
            assert picked.order == g.order
            at = [g.positions.index(t) for t in picked.positions]
            for name in ("dh_out", "dh_future", "dh", "dx"):
                assert_close(getattr(picked, name), getattr(g, name)[at], name)
            for name, v in picked.contrib.items():
                assert_close(v, g.contrib[name][at], name)
                # the cell's backward step at every row, summed: the block products' total
                total = every.params[name + f"_l{g.layer}" + ("_reverse" if d != "forward" else "")]
                assert_close(g.contrib[name].sum(0), total, name)
    for name, v in every.params.items():
        assert_close(some.params[name], v, name)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "indrnn"])
@pytest.mark.parametrize("truncate", [None, 11])
def test_every_path_gives_the_same_gradients(cell, truncate):
    """numpy, torch, and torch rounding every intermediate to 14 decimals (``--round``'s path:
    the totals are the sums of every step's contributions, not block products): totals, rows,
    dL/dx, dL/dh0 and dL/dc0 alike."""
    spec = {"cell": "rnn" if cell == "indrnn" else cell, "input_size": 2, "hidden_size": 3,
            "num_layers": 2, "bidirectional": True, "bias": True, "steps": 30,
            "nonlinearity": "tanh", "initial": True, "loss": "mse", "per_position": True,
            "reduction": "mean", "outputs": 2, "seed": 7}
    config = build(spec)[0]
    if cell == "indrnn":  # a recurrent weight per unit
        config = {**config, "cell": "indrnn", "weights": {
            k: [row[0] for row in v] if k.startswith("weight_hh") else v
            for k, v in config["weights"].items()}}
    ex = rnncalc.load(config)
    runs = [backprop_on(arrays, ex, truncate=truncate, steps="::3") for arrays in ARRAYS]
    runs.append(backprop(compute(ex, arrays="torch"), truncate, round_to=14, steps="::3"))
    first = runs[0]
    for other in runs[1:]:
        for name, v in first.params.items():
            assert_close(other.params[name], v, name)
        for dirs_first, dirs_other in zip(first.layers, other.layers, strict=True):
            for d, g in dirs_first.items():
                for name in ("dh_future", "dc_future", "dx", "dh0", "dc0", "dc", "dh"):
                    if getattr(g, name) is not None:
                        assert_close(getattr(dirs_other[d], name), getattr(g, name), name)
                for name, v in g.contrib.items():
                    assert_close(dirs_other[d].contrib[name], v, name)


def test_cli_grad_steps_shows_the_steps_selected(cli, tmp_path):
    spec = {"cell": "lstm", "input_size": 2, "hidden_size": 2, "num_layers": 1,
            "bidirectional": False, "bias": True, "steps": 40, "nonlinearity": "tanh",
            "initial": False, "loss": "mse", "per_position": True, "reduction": "mean",
            "outputs": 1, "seed": 1}
    path = tmp_path / "long.yaml"
    path.write_text(json.dumps(build(spec)[0]))
    table = cli("grad", "-c", str(path))
    assert table.exit_code == 0, table.stderr
    assert "30 steps not shown (--steps)" in table.stdout  # the backward rows
    # the forward steps, its head, the loss and the backward rows
    assert table.stdout.count("30 steps not shown") == 4
    result = cli("grad", "-c", str(path), "--steps", "-1:", "-f", "json")
    assert result.exit_code == 0, result.stderr
    g = json.loads(result.stdout)["grad"]
    assert [s["t"] for s in g["steps"][0]["directions"]["forward"]] == [39]
    bad = cli("grad", "-c", str(path), "--steps", "50")
    assert bad.exit_code == 2


# --- the chain rule written out ---------------------------------------------------------------


def _value(e):
    """A numeric expression of the explanation, evaluated (products and sums of numbers)."""
    from rnncalc.explain import Num, Prod, Sum

    if isinstance(e, Num):
        return e.value
    if isinstance(e, Prod):
        out = 1.0
        for f in e.factors:
            out *= _value(f)
        return out
    assert isinstance(e, Sum), e
    return sum(_value(t) for g in e.groups for t in g)


@given(exercises(), st.data())
def test_explained_chain_rule_recomputes_every_value(spec, data):
    """Every line's numbers, multiplied and added, give the value it states: the gate lines'
    factors are derived independently of the backward step (which keeps only their product)."""
    from rnncalc.bptt_explain import explain_element

    config, _, _ = build(spec)
    trace = rnncalc.run(rnncalc.load(config))
    grad = backprop(trace)
    name = data.draw(st.sampled_from(sorted(grad.params)))
    shape = grad.params[name].shape
    index = [data.draw(st.integers(0, n - 1)) for n in shape]
    element = f"{name}[{','.join(map(str, index))}]"
    lines = explain_element(trace, grad, element)
    for line in lines:
        assert abs(_value(line.chain[-2]) - line.chain[-1].value) < 1e-12, (element, line)
    assert lines[-1].chain[-1].value == float(grad.params[name][tuple(index)])
