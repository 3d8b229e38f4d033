"""The pictures (issue 16): valid SVG, and every number drawn equal to the run's.

Each number a picture draws carries its key (``data-k``); the expected value of a key is read
here from the JSON contract (``trace.to_dict()``, itself held against torch.nn elsewhere), not
from the drawing code, and the gradient norms from torch autograd.
"""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch

import rnncalc
from rnncalc.cells import CELLS
from rnncalc.pictures.draw import draw
from tests.conftest import CONFIGS

SVG = "{http://www.w3.org/2000/svg}"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
SEEDS = [dict(cell="rnn"), dict(cell="lstm"), dict(cell="gru"), dict(cell="rnn", task="labeling"),
         dict(cell="rnn", bidirectional=True)]
CONFIG_FILES = sorted(CONFIGS.glob("*.yaml"))


def _exercises():
    yield from ((f"seed-{'-'.join(map(str, kw.values()))}", rnncalc.load(**kw)) for kw in SEEDS)
    yield from ((p.stem, rnncalc.load(str(p))) for p in CONFIG_FILES)


EXERCISES = list(_exercises())


def big(cell: str = "lstm", H: int = 64, T: int = 200, H_in: int = 64, layers: int = 1,
        bidirectional: bool = False, task: str = "hidden", seed: int = 0) -> dict:
    """A large exercise: torch.nn's random weights in PyTorch's layout."""
    torch.manual_seed(seed)
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell](
        H_in, H, num_layers=layers, bidirectional=bidirectional)
    cfg = {"cell": cell, "layout": "pytorch", "num_layers": layers,
           "bidirectional": bidirectional, "inputs": torch.randn(T, H_in).tolist(),
           "weights": {k: v.tolist() for k, v in module.state_dict().items()}}
    if task != "hidden":
        d, width = 3, H * (2 if bidirectional else 1)
        cfg["head"] = {"task": task, "W": (torch.randn(d, width) * 0.3).tolist(), "b": [0.0] * d}
    return cfg


def keyed(svg: str) -> dict[str, list[float]]:
    """Every keyed element's numbers: a text's own, or a coloured cell's tooltip."""
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    out = {}
    for el in root.iter():
        key = el.get("data-k")
        if key is None:
            continue
        text = "".join(el.itertext()) if el.tag == SVG + "text" else el.findtext(SVG + "title")
        assert text, key
        if el.tag != SVG + "text":
            text = text.rpartition(":")[2] if ":" in text else text.rpartition("=")[2]
        assert key not in out, f"{key} drawn twice"
        out[key] = [float(n) for n in NUMBER.findall(text.replace("−", "-"))]
    return out


def close(drawn: list[float], expected: list[float], precision: int = 4, what: str = "") -> None:
    assert len(drawn) == len(expected), (what, drawn, expected)
    for d, e in zip(drawn, expected, strict=True):
        assert abs(d - e) <= 0.5 * 10 ** -precision + 1e-12 * abs(e), (what, drawn, expected)


def _steps(doc: dict, layer: int, direction: str) -> list[dict]:
    return doc["layers"][layer]["directions"][direction]


def _h0(ex, layer: int, direction: str, name: str = "h") -> list[float]:
    states = ex.h0 if name == "h" else ex.c0
    return list(states[layer * ex.num_directions + ex.directions.index(direction)])


def expected_cell(ex, doc: dict, key: str, layer: int, direction: str, t: int) -> float:
    steps = _steps(doc, layer, direction)
    k = next(i for i, s in enumerate(steps) if s["t"] == t)
    step = steps[k]
    *path, unit = key.split(".")
    j = int(unit)
    if path[0] in ("h_prev", "c_prev"):
        name = path[0][0]
        return (steps[k - 1][name] if k else _h0(ex, layer, direction, name))[j]
    if path[0] in ("pre", "act"):
        return step[path[0]][path[1]][j]
    return step[path[0]][j]


@pytest.mark.parametrize(("name", "ex"), EXERCISES, ids=[n for n, _ in EXERCISES])
def test_cell_diagram_numbers_are_the_trace(name, ex):
    trace = rnncalc.run(ex)
    doc = trace.to_dict()
    for layer in range(ex.num_layers):
        for direction in ex.directions:
            for t in range(ex.steps):
                drawn = keyed(draw(trace, "cell", f"t={t},layer={layer},direction={direction}"))
                # every quantity of the step is in the picture, and each number is the run's
                step = next(s for s in _steps(doc, layer, direction) if s["t"] == t)
                names = {"x", "h_prev", "h"} | {f"pre.{g}" for g in step["pre"]} | {
                    f"act.{g}" for g in step["act"]} | ({"c", "c_prev"} if "c" in step else set())
                assert {k.rpartition(".")[0] for k in drawn} >= names
                for key, values in drawn.items():
                    close(values, [expected_cell(ex, doc, key, layer, direction, t)], what=key)


@pytest.mark.parametrize(("name", "ex"), EXERCISES, ids=[n for n, _ in EXERCISES])
def test_unrolled_numbers_are_the_trace(name, ex):
    trace = rnncalc.run(ex)
    doc = trace.to_dict()
    drawn = keyed(draw(trace, "unrolled"))
    seen = set()
    for key, values in drawn.items():
        parts = key.split(".")
        if parts[0] == "x":
            expected = list(ex.inputs[int(parts[1])])
        elif parts[0] == "head":
            head = doc["head"]
            if len(parts) == 3:  # per position (labeling)
                row = head["steps"][int(parts[2])]
                expected = [row["label"]] if parts[1] == "label" else row["probs"]
            else:
                expected = {"y": head.get("y"), "p": head.get("probs"),
                            "label": [head.get("label")]}[parts[1]]
        elif parts[2] == "h0":
            expected = _h0(ex, int(parts[0][1:]), parts[1])
        else:
            layer, direction, t, name_ = int(parts[0][1:]), parts[1], int(parts[2]), parts[3]
            expected = next(s for s in _steps(doc, layer, direction) if s["t"] == t)[name_]
            seen.add((layer, direction, t, name_))
        close(values, expected, what=key)
    if ex.hidden_size <= 4 and ex.input_size <= 4 and ex.steps <= 8:  # small: every h is there
        assert {(l, d, t) for l, d, t, n in seen if n == "h"} == {
            (l, d, t) for l in range(ex.num_layers) for d in ex.directions
            for t in range(ex.steps)}


@pytest.mark.parametrize(("name", "ex"), EXERCISES, ids=[n for n, _ in EXERCISES])
def test_heatmap_numbers_are_the_trace(name, ex):
    trace = rnncalc.run(ex)
    doc = trace.to_dict()
    drawn = keyed(draw(trace, "heatmap"))
    assert drawn
    for key, values in drawn.items():
        layer, direction, q, *rest = key.split(".")
        steps = _steps(doc, int(layer[1:]), direction)
        block = {s["t"]: (s[q] if q in ("c", "h") else s["act"][q]) for s in steps}
        if rest[0] in ("min", "max"):
            flat = [v for row in block.values() for v in row]
            close(values, [min(flat) if rest[0] == "min" else max(flat)], what=key)
        else:
            close(values, [block[int(rest[0])][int(rest[1])]], what=key)


def _autograd_dh(ex) -> list[float]:
    """||dL/dh_t|| of an Elman RNN with a regression head and loss 1/2 (y - target)^2 on the
    final state, by torch autograd (one layer, forward)."""
    def f64(v):
        return torch.tensor(v, dtype=torch.float64)

    w = ex.weights[0][0]
    W_ih, W_hh = f64(w.weight_ih), f64(w.weight_hh).requires_grad_()
    b = f64(w.bias_ih) + f64(w.bias_hh)
    h = f64(ex.h0[0])
    hs = []
    for x in ex.inputs:
        h = torch.tanh(W_ih @ f64(x) + W_hh @ h + b)
        h.retain_grad()
        hs.append(h)
    y = f64(ex.head.W) @ h + f64(ex.head.b)
    loss = 0.5 * ((y - f64(ex.loss.target)) ** 2).sum()
    loss.backward()
    return [float(torch.linalg.vector_norm(h.grad)) for h in hs]


def test_grad_norms_are_autograd_s():
    ex = rnncalc.load(str(CONFIGS / "rnn_grad.yaml"))
    assert ex.loss.type == "half_sse" and ex.loss.reduction in ("mean", "sum")
    drawn = keyed(draw(rnncalc.run(ex), "grad"))
    expected = _autograd_dh(ex)
    assert sorted(drawn) == sorted([f"L0.forward.dh.{t}" for t in range(ex.steps)]
                                   + ["L0.forward.dh.first", "L0.forward.dh.last"])
    for t, norm in enumerate(expected):
        close(drawn[f"L0.forward.dh.{t}"], [norm], what=t)
    close(drawn["L0.forward.dh.first"], [0, expected[0]])  # "t=0: ..."
    close(drawn["L0.forward.dh.last"], [ex.steps - 1, expected[-1]])


def test_grad_norms_of_a_long_run_vanish():
    ex = rnncalc.load(str(CONFIGS / "rnn_grad_vanishing.yaml"))
    drawn = keyed(draw(rnncalc.run(ex), "grad"))
    expected = _autograd_dh(ex)
    assert sorted(drawn) == ["L0.forward.dh.first", "L0.forward.dh.last"]  # too many to write
    first, last = drawn["L0.forward.dh.first"], drawn["L0.forward.dh.last"]
    assert first[0] == 0 and last[0] == ex.steps - 1
    assert math.isclose(first[1], expected[0], rel_tol=1e-4) and expected[0] < 1e-10
    close(last[1:], [expected[-1]])


@pytest.mark.parametrize("config", ["lstm_grad_gomez.yaml", "rnn_labeling_grad.yaml"])
def test_grad_picture_of_other_configs(config):
    from rnncalc.bptt import backprop

    trace = rnncalc.run(rnncalc.load(str(CONFIGS / config)))
    result = backprop(trace)
    drawn = keyed(draw(trace, "grad"))
    for layer, dirs in enumerate(result.layers):
        for direction, g in dirs.items():
            for name, block in (("dh", g.dh), ("dc", g.dc)):
                if block is None:
                    continue
                for t, row in zip(g.positions, block, strict=True):
                    expected = math.sqrt(sum(v * v for v in row.tolist()))
                    if expected > 0:
                        close(drawn[f"L{layer}.{direction}.{name}.{t}"], [expected])
                        if t in (min(g.positions), max(g.positions)):
                            end = "first" if t == min(g.positions) else "last"
                            close(drawn[f"L{layer}.{direction}.{name}.{end}"], [t, expected])


def test_large_run_shows_shapes_and_elides_the_middle():
    trace = rnncalc.run(rnncalc.load(big(layers=2, bidirectional=True, task="labeling")))
    svg = draw(trace, "unrolled")
    texts = ["".join(e.itertext()) for e in ET.fromstring(svg).iter(SVG + "text")]
    assert "x199" in texts and "x100" not in texts and "⋯" in texts  # x_{199}: subscript tspan
    assert "[64]" in texts
    cell = keyed(draw(trace, "cell", "t=150,layer=1,direction=backward"))
    doc = trace.to_dict()
    for key, values in cell.items():  # strips: each unit's colour carries its value
        close(values, [expected_cell(trace.exercise, doc, key, 1, "backward", 150)], what=key)
    assert len([k for k in cell if k.startswith("act.f.")]) == 64
    svg = draw(trace, "heatmap", "layer=1,direction=backward,gate=h")
    heat = keyed(svg)
    assert sorted(heat) == ["L1.backward.h.max", "L1.backward.h.min"]
    # a raster, a pixel per value: unit j at position t coloured by h_t[j] on the panel's scale
    from rnncalc.pictures.colors import scale_of
    from tests.browser import png_pixels

    images = list(ET.fromstring(svg).iter(SVG + "image"))
    assert len(images) == 1
    width, height, rows = png_pixels(base64.b64decode(images[0].get("href").partition(",")[2]))
    assert (width, height) == (200, 64)
    h = {s["t"]: s["h"] for s in doc["layers"][1]["directions"]["backward"]}
    scale = scale_of([v for row in h.values() for v in row])
    for t in (0, 77, 199):
        for j in (0, 31, 63):
            assert "#" + rows[j][3 * t:3 * t + 3].hex() == scale(h[t][j])


def test_a_cell_without_a_diagram_is_drawn_generically(monkeypatch):
    import dataclasses

    from rnncalc.cells import CELLS, gru

    monkeypatch.setitem(CELLS, "gru", dataclasses.replace(gru.SPEC, diagram=None))
    trace = rnncalc.run(rnncalc.load(cell="gru"))
    doc = trace.to_dict()
    drawn = keyed(draw(trace, "cell", "t=2"))
    assert {"act.r.0", "act.z.0", "act.n.0", "h.0"} <= set(drawn)
    for key, values in drawn.items():
        close(values, [expected_cell(trace.exercise, doc, key, 0, "forward", 2)], what=key)


@pytest.mark.parametrize(("args", "message"), [
    (("cell", "t=3"), "t=3, but the run has positions 0..2"),
    (("cell", "t=0,t=1"), "one t, got 0, 1"),
    (("cell", "layer=1"), "layer=1, but the run has layers 0..0"),
    (("cell", "direction=backward"), "direction=backward, but the run has forward"),
    (("cell", "gate=f"), "takes no gate"),
    (("unrolled", "t=1"), "takes no t"),
    (("heatmap", "-f", "latex"), "SVG only"),
])
def test_draw_usage_errors(cli, args, message):
    result = cli("draw", *args, "--cell", "lstm")
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.stderr


def test_draw_grad_needs_a_loss(cli):
    result = cli("draw", "grad", "--cell", "rnn")
    assert result.exit_code == 3
    assert "needs a loss" in result.stderr


def test_draw_without_a_cell_draws_the_first_cell_of_the_registry(cli):
    """Neither --config nor --cell: the registry's first cell, the RNN, whose seed has a head
    (the LSTM, the old default, has none: --task regression was refused)."""
    default = cli("draw", "unrolled", "--task", "regression")
    assert default.exit_code == 0, default.stderr
    assert default.stdout == cli("draw", "unrolled", "--task", "regression", "--cell",
                                 next(iter(CELLS))).stdout


def test_draw_writes_a_file(cli, tmp_path):
    out = tmp_path / "cell.svg"
    result = cli("draw", "cell", "t=-1", "-c", str(CONFIGS / "gru.yaml"), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "t = 2" in ET.parse(out).getroot().findtext(SVG + "title")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "big"])
def test_latex_pictures_compile(cli, tmp_path, cell):
    if cell == "big":  # shapes, elided steps (a ⋯), strips of colours
        config = tmp_path / "big.json"
        config.write_text(json.dumps(big("gru", H=8, T=20, H_in=5, bidirectional=True)))
        where = ["-c", str(config)]
    else:
        where = ["--cell", cell]
    body = []
    for picture in ("unrolled", "cell"):
        result = cli("draw", picture, *where, "-f", "latex")
        assert result.exit_code == 0, result.stderr
        body.append(result.stdout)
    doc = tmp_path / "pictures.tex"
    doc.write_text("\\documentclass{article}\\usepackage[margin=2cm]{geometry}"
                   "\\usepackage{xcolor}\\begin{document}\\noindent " + "\n\n\\noindent ".join(body)
                   + "\\end{document}\n")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert Path(tmp_path / "pictures.pdf").stat().st_size > 1000


DOC_PICTURES = {  # docs/pictures.md shows these; each is the output of its command, as shown
    "unrolled.svg": ("draw", "unrolled", "--cell", "rnn", "--bidirectional"),
    "cell-lstm.svg": ("draw", "cell", "--cell", "lstm", "t=1"),
    "cell-gru.svg": ("draw", "cell", "--cell", "gru", "t=1"),
    "heatmap.svg": ("draw", "heatmap", "--cell", "lstm"),
    "grad.svg": ("draw", "grad", "-c", "configs/rnn_grad_vanishing.yaml"),
}


@pytest.mark.parametrize("name", sorted(DOC_PICTURES))
def test_docs_pictures_are_current(cli, name, monkeypatch):
    from tests.conftest import ROOT

    monkeypatch.chdir(ROOT)
    page = (ROOT / "docs" / "pictures.md").read_text()
    assert f"img/{name}" in page
    args = DOC_PICTURES[name]
    shown = "rnncalc " + " ".join(args)
    if name != "cell-gru.svg":  # the page shows the others' commands
        assert shown in page
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (ROOT / "docs" / "img" / name).read_text(), \
        f"docs/img/{name} is stale: rerun `{shown} -o docs/img/{name}`"


def test_exercise_key_carries_the_pictures(cli, tmp_path):
    result = cli("exercise", "gru", "--seed", "3", "--out-dir", str(tmp_path), "-f", "latex")
    assert result.exit_code == 0, result.stderr
    key, sheet = (tmp_path / "key.tex").read_text(), (tmp_path / "sheet.tex").read_text()
    assert key.count("\\begin{picture}") == 2 and "\\begin{picture}" not in sheet


def test_gru_diagram_follows_z_weights():
    from rnncalc.cells import gru
    from rnncalc.pictures.cell import diagram_of

    ex = rnncalc.load({
        "cell": "gru", "z_weights": "candidate", "inputs": [[1, 0], [0, 1]],
        "weights": {"W_ir": [[0.5, 0.5]], "W_hr": [[0.1]], "W_iz": [[0.3, -0.3]],
                    "W_hz": [[0.2]], "W_in": [[1, 1]], "W_hn": [[0.3]]}})
    assert diagram_of("gru", gru.GATES, ex.formulation) is gru.DIAGRAM_CANDIDATE
    assert diagram_of("gru", gru.GATES, rnncalc.load(cell="gru").formulation) is gru.DIAGRAM
    # 1 − z on the way to z ⊙ h_{t-1}: the candidate's weight is z itself
    links = {(link.src, link.dst) for link in gru.DIAGRAM_CANDIDATE.links}
    assert {("z", "one_minus"), ("one_minus", "zh"), ("z", "zn")} <= links
    trace = rnncalc.run(ex)
    doc = trace.to_dict()
    for key, values in keyed(draw(trace, "cell", "t=1")).items():
        close(values, [expected_cell(ex, doc, key, 0, "forward", 1)], what=key)
