"""A class's marks as text: jsonl records, a CSV gradebook, Gradescope's ``results.json``, and a
table with the score spread and the quantities the class got wrong."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from rnncalc.grading import Failed, Score, summarize

__all__ = ["gradebook", "gradescope", "jsonl", "summary"]


def jsonl(result: Score | Failed) -> str:
    """One line: the record of a marked file, or the error record of one that was not."""
    return json.dumps(result.record(), separators=(",", ":")) + "\n"


#: The gradebook's columns, in order.
COLUMNS = ("student", "answers", "score", "max_score", "right", "rounding", "carried", "wrong",
           "missing", "error")


def gradebook(results: Sequence[Score | Failed]) -> str:
    """CSV, one row per answers file: who, the score, the counts of each mark; or the error."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in results:
        if isinstance(r, Failed):
            writer.writerow(["", r.source, "", "", "", "", "", "", "", r.error])
            continue
        rec = r.record()
        writer.writerow([r.student or "", r.report.source, rec["score"], rec["max_score"],
                         rec["right"], rec["rounding"], rec["carried"], rec["wrong"],
                         rec["missing"], ""])
    return out.getvalue()


def gradescope(result: Score, precision: int = 4) -> str:
    """Gradescope's ``results.json``: the score and one test per asked quantity, visible to the
    student, whose output says what was given, what was expected and why."""
    from rnncalc.render.check import SIGNS, _expected

    tests: list[dict[str, Any]] = []
    for item, (earned, worth) in zip(result.report.items, result.points, strict=True):
        if worth == 0:
            continue
        shown = _expected(item.expected, item.given.text, precision)
        text = f"{SIGNS[item.mark]} {item.mark}: you wrote {item.given.shown}, expected {shown}"
        tests.append({"name": item.name, "score": _n(earned), "max_score": _n(worth),
                      "output": text + (f"; {item.note}" if item.note else ""),
                      "visibility": "visible"})
    for name, worth in result.missing:
        if worth == 0:
            continue
        tests.append({"name": name, "score": 0, "max_score": _n(worth), "output": "not answered",
                      "visibility": "visible"})
    doc = {"score": _n(result.score), "output": f"{_n(result.score)} of "
           f"{_n(result.max_score)} points", "tests": tests}
    return json.dumps(doc, indent=2) + "\n"


def _n(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 6)


def summary(results: Sequence[Score | Failed]) -> str:
    """The class in a table: one line per file, the score spread, then per quantity how many got
    it wrong (a new mistake) or carried an earlier one, most first."""
    scores = [r for r in results if isinstance(r, Score)]
    failed = [r for r in results if isinstance(r, Failed)]
    rows = [("answers", "student", "score", "right", "rounding", "carried", "wrong", "missing")]
    for r in results:
        if isinstance(r, Failed):
            rows.append((r.source, "", "error", "", "", "", "", ""))
            continue
        c = r.report.counts
        rows.append((r.report.source, r.student or "", f"{_n(r.score)}/{_n(r.max_score)}",
                     str(c["right"]), str(c["rounding"]), str(c["carried"]), str(c["wrong"]),
                     str(len(r.missing))))
    out = _table(rows)
    s = summarize(scores, len(failed))
    if scores:
        spread = s.spread()
        out += ["", f"{len(scores)} marked" + (f", {len(failed)} not (errors above)"
                                               if failed else "")
                + f"; score out of {_n(s.max_score)}: "
                + ", ".join(f"{k} {_n(round(v, 2))}" for k, v in spread.items())]
        out.append("spread: " + _histogram(s.scores, s.max_score))
    if s.wrong:
        out += ["", "Where the class went wrong (new mistakes, carried from an earlier one):"]
        out += _table([("quantity", "wrong", "carried", "blank")]
                      + [(n, str(w), str(c), str(b)) for n, w, c, b in s.wrong])
    elif scores:
        out += ["", "Nobody got anything wrong."]
    return "\n".join(out) + "\n"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


def _histogram(scores: Sequence[float], top: float, bins: int = 5) -> str:
    """How many scores fall in each fifth of the range: ``0-20%: 1 · 20-40%: 0 · ...``."""
    counts = [0] * bins
    for x in scores:
        counts[min(bins - 1, int(bins * x / top)) if top > 0 else bins - 1] += 1
    step = 100 // bins
    return " · ".join(f"{i * step}-{(i + 1) * step}%: {n}" for i, n in enumerate(counts))


def render(results: Sequence[Score | Failed], fmt: str, *, title: str = "",
           precision: int = 4) -> tuple[str, list[str]]:
    """``rnncalc check``'s output for ``results`` in ``fmt``, and the error lines for stderr.
    Files refused are rendered without torch (which a marked file's table imports)."""
    errors = [r.error for r in results if isinstance(r, Failed)]
    if fmt == "jsonl":
        return "".join(jsonl(r) for r in results), []
    if fmt == "csv":
        return gradebook(results), errors
    marked = [r for r in results if isinstance(r, Score)]
    if len(results) > 1:
        return summary(results), errors
    if not marked:
        return "", errors
    r = marked[0]
    from rnncalc.render.check import render as one_table
    from rnncalc.render.check import render_json

    if fmt == "gradescope":
        return gradescope(r, precision), []
    if fmt == "json":
        doc = json.loads(render_json(r.report, precision=precision))
        return json.dumps({**doc, "student": r.student, "score": _n(r.score),
                           "max_score": _n(r.max_score)}, indent=2) + "\n", []
    text = one_table(r.report, title=title, precision=precision)
    return text + f"score: {_n(r.score)} of {_n(r.max_score)}" + (
        f" ({len(r.missing)} not answered)" if r.missing else "") + "\n", []
