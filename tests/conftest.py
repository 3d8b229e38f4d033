"""Shared test helpers: one CliRunner, the repo's paths, float64 torch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

from rnncalc.cli import app

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def cli():
    """``cli("rnn", "--format", "json")`` -> click Result (stdout and stderr kept apart)."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, list(args), input=input, env={"NO_COLOR": "1"})

    return invoke


def layer_cell(module, layer: int, direction: str, cell_class, **kwargs):
    """A ``torch.nn.*Cell`` holding one layer and direction of ``module``'s parameters, and those
    parameters (``w_ih, w_hh, b_ih, b_hh``; biases ``None`` without bias)."""
    import torch

    suffix = f"_l{layer}" + ("_reverse" if direction == "backward" else "")
    params = dict(module.named_parameters())
    w_ih, w_hh = params["weight_ih" + suffix], params["weight_hh" + suffix]
    b_ih, b_hh = params.get("bias_ih" + suffix), params.get("bias_hh" + suffix)
    cell = cell_class(w_ih.shape[1], w_hh.shape[1], bias=b_ih is not None,
                      dtype=torch.float64, **kwargs)
    cell.load_state_dict({"weight_ih": w_ih, "weight_hh": w_hh}
                         | ({"bias_ih": b_ih, "bias_hh": b_hh} if b_ih is not None else {}))
    return cell, (w_ih, w_hh, b_ih, b_hh)


@pytest.fixture(autouse=True)
def _no_outside_paths(monkeypatch):
    """``--allow-outside-paths`` sets RNNCALC_ALLOW_OUTSIDE_PATHS in the process (for run's
    workers): in-process CLI tests must not pass it on to the next test."""
    monkeypatch.delenv("RNNCALC_ALLOW_OUTSIDE_PATHS", raising=False)


#: The arrays an exercise computes on (rnncalc.engine.compute): numpy for a small one by default,
#: torch otherwise; the parity tests run both on every drawn net.
ARRAYS = ("numpy", "torch")


def run_on(arrays: str | None, config, **load):
    """``rnncalc.run(rnncalc.load(config, **load))`` computed on ``arrays`` (None: as
    ``rnncalc.run`` chooses), as torch tensors."""
    import rnncalc
    from rnncalc.engine import as_torch, compute

    return as_torch(compute(rnncalc.load(config, **load), arrays=arrays))


def backprop_on(arrays: str, config, **options):
    """``rnncalc.bptt.backprop`` of ``config`` (or an Exercise) computed on ``arrays``, kept as
    such: the backward pass runs on numpy arrays, or on torch tensors (as ``rnncalc.run``'s
    trace), and its totals are of the same kind."""
    import numpy as np
    import torch

    import rnncalc
    from rnncalc.bptt import backprop
    from rnncalc.engine import compute

    ex = config if isinstance(config, rnncalc.Exercise) else rnncalc.load(config)
    grad = backprop(compute(ex, arrays=arrays), **options)
    kind = np.ndarray if arrays == "numpy" else torch.Tensor
    assert all(isinstance(v, kind) for v in grad.params.values()), arrays
    return grad
