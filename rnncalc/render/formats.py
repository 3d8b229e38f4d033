"""The one output-format dispatch: a run (and what a command adds to it) in the format asked for.

Every command that writes a trace (the cell commands, ``rnncalc grad``) comes here with the
trace, the format's name and its additions: ``json`` entries merged into the trace's JSON,
``sections`` appended to the markdown and LaTeX reports, a ``table`` renderable shown after the
tables and ``after``, plain text written after them unwrapped (``--explain``'s lines).
Returns text, or a rich renderable for ``table`` (the CLI fits it to the terminal).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rnncalc.compare import Comparison
    from rnncalc.render.report import SectionFn
    from rnncalc.trace import Trace

__all__ = ["FORMATS", "render", "render_comparison"]

FORMATS = ("table", "json", "markdown", "latex", "csv", "html")


def render(trace: Trace, fmt: str, *, precision: int = 4, step_by_step: bool = False,
           steps: str | None = None, explain: Sequence[Any] | None = None,
           json: dict[str, Any] | None = None, sections: Sequence[SectionFn] = (),
           table: Any = None) -> Any:
    """``trace`` as ``fmt`` (one of :data:`FORMATS`), with a command's additions."""
    if fmt == "json":
        from rnncalc.render.json import dumps

        doc = trace.to_dict()
        if explain is not None:
            from rnncalc.render.explain import to_json

            doc["explain"] = to_json(list(explain), precision=precision)
        return dumps({**doc, **(json or {})}) + "\n"
    if fmt == "csv":
        from rnncalc.render.csv import render as render_csv

        return render_csv(trace, precision=precision)
    if fmt == "html":
        from rnncalc.pictures.html import render as render_html

        return render_html(trace, precision=precision, explain=explain)
    if fmt in ("markdown", "latex"):
        from rnncalc.render import latex, markdown
        from rnncalc.render.report import build, title_of

        writer = markdown if fmt == "markdown" else latex
        if not sections:
            return writer.render(trace, precision=precision, explain=explain)
        return writer.render_sections(build(trace, explain=explain, extra=list(sections)),
                                      precision, title=title_of(trace.exercise))
    from rnncalc.render.table import render as render_table
    from rnncalc.render.table import stacked

    tables = render_table(trace, step_by_step=step_by_step, precision=precision, steps=steps)
    return tables if table is None else stacked(tables, table)


def render_comparison(comparison: Comparison, fmt: str, *, precision: int = 4) -> Any:
    """``--compare-conventions``: JSON, or tables for every other format."""
    if fmt == "json":
        import json

        return json.dumps(comparison.to_dict(), indent=2) + "\n"
    from rnncalc.render.table import render_comparison as tables

    return tables(comparison, precision=precision)
