"""``rnncalc init`` and ``rnncalc schema``: templates that run, every key explained, no torch."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import fastjsonschema
import pytest
import yaml

import rnncalc
from rnncalc.config.schema import SCHEMA
from rnncalc.model import GATES

TASKS = ("hidden", "regression", "classification", "labeling")
SEED_H = [[0.9866, 0.9051], [0.0946, 0.9702], [-0.8996, 0.9983]]


def run_ok(cli, *args):
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_template_says_which_cell_sets_activations(cli, cell):
    text = run_ok(cli, "init", cell)
    assert f"# rnn/indrnn only; the {cell} cell sets activations by role" in text


@pytest.mark.parametrize("cell", sorted(GATES))
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_template_is_a_valid_config(cli, tmp_path, cell, task, bidirectional):
    text = run_ok(cli, "init", cell, "--task", task, *(["--bidirectional"] * bidirectional))
    path = tmp_path / "my.yaml"
    path.write_text(text)
    ex = rnncalc.load(str(path), cell=cell)
    assert ex.bidirectional == bidirectional
    assert (ex.head.task if ex.head else "hidden") == task
    result = cli(cell, "--config", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    fastjsonschema.compile(json.loads(run_ok(cli, "schema")))(yaml.safe_load(text))


def test_template_gives_the_seed_figures(cli, tmp_path):
    path = tmp_path / "rnn.yaml"
    path.write_text(run_ok(cli, "init", "rnn", "--task", "regression"))
    d = json.loads(run_ok(cli, "rnn", "-c", str(path), "-f", "json"))
    assert [[round(v, 4) for v in s["h"]] for s in d["layers"][0]["directions"]["forward"]] \
        == SEED_H
    assert round(d["head"]["y"][0], 4) == 0.9983


@pytest.mark.parametrize("cell", sorted(GATES))
def test_every_key_is_explained(cli, cell):
    text = run_ok(cli, "init", cell, "--task", "labeling")
    lines = text.splitlines()
    assert lines[0] == "# yaml-language-server: $schema=rnncalc.schema.json"
    for line in lines:
        m = re.match(r"^(?:# )?(\w+):", line)
        if m and m[1] in SCHEMA["properties"]:
            assert " # " in line or (line.endswith(":") and "#" in line), line
    others = {k for k, rule in SCHEMA["properties"].items()  # "lstm: ...": another cell's key
              if {"rnn", "lstm", "gru"} & set(rule.get("description", "").partition(":")[0].split())
              and cell not in rule.get("description", "").partition(":")[0].split()}
    mentioned = set(re.findall(r"\w+", text))  # a key line, or named where it needs more
    assert set(SCHEMA["properties"]) - others <= mentioned, set(SCHEMA["properties"]) - mentioned
    for line in lines:  # every key in use at the top or one level down says what it is
        if re.match(r"^ {0,2}\w+:", line) and not line.lstrip().startswith(("b_", "W_h")):
            assert "#" in line, line


def test_init_options(cli, tmp_path):
    target = tmp_path / "t.yaml"
    assert run_ok(cli, "init", "lstm", "--schema", "https://example.org/s.json", "-o",
                  str(target)) == ""
    assert target.read_text().startswith("# yaml-language-server: $schema=https://example.org/")
    assert cli("init", "transformer").exit_code == 2


def test_schema_is_the_one_used_for_checking(cli, tmp_path):
    assert json.loads(run_ok(cli, "schema")) == SCHEMA
    target = tmp_path / "rnncalc.schema.json"
    run_ok(cli, "schema", "--output", str(target))
    assert json.loads(target.read_text()) == SCHEMA


@pytest.mark.parametrize("args", [["init", "lstm", "--task", "labeling"], ["schema"]])
def test_no_torch(args):
    code = ("import sys\nfrom rnncalc.cli import app\ntry:\n    app(sys.argv[1:])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
