"""Fuzz: hypothesis breaks the shipped configs and runs the CLI; success, or exit 3 and a line a
problem.

Each example takes a file from ``configs/``, changes its data (deletes, renames, retypes and
reshapes values, adds keys) and then its text (duplicates and deletes lines, inserts tags, anchors
and aliases, stray bytes, truncates), and runs the real Typer app in-process: the cell commands
with their options, and grad, convert, formulas, validate, run, answers-template. The only outcomes
allowed are exit 0 with output, or exit 3 with one line on stderr for each problem (at most
``MAX_PROBLEMS`` and a count of the rest, each line short, none twice): no traceback, no exit 4, no
other exception, and no tag ever runs code. A few hundred examples in the default run; the opt-in
``HYPOTHESIS_PROFILE=thorough`` runs 3000 (see docs/errors.md).
"""

from __future__ import annotations

import copy
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import typer
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from rnncalc.cli import app
from rnncalc.config.schema import SCHEMA
from rnncalc.errors import MAX_MESSAGE, MAX_PROBLEMS
from tests.conftest import CONFIGS

TEXTS = {p.name: p.read_text() for p in sorted(CONFIGS.glob("*.yaml"))}
DATA = {name: yaml.load(text, Loader=yaml.CSafeLoader) for name, text in TEXTS.items()}
MARKER = Path(tempfile.gettempdir()) / f"rnncalc-fuzz-marker-{os.getpid()}"
# typer builds the click command on every invoke, 3/4 of an example's time: build it once
COMMAND = typer.main.get_command(app)
EXAMPLES = max(300, settings.default.max_examples)  # default profile: 300; thorough: 3000

ODD = ["abc", "", True, False, None, math.nan, math.inf, -math.inf, 1e308, 0, -1, 1, 2, 2.5,
       10**9, 10**6, [], {}, [[]], [[1, 2], [3]], [1, [2]], {"x": 1}, "rnn", "lstm", "gru",
       "regression", "classification", "labeling", "tanh", "relu", "float32", "W_hf", [0.5, -1],
       [[1, 0], [0, 1]]]
KEYS = [*sorted(SCHEMA["properties"]), "h", "c", "W", "b", "labels", "task", "l0", "l1_reverse"]
TAGS = ["!!python/object/apply:os.system ['touch " + str(MARKER) + "']",
        "!!python/object/apply:builtins.open ['" + str(MARKER) + "', 'w']",
        "!!python/name:os.system", "!!binary aGk=", "!!set {a}", "!!timestamp 2001-01-01",
        "!!omap [a: 1]", "!local", "!!str", "!!float", "!!int", "!!map", "!!seq", "!!null"]


#: Scalars written raw into a config or an answers file (issue 12): YAML 1.1's surprises, numbers
#: past any float, long words, and lists of them.
HOSTILE = ["010", "1:30", "1:30.5", "on", "yes", "1_000", "0x" + "f" * 300, "9" * 400,
           "-" + "9" * 400, "1" + "0" * 5000, "k" * 5000, ".inf", ".nan", "-.inf", "1e999",
           "[" + "9" * 400 + ", 1]", "[1:30, on]", "!!float 1:30", "!!int 010", "[[010, 1e-3]]"]


def _odd_copy(value: Any) -> Any:
    return copy.deepcopy(value)  # a list put in a config must not be the one in ODD, mutated later


def _odd(draw: Any) -> Any:
    return _odd_copy(draw(st.sampled_from(ODD)))


def _paths(data: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _paths(value, (*path, i))
    return out


def _at(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def _renamed(draw: Any, key: str) -> str:
    swapped = key[1::-1] + key[2:] if len(key) > 1 else key
    return draw(st.sampled_from([key + " ", key.upper(), key[::-1], key[:-1], key + "s", swapped,
                                 draw(st.text(max_size=6))]))


def _mutate_data(draw: Any, data: Any) -> Any:
    kind = draw(st.sampled_from(["delete", "rename", "retype", "reshape", "add"]))
    paths = _paths(data)[1:] or [()]
    path = draw(st.sampled_from(paths))
    if path == ():
        return _odd(draw)
    parent, last = _at(data, path[:-1]), path[-1]
    value = parent[last]
    if kind == "delete":
        del parent[last]
    elif kind == "rename" and isinstance(parent, dict):
        parent[_renamed(draw, str(last))] = parent.pop(last)
    elif kind == "reshape" and isinstance(value, list):
        op = draw(st.sampled_from(["drop", "duplicate", "append", "wrap", "unwrap", "clear"]))
        if op == "drop" and value:
            value.pop(draw(st.integers(0, len(value) - 1)))
        elif op == "duplicate" and value:
            value.append(value[draw(st.integers(0, len(value) - 1))])
        elif op == "append":
            value.append(draw(st.one_of(st.floats(), st.integers(-3, 3))))
        elif op == "wrap":
            parent[last] = [value]
        elif op == "unwrap" and value:
            parent[last] = value[0]
        else:
            value.clear()
    elif kind == "add":
        target = draw(st.sampled_from([p for p in [(), *paths] if isinstance(_at(data, p), dict)]))
        key = draw(st.sampled_from(KEYS))
        _at(data, target)[key] = _odd(draw)
    else:
        parent[last] = draw(st.one_of(st.builds(_odd_copy, st.sampled_from(ODD)), st.floats(),
                                      st.integers()))
    return data


def _mutate_text(draw: Any, text: str) -> str | bytes:
    kind = draw(st.sampled_from(["truncate", "duplicate", "delete", "tag", "anchor", "alias",
                                 "bomb", "bytes", "indent", "hostile"]))
    lines = text.splitlines(keepends=True) or ["\n"]
    i = draw(st.integers(0, len(lines) - 1))
    line = lines[i]
    if kind == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if kind == "duplicate":
        lines.insert(i, line)
    elif kind == "delete":
        del lines[i]
    elif kind in ("tag", "anchor", "alias") and ": " in line:
        head, _, rest = line.partition(": ")
        insert = {"tag": draw(st.sampled_from(TAGS)), "anchor": "&a", "alias": "*a"}[kind]
        lines[i] = f"{head}: {insert} {rest}" if kind != "alias" else f"{head}: *a\n"
    elif kind == "bomb":
        lines.append("bomb0: &b0 [1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
            f"bomb{k}: &b{k} [{', '.join([f'*b{k - 1}'] * 8)}]\n" for k in range(1, 9)))
    elif kind == "bytes":
        cut = draw(st.integers(0, len(text)))
        return text.encode()[:cut] + draw(st.binary(min_size=1, max_size=4)) + text.encode()[cut:]
    elif kind == "hostile" and ": " in line:  # issue 12: what YAML 1.1 misreads, what is huge
        head, _, _ = line.partition(": ")
        lines[i] = f"{head}: {draw(st.sampled_from(HOSTILE))}\n"
    elif kind == "hostile":
        lines.insert(i, f"{draw(st.sampled_from(HOSTILE))}: 1\n")
    elif kind == "indent":
        lines[i] = draw(st.sampled_from(["\t", " ", "   "])) + line
    return "".join(lines)


@st.composite
def broken_configs(draw: Any) -> tuple[str | bytes, list[str]]:
    name = draw(st.sampled_from(sorted(TEXTS)))
    text: str | bytes = TEXTS[name]
    original = copy.deepcopy(DATA[name])
    cell = original.get("cell", "rnn")
    data_changes, text_changes = draw(st.integers(0, 3)), draw(st.integers(0, 2))
    if data_changes + text_changes == 0:
        data_changes = 1
    if data_changes:
        data = original
        for _ in range(data_changes):
            data = _mutate_data(draw, data)
        text = yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True)
    for _ in range(text_changes):
        text = _mutate_text(draw, text if isinstance(text, str) else text.decode("latin-1"))
    args = draw(st.sampled_from([
        [cell, "-c", "-", "-f", "json"], [cell, "-c", "-", "-f", "json"], [cell, "-c", "-", "-s"],
        [cell, "-c", "-", "-f", "json", "--bidirectional"], [cell, "-c", "-", "--task", "labeling"],
        [cell, "-c", "-", "-f", "json", "--task", "hidden"],
        [cell, "-c", "-", "--dtype", "float32"],
        [cell, "-c", "-", "-f", "markdown", "--explain"], [cell, "-c", "-", "--round", "2"],
        ["grad", "-c", "-", "-f", "json"], ["convert", "-", "--to", "onnx"],
        ["convert", "-", "--to", "keras"], ["formulas", cell, "-c", "-"], ["validate", "-"],
        ["run", "-", "-f", "jsonl"], ["answers-template", "-"],
    ]))
    return text, args


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(broken_configs())
def test_broken_configs_succeed_or_fail_a_line_a_problem(case):
    text, args = case
    with mock.patch("typer.testing._get_command", return_value=COMMAND):
        result = CliRunner().invoke(app, args, input=text, env={"NO_COLOR": "1"})
    assert not MARKER.exists(), "a YAML tag ran code"
    assert result.exit_code in (0, 3), (result.exit_code, result.stderr, result.exception)
    assert "Traceback" not in result.stderr
    if result.exit_code == 3 and args[0] == "run":  # its error record is the jsonl line
        assert result.stderr == "" and json.loads(result.stdout)["error"], result.stdout
    elif result.exit_code == 3:
        lines = result.stderr.splitlines()
        assert result.stderr.endswith("\n") and 1 <= len(lines) <= MAX_PROBLEMS + 1, lines
        assert all(0 < len(line) <= MAX_MESSAGE for line in lines), lines
        assert len(set(lines)) == len(lines), lines  # no problem said twice
        assert result.stdout == ""
    else:
        assert result.stdout or args[0] == "validate"
        if "json" in args:
            json.loads(result.stdout)
        for line in result.stdout.splitlines() if "jsonl" in args else []:
            json.loads(line)


# ----------------------------------------------------------------------------- answers (issue 12)

ANSWERS_CONFIG = str(CONFIGS / "rnn_labeling.yaml")
#: every h of the labeling seed given 0.5 away from its value: wrong at any precision
_TRUE = json.loads(CliRunner().invoke(app, ["rnn", "-c", ANSWERS_CONFIG, "-f", "json"]).stdout)
_WRONG_H = [[round(v + 0.5, 4) for v in step["h"]]
            for step in _TRUE["layers"][0]["directions"]["forward"]]


@st.composite
def hostile_answers(draw: Any) -> tuple[str | bytes, bool]:
    """An answers file whose h answers are all wrong, with a tolerance of any text and hostile
    values in its other places; and whether it still holds a wrong answer."""
    steps = [f"{{t: {t}, h: [{', '.join(map(str, h))}]}}" for t, h in enumerate(_WRONG_H)]
    tolerance = draw(st.sampled_from(["1e300", "10", ".inf", ".nan", "-1", "1e999", "0",
                                      "on", "'1'", "~", *HOSTILE]))
    label = draw(st.sampled_from(["0", "1", "1.5", "0.0", *HOSTILE]))
    lines = [f"tolerance: {tolerance}",
             f"layers: [{{layer: 0, directions: {{forward: [{', '.join(steps)}]}}}}]",
             f"head: {{steps: [{{t: 0, label: {label}}}]}}"]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, 3)), f"{draw(st.sampled_from(HOSTILE))}: 1")
    text: str | bytes = "\n".join(lines) + "\n"
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "utf-16-le", "latin-1"]))
    if encoding != "utf-8":
        text = text.encode(encoding)  # type: ignore[union-attr]
    return text, True


@settings(max_examples=max(60, settings.default.max_examples // 5), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(hostile_answers())
def test_hostile_answers_never_mark_wrong_answers_right(case):
    """A fixed budget (60 examples; thorough: 600): exit 1 (wrong, the file's tolerance not used)
    or 3 (one short line); never 0, never a traceback or exit 4."""
    text, _ = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "answers.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        with mock.patch("typer.testing._get_command", return_value=COMMAND):
            result = CliRunner().invoke(app, ["check", ANSWERS_CONFIG, str(path)],
                                        env={"NO_COLOR": "1"})
    assert result.exit_code in (1, 3), (result.exit_code, result.stderr, result.exception)
    assert "Traceback" not in result.stderr
    if result.exit_code == 3:
        assert result.stderr.count("\n") == 1 and len(result.stderr) <= MAX_MESSAGE + 1
