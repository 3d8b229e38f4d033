"""``Laid`` lays a table out line by line as rich lays out the same table: every line, plain and
in colour, at any width, for cells of words, long words folded, blank and multi-line cells.
``Wrapped`` wraps plain text as rich wraps the same ``Text``."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console, Group
from rich.text import Text

from rnncalc.render.table import Laid, Wrapped, text_chunks, to_text

WORD = st.text(alphabet="abc0123456789.-[],⋮· ", min_size=0, max_size=40) | st.text(
    alphabet="ab1.- ", min_size=0, max_size=70)
CELL = st.lists(WORD, max_size=30).map(" ".join) | st.lists(WORD, max_size=4).map("\n".join)
HEADERS = st.sampled_from(["t", "quantity", "value", "dL/dh_t (sum)", "pre-activation",
                           "a long header name"])


@st.composite
def tables(draw: st.DrawFn) -> Laid:
    columns = draw(st.lists(HEADERS, min_size=1, max_size=5))
    rows = draw(st.lists(st.lists(CELL, min_size=len(columns), max_size=len(columns)),
                         max_size=6))
    sections = draw(st.sets(st.integers(0, max(0, len(rows) - 1))))
    return Laid(columns, rows, sections)


@settings(max_examples=300, deadline=None)
@given(tables(), st.integers(4, 160), st.booleans())
def test_laid_is_rich_tables_layout(table, width, color):
    def text(t: object) -> str:
        return to_text(Group(Text("above"), t, Text("below")), width=width, color=color)

    assert text(table) == text(table.rich_table())


def test_a_long_table_is_written_in_pieces_with_the_same_text():
    rows = [[str(t), "dL/dh_t", " ".join(f"{v / 7:.4f}" for v in range(t % 50))]
            for t in range(2000)]
    table = Laid(["t", "quantity", "value"], rows, set(range(0, 2000, 5)))
    chunks = list(text_chunks(Group(Text("title"), table), width=80))
    assert len(chunks) > 10  # a few hundred lines each
    assert "".join(chunks) == to_text(table.rich_table(), width=80).join(["title\n", ""])


TEXT = st.lists(WORD | st.text(alphabet="ab1.-[], ", max_size=90) | st.text(max_size=5),
                max_size=6).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.integers(1, 160), st.booleans())
def test_wrapped_is_rich_texts_wrap(text, width, color):
    def through_chunks(t: object) -> str:
        return to_text(Group(Text("above"), t, Text("below")), width=width, color=color)

    def printed(t: object) -> str:  # as any console prints it (the SVG picture's)
        console = Console(file=io.StringIO(), width=width, force_terminal=color,
                          color_system="truecolor" if color else None, highlight=False)
        console.print(Group(Text("above"), t))
        return console.file.getvalue()  # type: ignore[attr-defined]

    assert through_chunks(Wrapped(text)) == through_chunks(Text(text))
    assert printed(Wrapped(text)) == printed(Text(text))
