"""One indexing convention (docs/notation.md): every index any output writes counts from 0.

A net with 2 units, 2 inputs and 2 classes, for every cell: a component is named ``[0]`` or
``[1]`` everywhere (``f_0[1]``, ``weight_hh_l0[7,1]``, ``h[0]``, a tooltip's ``unit 1``), never
``[2]``; a renderer numbering from 1 would write ``[2]`` for the second unit (or ``[8,2]`` for the
last element of an LSTM's ``weight_hh``), and no ``[0]`` at all.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from rnncalc.cells import CELLS

H = 2  # units, inputs and classes alike: every component index is 0 or 1

#: An index written straight after a name: ``h_0[1]``, ``f_{0}[1]``, ``weight_hh_l0[7,1]``,
#: ``h[0]`` (a CSV column). A shape or a list stands after a space or ``=``: ``[2]``, ``[0.5, 1]``.
_INDEX = re.compile(r"(?<=[\w})])\[(\d+)(?:,\s*(\d+))?\]")
_UNIT = re.compile(r"\bunit (\d+)\b")  # a picture's tooltip: "t=0, unit 1: 0.6225"


def _config(cell: str) -> str:
    spec = CELLS[cell]
    G = len(spec.gates)
    rows = [[round(0.1 * ((3 * r + c) % 7) - 0.3, 1) for c in range(H)] for r in range(G * H)]
    w_hh = [0.5, -0.4] if spec.recurrent == "vector" else rows
    return yaml.safe_dump({
        "cell": cell, "inputs": [[1, -1], [0.5, 2]],
        "weights": {"weight_ih_l0": rows, "weight_hh_l0": w_hh,
                    "bias_ih_l0": [0.1] * (G * H), "bias_hh_l0": [0.0] * (G * H)},
        "head": {"task": "labeling", "W": [[1, -1], [0.5, 0.5]], "b": [0, 0.1]},
        "loss": {"type": "cross_entropy", "targets": [1, 0]},
    })


def _filled(template: str) -> str:
    """The blank answers with every number filled in wrong (labels left blank)."""
    def fill(node, key=""):
        if isinstance(node, dict):
            return {k: v if k in ("t", "layer") else fill(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v, key) for v in node]
        return node if key in ("label", "name") else "0.1234"
    return yaml.safe_dump(fill(yaml.safe_load(template)))


def _outputs(cli, tmp_path, cell: str) -> dict[str, str]:
    config = tmp_path / f"{cell}.yaml"
    config.write_text(_config(cell))
    c = str(config)
    G = len(CELLS[cell].gates)
    # the last row (the last gate's last unit), column 0; indrnn's w_hh has no columns
    last = f"weight_{'ih' if CELLS[cell].recurrent == 'vector' else 'hh'}_l0[{G * H - 1},0]"
    runs = {
        "explain": (cell, "-c", c, "--explain"),
        "explain json": (cell, "-c", c, "--explain", "--format", "json"),
        "explain markdown": (cell, "-c", c, "--explain", "--format", "markdown"),
        "explain latex": (cell, "-c", c, "--explain", "--format", "latex"),
        "explain html": (cell, "-c", c, "--explain", "--format", "html"),
        "csv": (cell, "-c", c, "--format", "csv"),
        "grad chain rule": ("grad", "-c", c, "--explain", "--element", last),
        "grad head chain rule": ("grad", "-c", c, "-f", "markdown", "-e", "--element",
                                 "head.W[1,0]"),
        "grad latex": ("grad", "-c", c, "-f", "latex", "-e", "--element", last),
        "answers-template": ("answers-template", c),
        "answers-template --grad": ("answers-template", c, "--grad"),
        "draw heatmap": ("draw", "heatmap", "-c", c),
        "export gift": ("export", c, "--to", "gift", "--grad"),
    }
    out = {}
    for name, args in runs.items():
        result = cli(*args)
        assert result.exit_code == 0, (name, result.stderr)
        out[name] = result.stdout
    answers = tmp_path / "answers.yaml"
    answers.write_text(_filled(out["answers-template"]) + _filled(out["answers-template --grad"]))
    for fmt in ("table", "json", "gradescope"):
        result = cli("check", c, str(answers), "--format", fmt)
        assert result.exit_code == 1, (fmt, result.stderr)
        out[f"check {fmt}"] = result.stdout
    return out


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_every_output_counts_components_from_0(cli, tmp_path, cell):
    G = len(CELLS[cell].gates)
    outputs = _outputs(cli, tmp_path, cell)
    for name, text in outputs.items():
        if name.startswith("answers-template"):  # a blank form names nothing: lists in order
            assert not _INDEX.search(text), name
            continue
        found = [(m[0], int(m[1]), m[2] and int(m[2]), _whole(text, m.start()))
                 for m in _INDEX.finditer(text)]
        found += [(m[0], int(m[1]), None, False) for m in _UNIT.finditer(text)]
        assert found, name
        assert any(i == 0 for _, i, _, _ in found), (name, "no index 0")
        for shown, i, j, whole in found:
            # a whole tensor's rows are its G gate blocks stacked; every other index is < 2
            assert i < (G * H if whole else H) and (j is None or j < H), (name, shown)


def _whole(text: str, at: int) -> bool:
    """Is the index at ``at`` a whole tensor's (``weight_hh_l0[7,1]``), rows of every gate?"""
    return re.search(r"(weight|bias)\\?_(ih|hh)\\?_l0$", text[max(0, at - 14):at]) is not None


def test_the_second_unit_is_named_1(cli, tmp_path):
    """The same line names the same element in --explain, check and grad --element."""
    outputs = _outputs(cli, tmp_path, "rnn")
    assert "h_1[1] = tanh(" in outputs["explain"]
    names = {i["name"] for i in json.loads(outputs["check json"])["items"]}
    assert {"h_1[1]", "pre h_1[1]", "p_1[1]", "dpre h_1[1]", "weight_hh_l0[1,1]"} <= names
    assert "dL/da_h_1[1]*h_prev_1[0]" in outputs["grad chain rule"]


def test_a_cell_picture_names_its_units_from_0(cli, tmp_path):
    """Past 4 units a vector is a strip of coloured cells, each named in its tooltip."""
    config = tmp_path / "rnn5.yaml"
    config.write_text(yaml.safe_dump({"cell": "rnn", "inputs": [[1], [-1]], "weights": {
        "W_ih": [[0.1 * (j + 1)] for j in range(5)], "W_hh": [[0] * 5 for _ in range(5)]}}))
    result = cli("draw", "cell", "-c", str(config), "t=1")
    assert result.exit_code == 0, result.stderr
    units = {int(i) for i in re.findall(r"<title>h_t\[(\d+)\] = ", result.stdout)}
    assert units == {0, 1, 2, 3, 4}
