"""The fast path (rnncalc.fused) gives the step-by-step loop's trace, to 1e-12 in float64.

Relative, and absolute to the block's largest value: a relu net can grow its states to 1e4 and
beyond in a few steps, and a pre-activation that is a small difference of such terms carries
their rounding (1e-16 of 1e4), whichever order the sums are taken in. In float32, every step
is checked against the cells' equations on the fast path's own states instead (see there).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, reject
from hypothesis import strategies as st

import rnncalc
from rnncalc import engine, fused
from rnncalc.cells import CELLS
from rnncalc.cells._blocks import linear_scan
from rnncalc.engine import params as _params
from rnncalc.errors import RnncalcError
from rnncalc.trace import Trace

GATE_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}


@st.composite
def configs(draw: st.DrawFn) -> dict:
    """A random exercise in PyTorch's formulation, as a config dict (state_dict names)."""
    cell = draw(st.sampled_from(["rnn", "lstm", "gru"]))
    steps, n_in, hidden = draw(st.integers(1, 40)), draw(st.integers(1, 5)), draw(st.integers(1, 6))
    layers, bidir = draw(st.integers(1, 2)), draw(st.booleans())
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.5, 1.0, 3.0]))  # 3.0 drives gates into saturation

    def rand(*shape: int) -> list:
        return (scale * torch.randn(*shape, generator=g, dtype=torch.float64)).tolist()

    weights = {}
    dirs = ["", "_reverse"] if bidir else [""]
    for k in range(layers):
        width = n_in if k == 0 else hidden * len(dirs)
        for suffix in dirs:
            rows = GATE_BLOCKS[cell] * hidden
            weights[f"weight_ih_l{k}{suffix}"] = rand(rows, width)
            weights[f"weight_hh_l{k}{suffix}"] = rand(rows, hidden)
            weights[f"bias_ih_l{k}{suffix}"] = rand(rows)
            weights[f"bias_hh_l{k}{suffix}"] = rand(rows)
    config: dict = {"cell": cell, "inputs": rand(steps, n_in), "num_layers": layers,
                    "bidirectional": bidir, "weights": weights}
    states = layers * len(dirs)
    if draw(st.booleans()):
        config["initial"] = {"h": rand(states, hidden)}
        if cell == "lstm":
            config["initial"]["c"] = rand(states, hidden)
    if cell == "rnn":
        config["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    return config


def _both(ex: rnncalc.Exercise, monkeypatch: pytest.MonkeyPatch) -> tuple[Trace, Trace]:
    with monkeypatch.context() as m:
        m.setattr(fused, "MIN_STEPS", 0)
        quick = engine.run(ex)
    with monkeypatch.context() as m:
        m.setattr(fused, "MIN_STEPS", 10**9)
        slow = engine.run(ex)
    return quick, slow


def _close(a: torch.Tensor | None, b: torch.Tensor | None, what: str, tol: float = 1e-12) -> None:
    assert (a is None) == (b is None), what
    if a is not None and b is not None:
        assert a.shape == b.shape, what
        scale = max(1.0, b.abs().max().item()) if b.numel() else 1.0
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * scale, msg=lambda m: f"{what}: {m}")


def _amplification(config: dict, slow: Trace, nudge: float = 1e-15) -> float:
    """How much this exercise's own dynamics amplify a change of its initial states: the step
    loop from states nudged by ``nudge`` moves some recorded value by this many ``nudge``s (of
    its block's scale). Rounding enters at every step, and is amplified alike."""
    ex = slow.exercise
    g = torch.Generator().manual_seed(0)

    def nudged(values: object) -> list:
        v = torch.tensor(values, dtype=torch.float64)
        return (v + nudge * torch.randn(v.shape, generator=g, dtype=torch.float64)).tolist()

    initial = {"h": nudged(ex.h0)} | ({} if ex.c0 is None else {"c": nudged(ex.c0)})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fused, "MIN_STEPS", 10**9)
        other = engine.run(rnncalc.load({**config, "initial": initial}))
    worst = 0.0
    for la, lb in zip(slow.layers, other.layers, strict=True):
        for d, ta in la.directions.items():
            tb = lb.directions[d]
            for a, b in [(ta.h, tb.h), *((ta.pre[k], tb.pre[k]) for k in ta.pre),
                         *((ta.act[k], tb.act[k]) for k in ta.act)]:
                worst = max(worst, (a - b).abs().max().item() / max(1.0, a.abs().max().item()))
    return worst / nudge


@given(configs())
def test_fast_path_equals_step_loop(config: dict) -> None:
    """Over the whole trajectory, to 1e-12. Not where the net's own dynamics amplify a change of
    its states a thousandfold or more (about one random config in several thousand, a chaotic
    one): there float64's rounding alone, in whichever order the sums are taken, moves the
    answer past 1e-12, and each step is still checked exactly by the test below."""
    ex = rnncalc.load(config)
    tol = 1e-12
    assert fused.applies(ex)
    with pytest.MonkeyPatch.context() as mp:
        try:
            quick, slow = _both(ex, mp)
        except RnncalcError:  # a relu net grown past float32's range: refused (out of range)
            reject()
    if _amplification(config, slow) > 1000:
        reject()
    for lq, ls in zip(quick.layers, slow.layers, strict=True):
        for d, tq in lq.directions.items():
            ts = ls.directions[d]
            assert tq.positions == ts.positions
            for name in ("x", "h", "c", "h_prev", "c_prev"):
                _close(getattr(tq, name), getattr(ts, name), f"layer {lq.layer} {d} {name}", tol)
            assert tq.pre.keys() == ts.pre.keys() and tq.act.keys() == ts.act.keys()
            for g in tq.pre:
                _close(tq.pre[g], ts.pre[g], f"layer {lq.layer} {d} pre {g}", tol)
                _close(tq.act[g], ts.act[g], f"layer {lq.layer} {d} act {g}", tol)
    for name in ("output", "h_n", "c_n"):
        _close(getattr(quick, name), getattr(slow, name), name, tol)


@given(configs(), st.sampled_from(["float64", "float32"]))
def test_every_fast_step_follows_the_cells(config: dict, dtype: str) -> None:
    """Each step of the fast path is the cell's equations (rnncalc.cells) applied to the fast
    path's own states before it: to 1e-12 in float64, 1e-5 in float32 (of the block's scale).

    Step by step, the test holds on any net. In float32 the whole trajectory is not compared
    with the step loop's: over 40 steps of a saturated net, float32's rounding (the fused LSTM
    kernel is oneDNN's, which rounds differently) grows past any fixed tolerance, in either path
    alike."""
    ex = rnncalc.load({**config, "dtype": dtype})
    tol = 1e-12 if dtype == "float64" else 1e-5
    dt = torch.float64 if dtype == "float64" else torch.float32
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fused, "MIN_STEPS", 0)
        try:
            trace = engine.run(ex)
        except RnncalcError:  # a relu net grown past float32's range: refused (out of range)
            reject()
    cell = CELLS[ex.cell]
    for lt, row in zip(trace.layers, ex.weights, strict=True):
        for (d, tr), w in zip(lt.directions.items(), row, strict=True):
            step = cell.step(_params(w, dt), tr.x, tr.h_prev, tr.c_prev, ex.formulation)
            what = f"layer {lt.layer} {d}"
            _close(tr.h, step.h, what + " h", tol)
            _close(tr.c, step.c, what + " c", tol)
            for g in cell.gates:
                _close(tr.pre[g], step.pre[g], f"{what} pre {g}", tol)
                _close(tr.act[g], step.act[g], f"{what} act {g}", tol)


def test_long_lstm_against_torch_module() -> None:
    """An independent check: the fast path's states are torch.nn.LSTM's on a long sequence."""
    torch.manual_seed(1)
    module = torch.nn.LSTM(3, 4, dtype=torch.float64)
    sd = {k: v.tolist() for k, v in module.state_dict().items()}
    x = torch.randn(300, 3, dtype=torch.float64)
    ex = rnncalc.load({"cell": "lstm", "inputs": x.tolist(), "weights": sd})
    trace = rnncalc.run(ex)
    out, (_, c_n) = module(x)
    _close(trace.output, out.detach(), "output")
    _close(trace.c_n, c_n.detach(), "c_n")
    direction = trace.layers[0].directions["forward"]
    # c_t at every step: h_t = o_t tanh(c_t) holds, with c_t from the scan
    _close(direction.act["o"] * torch.tanh(direction.c), direction.h, "h = o tanh(c)")  # type: ignore[arg-type]


@pytest.mark.parametrize(("cell", "extra"), [
    ("rnn", {"clip": 5.0}),
    ("gru", {"convention": "onnx"}),  # reset gate before W_hn h
    ("lstm", {"activations": {"gate": "hard_sigmoid"}}),
    ("lstm", {"forget_bias": 1.0}),
])
def test_other_formulations_take_the_step_loop(cell: str, extra: dict) -> None:
    rows = GATE_BLOCKS[cell] * 2
    config = {"cell": cell, "inputs": [[0.5]] * 20, "weights": {
        "weight_ih_l0": [[0.1]] * rows, "weight_hh_l0": [[0.2, -0.1]] * rows}, **extra}
    assert not fused.applies(rnncalc.load(config))


def test_linear_scan_against_a_loop() -> None:
    g = torch.Generator().manual_seed(0)
    for steps in (1, 2, 3, 7, 64, 100):
        a = torch.rand(steps, 5, generator=g, dtype=torch.float64) * 2
        b = torch.randn(steps, 5, generator=g, dtype=torch.float64)
        c0 = torch.randn(5, generator=g, dtype=torch.float64)
        c, expected = c0, []
        for t in range(steps):
            c = a[t] * c + b[t]
            expected.append(c)
        _close(linear_scan(a, b, c0), torch.stack(expected), f"{steps} steps")


def test_threads_one_for_a_small_exercise_torch_default_for_a_long_sequence() -> None:
    """A seed-size exercise runs on one thread (a tiny call with two took 8 ms on a busy machine);
    a long one on the fast path takes torch's default, which its block products share."""
    from rnncalc import engine

    start = torch.get_num_threads()
    try:
        engine.run(rnncalc.load(None, cell="lstm"))  # the seed's LSTM, 3 steps
        assert torch.get_num_threads() == 1
        default = engine._default_threads
        g = torch.Generator().manual_seed(0)
        long = {"cell": "lstm", "inputs": torch.randn(300, 64, generator=g).tolist(),
                "weights": {"weight_ih_l0": torch.randn(256, 64, generator=g).tolist(),
                            "weight_hh_l0": torch.randn(256, 64, generator=g).tolist()}}
        engine.run(rnncalc.load(long))  # 300 steps x 4 x 64 x 128: 9.8 million
        assert torch.get_num_threads() == 1
        engine.run(rnncalc.load({**long, "inputs": long["inputs"] * 2}))  # 19.7 million
        assert torch.get_num_threads() == default
        rounded = rnncalc.load({**long, "inputs": long["inputs"] * 2})
        engine.run(rounded, round_to=4)  # the step loop: one small call per step
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(start)
