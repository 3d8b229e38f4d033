"""``--format html`` (issue 16): a valid, self-contained page whose numbers are the run's, and,
in a real headless Chromium, no console errors, a screenshot that is not blank, a stepper that
moves with the keyboard and buttons, and a print layout without the controls."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

import rnncalc
from rnncalc.render import fmt
from tests.browser import Browser, chromium, png_pixels
from tests.conftest import CONFIGS
from tests.test_pictures import close, expected_cell, keyed

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "source", "wbr"}
SVG_VOID = {"rect", "circle", "polyline", "path", "line"}


class Checker(HTMLParser):
    """Every element closed, in order (html.parser itself forgives anything)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()


def page(cell="lstm", **kw) -> tuple[str, object]:
    trace = rnncalc.run(rnncalc.load(cell=cell, **kw) if "config" not in kw
                        else rnncalc.load(kw["config"]))
    from rnncalc.pictures.html import render

    return render(trace), trace


def parse(html: str) -> Checker:
    checker = Checker()
    checker.feed(html)
    checker.close()
    assert checker.stack == []
    return checker


@pytest.mark.parametrize("kw", [dict(cell="lstm"), dict(cell="gru"),
                                dict(cell="rnn", bidirectional=True),
                                dict(cell="rnn", config=str(CONFIGS / "rnn_grad.yaml")),
                                dict(cell="lstm", config=str(CONFIGS / "lstm_stacked_relu.yaml"))])
def test_page_is_valid_offline_and_its_numbers_are_the_trace(kw):
    html, trace = page(**kw)
    checker = parse(html)
    # self-contained: nothing fetched (the SVG namespace is a name, not a request)
    for tag, attrs in checker.tags:
        assert tag not in ("link", "img", "iframe")
        for name in ("src", "href"):
            assert not (attrs.get(name) or "").startswith(("http", "//")), (tag, attrs)
    assert "@import" not in html and "url(http" not in html and "@font-face" not in html
    # every picture is valid SVG, and its numbers are the run's (the cell diagram at its first step)
    svgs = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(svgs) >= 3
    for svg in svgs:
        ET.fromstring(svg)
    ex, doc = trace.exercise, trace.to_dict()
    cells = re.findall(r'<div class="rc-figure rc-cell[^"]*">(<svg .*?</svg>)', html, re.S)
    runs = [(tr.layer, tr.direction, tr.positions[0]) for lt in trace.layers
            for tr in lt.directions.values()]
    assert len(cells) == len(runs)
    for svg, (layer, direction, t) in zip(cells, runs, strict=True):
        for key, values in keyed(svg).items():
            close(values, [expected_cell(ex, doc, key, layer, direction, t)], what=key)
    # the stepper's numbers, every step of every run
    data = json.loads(re.search(r'id="rc-stepper-data">(.*?)</script>', html, re.S)[1])
    for run, (layer, direction, _) in zip(data["runs"], runs, strict=True):
        for step in run["steps"]:
            for name, texts in step["values"].items():
                for j, text in enumerate(texts):
                    close([float(text)], [expected_cell(ex, doc, f"{name}.{j}", layer,
                                                        direction, step["t"])], what=name)
    # the tables are plain HTML: the final state is written in them
    final = doc["layers"][-1]["directions"][ex.directions[0]]
    h_last = next(s for s in final if s["t"] == (ex.steps - 1 if ex.directions[0] == "forward"
                                                   else 0))["h"]
    assert "[" + ", ".join(fmt(v, 4) for v in h_last) + "]" in html


def test_cli_writes_html(cli, tmp_path):
    out = tmp_path / "r.html"
    result = cli("gru", "--format", "html", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    parse(out.read_text())
    result = cli("grad", "-c", str(CONFIGS / "rnn_grad.yaml"), "-f", "html")
    assert result.exit_code == 2 and "html" in result.stderr  # grad: its picture is draw grad


def test_notebook_display_is_html():
    trace = rnncalc.run(rnncalc.load(cell="rnn"))
    html = trace._repr_html_()
    parse(html)
    assert "<svg" in html and "<table" in html


def _visible_numbers(b: Browser) -> dict[str, list[float]]:
    svg = b.evaluate("document.querySelector('.rc-cell:not(.rc-hidden) svg').outerHTML")
    return keyed(svg)


def _check_step(b: Browser, trace, layer: int, direction: str, t: int) -> None:
    assert f"t = {t} " in b.evaluate("document.getElementById('rc-where').textContent")
    ex, doc = trace.exercise, trace.to_dict()
    drawn = _visible_numbers(b)
    assert drawn
    for key, values in drawn.items():
        close(values, [expected_cell(ex, doc, key, layer, direction, t)], what=(t, key))


@pytest.mark.skipif(chromium() is None, reason="chromium not installed")
def test_report_in_a_real_browser(tmp_path):
    html, trace = page(cell="lstm", bidirectional=False)
    path = tmp_path / "report.html"
    path.write_text(html)
    with Browser(tmp_path) as b:
        b.open(path)
        assert b.requests() in ([], [path.resolve().as_uri()])  # nothing from the network
        _check_step(b, trace, 0, "forward", 0)
        b.press("ArrowRight")
        _check_step(b, trace, 0, "forward", 1)
        b.press("ArrowRight")
        b.press("ArrowRight")  # past the end: stays at the last step
        _check_step(b, trace, 0, "forward", 2)
        b.press("ArrowLeft")
        _check_step(b, trace, 0, "forward", 1)
        b.press("Home")
        _check_step(b, trace, 0, "forward", 0)
        b.evaluate("document.getElementById('rc-next').click()")
        _check_step(b, trace, 0, "forward", 1)
        shot = b.screenshot()
        width, height, rows = png_pixels(shot)
        assert width > 600 and height > 400
        inked = sum(1 for row in rows[::4] for i in range(0, len(row), 16) if row[i] < 200)
        assert inked > 200  # not blank: text, wires and boxes drawn
        # printing: the controls are hidden, the tables and pictures stay
        b.call("Emulation.setEmulatedMedia", media="print")
        assert b.evaluate("getComputedStyle(document.querySelector('.rc-stepper')).display") \
            == "none"
        assert b.evaluate("document.querySelectorAll('table.rc').length") > 0
        pdf = b.call("Page.printToPDF")["data"]
        assert len(pdf) > 10_000
        assert b.errors() == []


@pytest.mark.skipif(chromium() is None, reason="chromium not installed")
def test_stepper_through_a_bidirectional_stack(tmp_path):
    html, trace = page(config=str(CONFIGS / "gru_keras_bidirectional.yaml"))
    path = tmp_path / "report.html"
    path.write_text(html)
    ex = trace.exercise
    with Browser(tmp_path) as b:
        b.open(path)
        b.evaluate("const s=document.getElementById('rc-run');s.value='1';"
                   "s.dispatchEvent(new Event('change'))")
        backward = trace.layers[0].directions["backward"].positions
        _check_step(b, trace, 0, "backward", backward[0])
        b.press("ArrowRight")
        _check_step(b, trace, 0, "backward", backward[1])
        b.press("End")
        _check_step(b, trace, 0, "backward", backward[-1])
        assert ex.steps - 1 == backward[0]
        assert b.errors() == []
