"""Markdown (GitHub-flavoured) of a trace: the sections of :mod:`rnncalc.render.report` as text.

One function per block kind; :func:`render_sections` formats any list of sections, so a feature
with its own sections (gradients, explanations) reuses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rnncalc.model import Matrix, Vector
from rnncalc.render import fmt, fmt_vector
from rnncalc.render.report import (
    Blank,
    Block,
    Entry,
    Equations,
    Explanation,
    Figure,
    Math,
    Matrices,
    Numbers,
    Section,
    Table,
    Text,
    build,
    exact,
    title_of,
)

if TYPE_CHECKING:
    from rnncalc.trace import Trace

__all__ = ["render", "render_sections"]


def render(trace: Trace, *, precision: int = 4, blank: bool = False, title: str | None = None,
           explain: Sequence[Any] | None = None) -> str:
    """The whole report; ``blank`` gives the student sheet (computed values left empty)."""
    sections = build(trace, blank=blank, explain=explain)
    return render_sections(sections, precision, title=title or title_of(trace.exercise))


def render_sections(sections: Iterable[Section], precision: int, *, title: str = "") -> str:
    parts = [f"# {_escape(title)}"] if title else []
    for section in sections:
        parts.append("#" * section.level + " " + _escape(section.title))
        parts += [_block(b, precision) for b in section.blocks]
    return "\n\n".join(parts) + "\n"


def _escape(text: str) -> str:
    """Only what would change the meaning; ``_`` inside words is literal in GitHub's markdown."""
    return "".join("\\" + ch if ch in "\\`*|<" else ch for ch in text)


def _block(block: Block, precision: int) -> str:
    if isinstance(block, Text):
        return _escape(block.text)
    if isinstance(block, Equations):
        lines = [m.plain for m in block.lines] + ([""] if block.notes else []) + list(block.notes)
        return "```text\n" + "\n".join(lines) + "\n```"
    if isinstance(block, Figure):  # a picture: in --format html and latex
        return f"*{_escape(block.caption)}*"
    if isinstance(block, Explanation):
        from rnncalc.render.explain import render as render_explain

        return "```text\n" + render_explain(list(block.lines), precision=precision) + "```"
    if isinstance(block, Matrices):
        return "```text\n" + "\n".join(
            f"{name.plain} = {_given(m)}" for name, m in block.items) + "\n```"
    return _table(block, precision)


def _given(value: Matrix | Vector) -> str:
    if value and isinstance(value[0], tuple):
        return "[" + ", ".join(_given(row) for row in value) + "]"  # type: ignore[arg-type]
    return "[" + ", ".join(exact(v) for v in value) + "]"  # type: ignore[arg-type]


def _cell(cell: Entry, precision: int) -> str:
    if isinstance(cell, Math):
        return f"`{cell.plain}`"
    if isinstance(cell, Blank):
        return " "
    if isinstance(cell, Numbers):
        if cell.exact:
            text = "[" + ", ".join(exact(v) for v in cell.values) + "]"
        elif cell.vector:
            text = fmt_vector(list(cell.values), precision)
        else:
            text = fmt(cell.values[0], precision)
        return text
    return _escape(cell) if cell else " "


def _table(table: Table, precision: int) -> str:
    head = [_cell(c, precision) for c in table.columns]
    lines = ["| " + " | ".join(head) + " |",
             "| " + " | ".join("---:" if i == 0 else "---" for i in range(len(head))) + " |"]
    lines += ["| " + " | ".join(_cell(c, precision) for c in row) + " |" for row in table.rows]
    text = "\n".join(lines)
    if table.caption:
        text += "\n\n" + _escape(table.caption)
    return text
