"""Markdown, LaTeX and CSV reports and the SVG picture, against golden files and the seed's figures.

The golden files (``tests/__snapshots__/test_reports/``) were read by hand against the seed's
printed figures (../shared/seed/README.md), and each test also asserts those figures appear, so a
golden file cannot drift from the seed unnoticed. Regenerate after a deliberate layout change with
``python -m pytest tests/test_reports.py --snapshot-update`` and read the diff.
LaTeX documents are compiled with pdflatex where it is installed (Debian: texlive-latex-base,
texlive-latex-recommended), and the test is skipped where it is not.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

import rnncalc
from rnncalc.render import latex, markdown
from rnncalc.render.report import Section, Table, Text

PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed")


class Markdown(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "md"


class Latex(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "tex"


LSTM_T0 = ["[0.5000, -2.5000]", "[2.5000, -0.5000]", "[-0.5000, -0.5000]", "[4.5000, -2.5000]",
           "[-0.2769, -0.0027]"]
CASES = {
    "lstm": (["lstm"], LSTM_T0),
    "rnn_labeling": (["rnn", "--task", "labeling"],
                     ["[0.9866, 0.9051]", "[0.4796, 0.5204]", "[0.7059, 0.2941]",
                      "[0.8697, 0.1303]"]),
    "rnn_bidirectional": (["rnn", "--bidirectional"],
                          ["[-0.4621, 0.9998]", "[0.9114, 0.4899]", "[4.2931]", "[3.0290]",
                           "[1.6363]", "[2.5000]"]),
}


def run_ok(cli, *args):
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", CASES)
def test_markdown_golden(cli, snapshot, name):
    args, figures = CASES[name]
    text = run_ok(cli, *args, "--format", "markdown")
    for figure in figures:
        assert figure in text, figure
    assert text == snapshot.use_extension(Markdown)


@pytest.mark.parametrize("name", CASES)
def test_latex_golden(cli, snapshot, name):
    args, figures = CASES[name]
    text = run_ok(cli, *args, "--format", "latex")
    for figure in figures:
        assert figure.replace(", ", ",\\ ") in text, figure  # $[0.9866,\ 0.9051]$
    assert "\\toprule" in text and "\\bottomrule" in text and "\\begin{bmatrix}" in text
    assert text == snapshot.use_extension(Latex)


def test_explain_in_markdown_and_latex(cli, snapshot):
    """The issue's own example line: f_0[0] = sigmoid((1)(1) + (0)(2) + (0.5)(3) ...) = 0.9241."""
    md = run_ok(cli, "lstm", "t=0,gate=f", "--explain", "--format", "markdown")
    assert "= sigmoid(2.5) = 0.9241" in md and "## Arithmetic" in md
    tex = run_ok(cli, "lstm", "t=0,gate=f", "--explain", "--format", "latex")
    assert "f_{0}[0] &= \\sigma\\left((1)(1) + (0)(2) + (0.5)(3)" in tex
    assert "&= \\sigma\\left(2.5\\right) \\\\\n  &= 0.9241" in tex
    assert tex == snapshot.use_extension(Latex)


def test_tables_have_equal_columns(cli):
    for args, _ in CASES.values():
        table_width = None
        for line in run_ok(cli, *args, "-f", "markdown").splitlines():
            if line.startswith("| ---"):
                table_width = line.count("|")
            elif line.startswith("|") and table_width:
                assert line.count("|") == table_width, line
            elif not line.startswith("|"):
                table_width = None


def test_csv_is_the_per_step_table(cli):
    rows = list(csv.DictReader(io.StringIO(run_ok(cli, "rnn", "--bidirectional", "-f", "csv"))))
    forward = [r for r in rows if r["direction"] == "forward"]
    assert [[r["h[0]"], r["h[1]"]] for r in forward] == [
        ["0.9866", "0.9051"], ["0.0946", "0.9702"], ["-0.8996", "0.9983"]]
    backward = {r["t"]: [r["h[0]"], r["h[1]"]] for r in rows if r["direction"] == "backward"}
    assert backward == {"2": ["-0.4621", "0.9998"], "1": ["0.0002", "0.9640"],
                        "0": ["0.9114", "0.4899"]}
    lstm = next(csv.DictReader(io.StringIO(run_ok(cli, "lstm", "-f", "csv", "--precision", "1"))))
    assert [lstm[k] for k in ("pre_i[0]", "pre_i[1]", "pre_f[0]", "pre_o[0]")] == \
        ["0.5", "-2.5", "2.5", "4.5"]
    assert list(lstm)[:6] == ["layer", "direction", "t", "x[0]", "x[1]", "x[2]"]


def test_svg_picture(cli, tmp_path):
    target = tmp_path / "tables.svg"
    stdout = run_ok(cli, "rnn", "--task", "labeling", "--svg", str(target))
    picture = target.read_text()
    assert picture.startswith("<svg") and picture.rstrip().endswith("</svg>")
    assert "0.4796" in picture and "0.4796" in stdout


def test_output_file(cli, tmp_path):
    target = tmp_path / "key.tex"
    assert run_ok(cli, "lstm", "-f", "latex", "-o", str(target)) == ""
    assert target.read_text().startswith("\\documentclass")


def test_renderers_take_extra_sections():
    """A feature adds its own section (gradients, say) and the renderers format it."""
    trace = rnncalc.run(rnncalc.load(cell="rnn"))
    extra = Section("Gradients", (Text("dL/dh & more"), Table(("t", "dL/dh_t"), (("0", "1"),))))
    md = markdown.render_sections([extra], 4)
    assert "## Gradients" in md and "| 0 | 1 |" in md
    tex = latex.render_sections([extra], 4, title="x")
    assert "dL/dh \\& more" in tex and "0 & 1 \\\\" in tex
    assert trace.head is not None


def pdflatex(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / f"{name}.tex").write_text(text)
    result = subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],  # type: ignore[list-item]
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / f"{name}.pdf").stat().st_size > 1000
    return (tmp_path / f"{name}.log").read_text(errors="replace")


@needs_pdflatex
def test_latex_compiles(cli, tmp_path):
    """Seed keys with the arithmetic; a generated stacked bidirectional sheet and its key."""
    pdflatex(tmp_path, "lstm", run_ok(cli, "lstm", "--explain", "-f", "latex"))
    pdflatex(tmp_path, "labeling", run_ok(cli, "rnn", "--task", "labeling", "--explain",
                                          "-f", "latex"))
    out = tmp_path / "ex"
    run_ok(cli, "exercise", "lstm", "--seed", "4", "--task", "bidirectional", "--layers", "2",
           "--format", "latex", "--explain", "--out-dir", str(out))
    assert "Arithmetic" in (out / "key.tex").read_text()
    assert "Arithmetic" not in (out / "sheet.tex").read_text()
    for name in ("sheet", "key"):
        pdflatex(out, name, (out / f"{name}.tex").read_text())
    wide = tmp_path / "wide"  # 8 hidden units: smaller type, wrapped vectors, inside the page
    run_ok(cli, "exercise", "lstm", "--seed", "4", "--hidden-size", "8", "--format", "latex",
           "--out-dir", str(wide))
    assert "Overfull \\hbox" not in pdflatex(wide, "key", (wide / "key.tex").read_text())


@needs_pdflatex
def test_latex_escapes_text(tmp_path):
    title = "Odd title: 100% _under_ & {braces} $5 #1 ~ ^ \\ <a> · done"
    trace = rnncalc.run(rnncalc.load({"title": title, "cell": "rnn", "inputs": [[1]],
                                      "weights": {"W_ih": [[0.5]], "W_hh": [[1]]}}))
    pdflatex(tmp_path, "odd", latex.render(trace))


def test_projection_lstm_report_and_csv():
    """PyTorch's proj_size: W_hr and m_t shown, h_t has P units; the numbers are torch's own."""
    import torch

    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 2, proj_size=1).double()
    config = {"cell": "lstm", "proj_size": 1, "inputs": [[1, 2, 3], [0, 1, 0]],
              "weights": {k: v.tolist() for k, v in module.state_dict().items()}}
    trace = rnncalc.run(rnncalc.load(config))
    expected, _ = module(torch.tensor(config["inputs"], dtype=torch.float64))
    md = markdown.render(trace)
    w_hr = module.weight_hr_l0.tolist()[0]
    assert f"W_hr = [[{w_hr[0]:.10g}, {w_hr[1]:.10g}]]" in md
    assert "| `m_t` |" in md
    rows = list(csv.DictReader(io.StringIO(rnncalc_csv(trace))))
    assert [float(r["h[0]"]) for r in rows] == pytest.approx(expected[:, 0].tolist(), abs=5e-5)
    assert "m[1]" in rows[0] and "h[1]" not in rows[0]


def rnncalc_csv(trace):
    from rnncalc.render.csv import render

    return render(trace)
