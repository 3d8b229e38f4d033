"""``rnncalc init``'s templates run as they are, and every key they offer commented out is valid
once uncommented (issue 17: ``# clip: 0`` and ``# loss: {}`` were errors, the GRU's offered
``proj_size``)."""

from __future__ import annotations

import itertools
import json

import pytest
import yaml

import rnncalc
from rnncalc.cells import CELLS
from rnncalc.scaffold import schema_json, template

KEYS = set(json.loads(schema_json())["properties"])
CASES = list(itertools.product(CELLS, ("hidden", "regression", "classification", "labeling"),
                               (False, True)))


def _offered(text: str) -> list[tuple[int, str]]:
    """The commented lines ``# KEY: value`` whose KEY is a config key: (index, line)."""
    out = []
    for i, line in enumerate(text.split("\n")):
        body = line[1:].strip()
        if line.startswith("#") and body.partition(":")[0] in KEYS:
            out.append((i, body))
    return out


@pytest.mark.parametrize(("cell", "task", "bidirectional"), CASES)
def test_every_commented_key_is_valid_uncommented(cell, task, bidirectional):
    text = template(cell, task, bidirectional=bidirectional)
    rnncalc.load(yaml.safe_load(text), cell=cell)
    lines = text.split("\n")
    offered = _offered(text)
    assert len(offered) >= 8
    for i, body in offered:
        config = yaml.safe_load("\n".join([*lines[:i], body, *lines[i + 1:]]))
        rnncalc.load(config, cell=cell)  # raises, naming the key, if it is not valid


def test_templates_offer_only_their_cells_options():
    keys = {cell: {b.partition(":")[0] for _, b in _offered(template(cell))} for cell in CELLS}
    assert "proj_size" in keys["lstm"] and "proj_size" not in keys["gru"]
    assert "reset_after" in keys["gru"] and "reset_after" not in keys["lstm"]


@pytest.mark.parametrize("task", ["regression", "classification", "labeling"])
def test_the_loss_stub_runs_grad(cli, tmp_path, task):
    text = template("rnn", task).replace("# loss:", "loss:")
    path = tmp_path / "ex.yaml"
    path.write_text(text, encoding="utf-8")
    result = cli("grad", "-c", str(path), "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["grad"]["loss"] > 0


def test_exercise_out_dir_writes_the_blank_answers_file(cli, tmp_path):
    out = tmp_path / "ex"
    assert cli("exercise", "rnn", "--seed", "3", "-d", str(out)).exit_code == 0
    answers = yaml.safe_load((out / "answers.yaml").read_text(encoding="utf-8"))
    first = answers["layers"][0]["directions"]["forward"][0]
    assert first["t"] == 0 and first["h"] == [None, None]  # a blank to fill in, 2 units
    marked = cli("check", str(out / "exercise.yaml"), str(out / "answers.yaml"))
    assert marked.exit_code == 0, marked.stderr  # nothing filled in: nothing wrong
