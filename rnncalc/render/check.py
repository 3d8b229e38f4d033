"""``rnncalc check`` as text: every answer with its mark, the first mistake worked out, a count."""

from __future__ import annotations

import json

from rnncalc.check import Report, decimals
from rnncalc.explain import line_text

__all__ = ["render", "render_json"]

SIGNS = {"right": "ok", "rounding": "ok~", "carried": "->", "wrong": "XX"}
LEGEND = ("ok right · ok~ right when every intermediate is rounded as you wrote it\n"
          "-> wrong, but it follows from your earlier answers · XX wrong")


def _expected(value: object, text: str, precision: int) -> str:
    if isinstance(value, float):
        # at most 12 decimals: a student's 400 decimals would print as many of float noise
        return f"{value:.{min(max(decimals(text), precision), 12)}f}"
    return "-" if value is None else str(value)


def render(report: Report, *, title: str = "", precision: int = 4) -> str:
    how = (f"every intermediate rounded to {report.round_to} decimals"
           if report.round_to is not None else "exact arithmetic")
    rule = (f"within {report.tolerance:g}" if report.tolerance is not None
            else "each number at the precision written")
    for key, value in (("tolerance", report.file_tolerance), ("round", report.file_round)):
        if value is not None:  # a student's own: the policy is the grader's
            rule += f"; the answers file's {key}: {value:g} is not used (a grader's --{key} is)"
    out = [f"Checking {report.source}" + (f" against {title}" if title else ""),
           f"({how}; {rule})", ""]
    first = report.first_wrong
    rows = [("", "quantity", "given", "expected", "")]
    rows += [(SIGNS[i.mark], i.name, i.given.shown, _expected(i.expected, i.given.text, precision),
              "<< first mistake" + (f"; {i.note}" if i.note else "") if i is first else i.note)
             for i in report.items]
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    for r in rows:
        out.append(("  ".join(cell.ljust(w) for cell, w in zip(r[:4], widths, strict=True))
                    + "  " + r[4]).rstrip())
    if first is not None:
        line = f" (line {first.given.line})" if first.given.line else ""
        out += ["", f"First mistake: {first.name}{line}, you wrote {first.given.shown}"]
        if first.note:
            out.append(f"  {first.note}")
        out += ["  " + line_text(ln, precision) for ln in report.explain]
    c = report.counts
    n = len(report.items)
    out += ["", LEGEND, f"{n} answer{'s' if n != 1 else ''}: {c['right'] + c['rounding']} right"
            + (f" ({c['rounding']} by rounding)" if c["rounding"] else "")
            + f", {c['wrong']} wrong"
            + (f", {c['carried']} following from an earlier mistake" if c["carried"] else "")]
    return "\n".join(out) + "\n"


def render_json(report: Report, *, precision: int = 4) -> str:
    return json.dumps(report.to_dict(precision), indent=2) + "\n"
