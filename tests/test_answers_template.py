"""``answers-template`` writes its blank form from the exercise alone, without computing (and so
without torch): the form must be the one the computed trace's shape gives, for every example."""

from __future__ import annotations

import pytest

import rnncalc
from rnncalc.answers import blank, shape_of
from tests.conftest import CONFIGS


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_the_blank_form_is_the_computed_traces_shape(path):
    exercise = rnncalc.load(str(path))
    assert blank(shape_of(exercise)) == blank(rnncalc.run(exercise).to_dict())


def test_named_labels_and_a_projection(tmp_path):
    config = tmp_path / "named.yaml"
    config.write_text(
        "cell: lstm\ninputs: [[1, 2], [0, 1]]\nbias: false\nproj_size: 1\nweights:\n"
        f"  weight_ih_l0: {[[0.1, -0.2]] * 8}\n  weight_hh_l0: {[[0.3]] * 8}\n"
        "  weight_hr_l0: [[0.5, -1]]\n"
        "head: {task: labeling, W: [[1], [-1]], b: 0, labels: [cat, dog]}\n")
    exercise = rnncalc.load(str(config))
    assert blank(shape_of(exercise)) == blank(rnncalc.run(exercise).to_dict())
