"""Rich tables of a trace: one table per layer and direction, then the head.

The only module besides the CLI that uses the terminal library.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich._wrap import divide_line
from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment, Segments
from rich.table import Table
from rich.text import Text

from rnncalc.cells import CELLS
from rnncalc.render import fmt_input, fmt_vector
from rnncalc.steps import StepsError, gap_size, shown
from rnncalc.trace import DirectionTrace, HeadTrace, Trace

if TYPE_CHECKING:
    from rnncalc.compare import Comparison

__all__ = ["Header", "Laid", "render", "render_comparison", "text_chunks", "to_svg",
           "to_text"]

EXTRA_NAMES = {"m": "m_t  o*act(c_t)"}  # intermediates beyond the gates (lstm projection)


class Header:
    """A column header that wraps between words or after a hyphen, never inside a word: in a
    narrow terminal "pre-activation" is "pre-" over "activation", not "pre-activ" over "ation"."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pieces = re.findall(r"\s*[^\s-]*-?", text.strip())[:-1] or [text]

    @property
    def min_width(self) -> int:
        return max(len(p.strip()) for p in self.pieces)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.min_width, len(self.text))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = [""]
        for piece in self.pieces:
            if lines[-1] and len(lines[-1] + piece) > options.max_width:
                lines.append("")
            lines[-1] += piece if lines[-1] else piece.strip()
        yield Text("\n".join(lines), style="bold")


#: Lines of a :class:`Laid` table held at a time while it is written.
PIECE = 500
#: A tag of rich's markup: ``[bold]``, ``[/]``, ``[#ff0000]``, ``[@click]``.
_TAG = re.compile(r"\[[a-z#/@]")


class Laid:
    """A table of plain-text cells, laid out line by line exactly as rich lays out the same
    table built by :func:`_table` (its widths, every cell folded between words), without rich's
    work for every cell: a 64-unit LSTM's gradient table has 70,000 lines, which rich lays out
    at about 0.1 ms each. The header, and a table whose text rich would read as markup, go
    through rich itself; ``rows`` ending a section (a blank line after them) are ``sections``."""

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[str]],
                 sections: Collection[int] = ()) -> None:
        self.columns, self.rows, self.sections = tuple(columns), rows, sections

    def rich_table(self) -> Table:
        """The same table, built for rich to lay out."""
        table = _table(*self.columns)
        for i, row in enumerate(self.rows):
            table.add_row(*row, end_section=i in self.sections)
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.pieces(console, options)

    def pieces(self, console: Console, options: ConsoleOptions) -> Iterator[RenderableType]:
        """The table a few hundred lines at a time, each piece its lines' segments: written as
        they come (:func:`text_chunks`), a long table is never held whole as segments."""
        if any(_markup(c) for row in self.rows for c in row):
            yield self.rich_table()
            return
        n = len(self.columns)
        header = _table(*self.columns)
        measured = [_measure(column) for column in zip(*self.rows, strict=True)] or [(0, 0)] * n
        header.add_row(*[_Measured(lo, hi) for lo, hi in measured])
        widths = header._calculate_column_widths(  # rich's own, on each column's measurement
            console, options.update_width(options.max_width - header._extra_width))
        _, right, _, left = header.padding
        pads = [(0 if k == 0 else left, 0 if k == n - 1 else right) for k in range(n)]
        if sum(widths) > options.max_width - header._extra_width or any(
                w - a - b < 1 for w, (a, b) in zip(widths, pads, strict=True)):
            yield self.rich_table()  # narrower than the headers, or than a column's padding
            return
        header.rows.clear()
        for column, width in zip(header.columns, widths, strict=True):
            column._cells.clear()
            column.width = width - header._get_padding_width(column._index)
        *top, bottom = Segment.split_lines(console.render(header, options))
        # the top edge, the header, its rule (the bottom edge last)
        yield Segments([segment for line in top for segment in (*line, Segment.line())])
        folds = [_Fold(w - a - b, "right" if k == 0 else "left", a, b, lo <= w - a - b)
                 for k, (w, (a, b), (lo, _)) in enumerate(zip(widths, pads, measured,
                                                              strict=True))]
        blanks = [" " * w for w in widths]
        bx = box.SIMPLE_HEAD.substitute(options, safe=console.safe_box)
        rule = bx.get_row(widths, "row", edge=True)
        out: list[str] = []
        for i, row in enumerate(self.rows):
            last = i == len(self.rows) - 1
            edge_l, edge_r, divider = (bx.foot_left, bx.foot_right, bx.foot_vertical) if last \
                else (bx.mid_left, bx.mid_right, bx.mid_vertical)
            cells = [fold(c) for fold, c in zip(folds, row, strict=True)]
            height = max(map(len, cells))
            for cell, blank in zip(cells, blanks, strict=True):
                cell += [blank] * (height - len(cell))
            out += [edge_l + divider.join(line) + edge_r for line in zip(*cells, strict=True)]
            if i in self.sections and not last:
                out.append(rule)
            if len(out) > PIECE:
                yield Segments([Segment("".join(line + "\n" for line in out))])
                out = []
        yield Segments([Segment("".join(line + "\n" for line in out)), *bottom, Segment.line()])


def _markup(text: str) -> bool:
    """Whether rich would not print ``text`` as it is: markup, emoji codes (``:smile:``), tabs
    (a character looked for at a time: one pattern of them all read 2 MB of numbers slowly)."""
    return "\\" in text or ":" in text or "\t" in text or _TAG.search(text) is not None


class _Measured:
    """A column's measurement as rich takes it from text: its widest word, its longest line."""

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.lo, self.hi)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        return iter(())  # measured, never drawn


def _measure(cells: Sequence[str]) -> tuple[int, int]:
    lo = hi = 0
    for text in cells:
        size = len if text.isascii() and text.isprintable() else cell_len
        longest = max(map(size, text.splitlines()), default=0)
        hi = max(hi, longest)
        lo = max(lo, max(map(size, text.split()), default=longest))
    return lo, hi


_WORD = re.compile(r"\s*\S+\s*")


def _breaks(line: str, width: int) -> list[int]:
    """Where rich's ``divide_line`` breaks ``line`` (folding), for ASCII text without its
    per-word cell measuring (a 64-unit LSTM's gradient table has 700,000 words)."""
    if not (line.isascii() and line.isprintable()):  # (control characters take no cell)
        return divide_line(line, width, fold=True)
    breaks = []
    offset = 0
    for word in _WORD.finditer(line):
        start, end = word.span()
        length = len(word.group().rstrip())
        if width - offset >= length:
            offset += end - start
        elif length > width:  # folded: each piece of it on a line of its own
            for piece in range(start, end, width):
                if piece:
                    breaks.append(piece)
                offset = min(width, end - piece)
        elif offset and start:
            breaks.append(start)
            offset = end - start
    return breaks


class _Fold:
    """A column's cells folded between words into lines of ``width`` cells (a word longer than
    that across lines), justified, padded: rich's ``Text.wrap`` with ``overflow="fold"``.

    ``words_fit``: no word of the column is wider than ``width`` (its measured widest word), so
    a line of plain words folds by one regular expression: the most words that fit, from a
    word's start to a word's end (a gradient table's 5 MB of numbers, word by word, took 1 s).
    """

    def __init__(self, width: int, justify: str, left: int, right: int, words_fit: bool) -> None:
        self.width, self.justify, self.words_fit = width, justify, words_fit
        self.left, self.right = " " * left, " " * right
        self.pad = f"{self.left}{{:{'>' if justify == 'right' else '<'}{width}}}{self.right}".format
        # from a word's start, at most `width` characters, to a word's end
        self.line = re.compile(rf"\S.{{0,{width - 1}}}(?<=\S)(?=\s|$)")

    def __call__(self, text: str) -> list[str]:
        out: list[str] = []
        for line in text.split("\n"):
            if self.words_fit and line.isascii() and line.isprintable() and not line[:1].isspace():
                out += map(self.pad, self.line.findall(line) or [""])
            else:
                out += self._by_word(line)
        return out

    def _by_word(self, line: str) -> list[str]:
        out = []
        width = self.width
        cuts = [0, *_breaks(line, width), len(line)]
        for a, b in itertools.pairwise(cuts):
            piece = line[a:b]
            if self.justify == "right" or len(piece) > width:  # (left: whitespace past the width)
                piece = piece.rstrip()
            size = cell_len(piece)
            if size > width:
                piece, size = set_cell_size(piece, width), width
            pad = " " * (width - size)
            piece = pad + piece if self.justify == "right" else piece + pad
            out.append(self.left + piece + self.right)
        return out


class Wrapped:
    """Plain text (no style, no markup) wrapped as rich wraps the same :class:`~rich.text.Text`:
    each line between words into the width, a word longer than that folded across lines; the
    lines written as they are, without rich's work for every word (a 64-unit LSTM's given
    weights are 19,000 numbers). Text with tabs, or anything but printable ASCII, goes through
    rich itself."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.pieces(console, options)

    def pieces(self, console: Console, options: ConsoleOptions) -> Iterator[RenderableType]:
        width = options.max_width
        if (options.justify or options.overflow or options.no_wrap or not self.text.isascii()
                or not self.text.replace("\n", "").isprintable()):
            yield Text(self.text)
            return
        out = []
        for line in self.text.split("\n"):
            cuts = [0, *_breaks(line, width), len(line)]
            # (rich keeps a line's trailing blanks up to the width)
            out += [line[a:b][:width] for a, b in itertools.pairwise(cuts)]
        yield Segments([Segment("".join(line + "\n" for line in out))])


def to_text(renderable: RenderableType, *, width: int | None = None, color: bool = False) -> str:
    """Render to a string: ``color`` only for a terminal; ``width`` fixed for files and tests."""
    return "".join(text_chunks(renderable, width=width, color=color))


def text_chunks(renderable: RenderableType, *, width: int | None = None, color: bool = False
                ) -> Iterator[str]:
    """:func:`to_text` piece by piece, to be written as it comes: each part of a group alone, a
    :class:`Laid` table a few hundred lines at a time (a 64-unit LSTM's gradient table has
    70,000 lines: as one piece, rich's segments of it took ten times its text)."""
    console = Console(
        file=io.StringIO(), width=width or 80, force_terminal=color, no_color=not color,
        color_system="auto" if color else None, highlight=False, soft_wrap=False,
    )
    file: io.StringIO = console.file  # type: ignore[assignment]
    for part in _parts(renderable, console):
        if isinstance(part, Segments) and not (color and any(
                segment.style or segment.control for segment in part.segments)):
            # a Laid table's lines: in colour too, lines without a style are written as they are
            text = "".join(segment.text for segment in part.segments)
        else:
            console.print(part)
            text = file.getvalue()
            file.seek(0)
            file.truncate()
        yield text if color else "".join(line.rstrip() + "\n" for line in text.splitlines())


def _parts(renderable: RenderableType, console: Console) -> Iterator[RenderableType]:
    if isinstance(renderable, Group):
        for part in renderable.renderables:
            yield from _parts(part, console)
    elif isinstance(renderable, Laid | Wrapped):
        yield from renderable.pieces(console, console.options)
    else:
        yield renderable


def to_svg(renderable: RenderableType, *, width: int = 100, title: str = "rnncalc") -> str:
    """The tables as an SVG picture (rich's own export: a terminal window with the text)."""
    console = Console(file=io.StringIO(), width=width, record=True, highlight=False,
                      soft_wrap=False, force_terminal=True, color_system="truecolor")
    console.print(renderable)
    return console.export_svg(title=title)


def render(trace: Trace, *, step_by_step: bool = False, precision: int = 4,
           steps: str | None = None) -> RenderableType:
    """Everything a user reads about a run, as one rich renderable.

    ``steps`` selects the steps shown (:mod:`rnncalc.steps`; default: all of a short run,
    the first and last few of a long one)."""
    ex = trace.exercise
    try:
        by_position = shown(range(ex.steps), steps)
    except StepsError as exc:  # which run, when `rnncalc run` shows many
        raise StepsError(f"{ex.source}: {exc}") from None
    parts: list[RenderableType] = [_header(trace), Text(""), *_given(trace)]
    for layer in trace.layers:
        for tr in layer.directions.values():
            rows = shown(tr.positions, steps)
            table = (_steps_detail(tr, ex.cell, precision, rows) if step_by_step
                     else _steps(tr, precision, rows))
            parts.append(_section(_title(tr), table))
    if ex.num_layers * ex.num_directions > 1:
        parts.append(_finals(trace, precision))
    if trace.head is not None:
        parts.append(_head(trace.head, trace, precision, by_position))
    return Group(*parts)


def _header(trace: Trace) -> Text:
    ex = trace.exercise
    layers = f"{ex.num_layers} layer" + ("s" if ex.num_layers > 1 else "")
    direction = ex.direction + (f" (merge {ex.merge_mode})" if ex.merge_mode != "concat"
                                and ex.bidirectional else "")
    act = f" · {ex.formulation.activations[0]}" if CELLS[ex.cell].nonlinearity else ""
    bias = "" if ex.bias else " · no bias"
    proj = f" · proj {ex.proj_size}" if ex.proj_size else ""
    text = Text()
    if ex.title:
        text.append(ex.title + "\n", style="bold")
    text.append(
        f"{CELLS[ex.cell].title}{act}{bias} · input {ex.input_size} · hidden {ex.hidden_size}"
        f"{proj} · {layers} · {direction} · {ex.steps} steps · {ex.dtype}"
    )
    text.append(f"\nformulation: {ex.formulation.summary()}", style="dim")
    for note in ex.notes:
        text.append(f"\nnote: {note}", style="dim")
    return text


def _given(trace: Trace) -> list[RenderableType]:
    """The numbers the exercise gives besides its inputs (those are the tables' x_t): the
    initial states when not zero, the weights as a sheet names them, the head; as markdown and
    LaTeX show them (:func:`rnncalc.render.report.exercise_section`)."""
    from rnncalc.render.report import Matrices, exercise_section
    from rnncalc.render.report import Text as Words

    lines = []
    for block in exercise_section(trace)[0].blocks[2:]:
        if isinstance(block, Words) and block.text not in ("Initial states are zero.",
                                                           *trace.exercise.notes):
            lines.append(block.text)
        elif isinstance(block, Matrices) and not block.items[0][0].plain.startswith("x_"):
            lines += [f"  {name.plain} = {_exact(value)}" for name, value in block.items]
    return [Text("Given", style="bold"), Wrapped("\n".join(lines)), Text("")]


def _exact(value: tuple) -> str:  # type: ignore[type-arg]
    """A given matrix or vector as written: ``[[1, 0], [0, -0.5]]``."""
    if value and isinstance(value[0], tuple):
        return "[" + ", ".join(fmt_input(list(row)) for row in value) + "]"
    return fmt_input(list(value))


def _title(tr: DirectionTrace) -> str:
    order = " (computed from the last position to the first)" if tr.direction == "backward" else ""
    return f"Layer {tr.layer} · {tr.direction}{order}"


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for i, column in enumerate(columns):
        header = Header(column)
        table.add_column(header, justify="right" if i == 0 else "left", overflow="fold",
                         min_width=header.min_width)
    return table


def _section(title: str, table: Table, caption: str = "") -> Group:
    """A bold title line, the table, an optional caption: plain text, never read as markup."""
    parts: list[RenderableType] = [Text(title, style="bold"), table]
    if caption:
        parts.append(Text(caption, style="dim"))
    return Group(*parts)


def _steps(tr: DirectionTrace, precision: int, rows: list[int | None]) -> Table:
    columns = ["t", "x_t" if tr.layer == 0 else "input", "h_t"]
    columns += ["c_t"] if tr.c is not None else []
    table = _table(*columns)
    for i, k in enumerate(rows):
        if k is None:
            table.add_row("⋮", _gap_text(rows, i, len(tr.positions)))
            continue
        step = tr.step(k)
        row = [str(step.t), _x(tr, step.x.tolist(), precision),
               fmt_vector(step.h.tolist(), precision)]
        if step.c is not None:
            row.append(fmt_vector(step.c.tolist(), precision))
        table.add_row(*row)
    return table


def _x(tr: DirectionTrace, x: list[float], precision: int) -> str:
    """Layer 0 reads the given inputs (as written); a layer above, computed numbers."""
    return fmt_input(x) if tr.layer == 0 else fmt_vector(x, precision)


def _steps_detail(tr: DirectionTrace, cell: str, precision: int, rows: list[int | None]) -> Table:
    table = _table("t", "quantity", "pre-activation", "activation")
    names = CELLS[cell].labels
    for i, k in enumerate(rows):
        if k is None:
            table.add_row("⋮", _gap_text(rows, i, len(tr.positions)), end_section=True)
            continue
        step = tr.step(k)
        table.add_row(str(step.t), "x_t" if tr.layer == 0 else "input",
                      _x(tr, step.x.tolist(), precision), "")
        for gate in step.pre:
            if gate == "h":  # the one gate is h_t itself (rnn): its row below
                continue
            table.add_row("", names[gate], fmt_vector(step.pre[gate].tolist(), precision),
                          fmt_vector(step.act[gate].tolist(), precision))
        if step.c is not None:
            table.add_row("", "c_t", "", fmt_vector(step.c.tolist(), precision))
        for name, value in step.extra.items():
            table.add_row("", EXTRA_NAMES.get(name, name), "",
                          fmt_vector(value.tolist(), precision))
        pre_h = fmt_vector(step.pre["h"].tolist(), precision) if "h" in step.pre else ""
        table.add_row("", "h_t", pre_h, fmt_vector(step.h.tolist(), precision), end_section=True)
    return table


def _finals(trace: Trace, precision: int) -> Group:
    ex = trace.exercise
    table = _table("k", "layer", "direction", "h_n")
    if trace.c_n is not None:
        table.add_column("c_n", overflow="fold")
    for k, h in enumerate(trace.h_n.tolist()):
        row = [str(k), str(k // ex.num_directions), ex.directions[k % ex.num_directions],
               fmt_vector(h, precision)]
        if trace.c_n is not None:
            row.append(fmt_vector(trace.c_n[k].tolist(), precision))
        table.add_row(*row)
    return _section("Final states (PyTorch's h_n order: layer by layer, forward then backward)",
                    table)


def _gap_text(rows: list[int | None], i: int, steps: int) -> str:
    n = gap_size(rows, i, steps)
    return f"{n} step{'s' if n != 1 else ''} not shown"


def _head(head: HeadTrace, trace: Trace, precision: int, rows: list[int | None]) -> Group:
    ex = trace.exercise
    bidir = ex.bidirectional
    join = {"concat": "[{f}, {b}]", "sum": "({f} + {b})", "mul": "({f} * {b})",
            "ave": "({f} + {b})/2"}[ex.merge_mode]
    on = join.format(f="h_forward_t", b="h_backward_t") if bidir else "h_t"
    final = (join.format(f="h_forward at T-1", b="h_backward at 0") + " (h_n)" if bidir
             else "h at 0 (computed last)" if ex.reverse else "h_{T-1}")
    if head.task == "regression":
        table = _table("t", "y")
        ys = head.logits_t.tolist()
        for i, t in enumerate(rows):
            if t is None:
                table.add_row("⋮", _gap_text(rows, i, len(ys)))
            else:
                table.add_row(str(t), fmt_vector(ys[t], precision))
        table.add_row("final", fmt_vector(head.logits.tolist(), precision))
        return _section(f"Head: regression, y_t = W {on} + b", table,
                        f"final: y = W {final} + b")
    activation = "sigmoid" if head.logits.shape[-1] == 1 else "softmax"
    table = _table("t", "logits", "probabilities", "label")
    if head.task == "labeling":
        assert head.probs_t is not None and head.labels_t is not None
        zs, ps, ks = head.logits_t.tolist(), head.probs_t.tolist(), head.labels_t
        lines: list[tuple[str, list[float], list[float], int] | None] = [
            None if t is None else (str(t), zs[t], ps[t], ks[t]) for t in rows]
    else:
        assert head.probs is not None and head.label is not None
        lines = [("final", head.logits.tolist(), head.probs.tolist(), head.label)]
    for i, line in enumerate(lines):
        if line is None:
            table.add_row("⋮", _gap_text(rows, i, len(head.logits_t)))
            continue
        at, z, p, k = line
        label = f"{k} ({head.names[k]})" if head.names else str(k)
        table.add_row(at, fmt_vector(z, precision), fmt_vector(p, precision), label)
    source = on if head.task == "labeling" else final
    return _section(f"Head: {head.task}, p = {activation}(W {source} + b), label = "
                    + ("[p >= 0.5]" if activation == "sigmoid" else "argmax p"), table)


def render_comparison(comparison: Comparison, *, precision: int = 4) -> RenderableType:
    """``--compare-conventions``: the final states under each formulation, side by side.

    A value that differs from the config's own run is marked ``*``.
    """
    first = comparison.variants[0].trace
    ex = first.exercise
    intro = Text()
    if ex.title:
        intro.append(ex.title + "\n", style="bold")
    intro.append(f"{CELLS[ex.cell].title} under each convention (same weights; options this config "
                 "sets are kept)\n")
    for k, v in enumerate(comparison.variants):
        intro.append(f"\n({k}) {v.label}", style="bold")
        intro.append(f"\n    {v.formulation.details()}")
    table = _table("quantity", *(f"({k})" for k in range(len(comparison.variants))))
    rows: list[tuple[str, str, list[list[float]]]] = []
    for k in range(len(first.h_n)):
        where = f"l{k // ex.num_directions} {ex.directions[k % ex.num_directions]}"
        rows.append((f"h_n {where}", "h_n", [v.trace.h_n[k].tolist() for v in comparison.variants]))
        if first.c_n is not None:
            rows.append((f"c_n {where}", "c_n",
                         [v.trace.c_n[k].tolist() for v in comparison.variants]))  # type: ignore[index]
    if first.head is not None:
        from rnncalc.compare import _head_output

        outs = [_head_output(v.trace) for v in comparison.variants]
        if outs[0].dim() == 1:
            rows.append((f"head {first.head.task}", "head", [o.tolist() for o in outs]))
        else:
            rows += [(f"head t={t}", "head", [o[t].tolist() for o in outs])
                     for t in range(len(outs[0]))]
    for name, quantity, values in rows:
        cells = [fmt_vector(values[0], precision)]
        for v, value in zip(comparison.variants[1:], values[1:], strict=True):
            mark = " *" if v.differs[quantity] and value != values[0] else ""
            cells.append(fmt_vector(value, precision) + mark)
        table.add_row(name, *cells)
    differ = [f"({k})" for k, v in enumerate(comparison.variants) if any(v.differs.values())]
    caption = ("* differs from (0), this config's answer: " + ", ".join(differ) + " change it"
               if differ else "every convention gives this config's answer")
    return Group(intro, Text(""), _section("Final states", table, caption))


def stacked(*parts: Any) -> Group:
    """Renderables one below the other (the tables, then what a command adds)."""
    return Group(*parts)
