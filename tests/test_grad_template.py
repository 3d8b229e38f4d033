"""``answers-template --grad`` writes its blank form from the exercise's shape alone
(:func:`rnncalc.gradanswers.shape_of`), without computing and so without torch: the form must be
the one the computed gradients give (``backprop(...).to_dict()``, the path it replaced), for the
example configs, every cell with a head's loss or upstream gradients, and drawn exercises."""

from __future__ import annotations

import shutil

import pytest
import yaml
from hypothesis import assume, given

import rnncalc
from rnncalc.answers import template
from rnncalc.bptt import backprop
from rnncalc.errors import RnncalcError
from rnncalc.gradanswers import shape_of
from tests.conftest import CONFIGS
from tests.test_bptt import build, exercises, formulated, lstm_options


def _form(ex):
    return template({"grad": shape_of(ex)}, ex.title, grad=True)


def _computed(ex):
    return template({"grad": backprop(rnncalc.run(ex)).to_dict()}, ex.title, grad=True)


def _with_loss(path):
    """An example config, given a loss where it has none: on its head (mse or cross-entropy,
    at the final state or at every step), else upstream gradients at every position."""
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    if "loss" in config or "upstream" in config:
        return config
    ex = rnncalc.load(str(path))
    head = config.get("head")
    if head is None:
        config["upstream"] = [[0.5] * ex.output_size] * ex.steps
    elif head["task"] == "labeling":
        config["loss"] = {"type": "cross_entropy", "targets": [0] * ex.steps}
    elif head["task"] == "classification":
        config["loss"] = {"type": "cross_entropy", "target": 1}
    else:
        config["loss"] = {"type": "mse", "target": [0.5] * len(ex.head.W)}
    return config


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_the_gradient_form_is_the_computed_gradients_shape(path, tmp_path):
    config = tmp_path / path.name
    config.write_text(yaml.safe_dump(_with_loss(path)), encoding="utf-8")
    for data in CONFIGS.glob(f"{path.stem}.np[yz]"):  # the numpy files it names, beside it
        shutil.copy(data, tmp_path)
    ex = rnncalc.load(str(config))
    assert _form(ex) == _computed(ex)


def test_the_examples_cover_every_cell():
    cells = {rnncalc.load(str(p)).cell for p in CONFIGS.glob("*.yaml")}
    assert cells >= {"rnn", "lstm", "gru", "indrnn"}


@given(exercises())
def test_drawn_exercises(spec):
    """Layers, directions, no bias, every loss (at the final state or at every step), upstream."""
    ex = rnncalc.load(build(spec)[0])
    assert _form(ex) == _computed(ex)


@given(formulated())
def test_drawn_formulations(drawn):
    """A reversed net (the forward names), merge modes, the GRU's and the LSTM's options."""
    spec, options = drawn
    config = build(spec)[0]
    config.pop("nonlinearity", None)
    config.update(options, merge_mode=spec["merge_mode"])
    if spec["reverse"]:
        config["direction"] = "reverse"
    if spec["merge_mode"] != "concat":  # the head reads H, not 2H
        config["head"]["W"] = [row[:spec["hidden_size"]] for row in config["head"]["W"]]
    ex = rnncalc.load(config)
    try:
        computed = _computed(ex)
    except RnncalcError as error:  # identity activations can overflow the forward pass itself
        assume("out of the range" not in str(error))
        raise
    assert _form(ex) == computed


@given(lstm_options())
def test_drawn_lstm_options(config):
    """Peepholes (p_i, p_f, p_o, peephole_l0) and a projection (W_hr, weight_hr_l0, h of P)."""
    ex = rnncalc.load(config)
    assert _form(ex) == _computed(ex)


def test_no_loss_is_refused_as_before(cli):
    result = cli("answers-template", str(CONFIGS / "rnn_hidden.yaml"), "--grad")
    assert result.exit_code == 3 and "needs a loss" in result.stderr
    assert "rnn_hidden.yaml" in result.stderr
