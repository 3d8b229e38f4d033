r"""A LaTeX document of a trace: booktabs tables, bmatrix weights, the equations in math mode.

The sections of :mod:`rnncalc.render.report`, one function per block kind. The document needs
only ``amsmath``, ``booktabs`` and ``geometry`` (texlive-latex-base and -recommended) and compiles
with ``pdflatex``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rnncalc.model import Matrix, Vector
from rnncalc.render import fmt
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

__all__ = ["escape", "render", "render_sections"]

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[margin=2cm]{geometry}
\usepackage{amsmath}
\allowdisplaybreaks
\usepackage{booktabs}
\usepackage{longtable}
\usepackage{xcolor}
\usepackage{graphicx}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
"""

_SPECIAL = {
    "\\": r"$\backslash$", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "·": r"$\cdot$", "<": "$<$", ">": "$>$",
}


_MATH_TOKEN = re.compile(r"[_/^{}+=]|^[A-Za-z][,.:;]?$|^[-+*=]$|^\(x\)$")


def mixed(plain: str) -> str:
    """A label or caption of symbols and words as text with the symbols in math mode:
    ``dL/dh_t from the output`` -> ``$dL/dh_t$ from the output`` (words set in math mode lose
    their spaces, and ``step's`` becomes ``step'`` primes)."""
    parts: list[tuple[bool, list[str]]] = []  # (is math, tokens)
    for token in plain.split(" "):
        math = bool(_MATH_TOKEN.search(token))
        if not parts or parts[-1][0] != math:
            parts.append((math, []))
        parts[-1][1].append(token)
    return " ".join(
        "$" + " ".join("\\otimes" if t == "(x)" else re.sub(r"_([A-Za-z0-9?]{2,})", r"_{\1}", t)
                       .replace("sum_", "\\sum_").replace("_?", "_{?}") for t in tokens) + "$"
        if math else escape(" ".join(tokens)) for math, tokens in parts)


def escape(text: str) -> str:
    """Plain text made safe for LaTeX's text mode."""
    return "".join(_SPECIAL.get(ch, ch) for ch in text)


def render(trace: Trace, *, precision: int = 4, blank: bool = False, title: str | None = None,
           explain: Sequence[Any] | None = None) -> str:
    """A complete document; ``blank`` gives the student sheet (computed values left empty)."""
    from rnncalc.pictures.figures import pictures_section

    sections = build(trace, blank=blank, explain=explain, extra=(pictures_section,))
    return render_sections(sections, precision, title=title or title_of(trace.exercise))


def render_sections(sections: Iterable[Section], precision: int, *, title: str = "") -> str:
    parts = [PREAMBLE, r"\begin{document}"]
    if title:
        parts.append(r"\section*{" + escape(title) + "}")
    for section in sections:
        command = "subsection*" if section.level <= 2 else "subsubsection*"
        parts.append(f"\\{command}{{{escape(section.title)}}}")
        parts += [_block(b, precision) for b in section.blocks]
    parts.append(r"\end{document}")
    return "\n\n".join(parts) + "\n"


def _block(block: Block, precision: int) -> str:
    if isinstance(block, Text):
        return block.tex or escape(block.text)
    if isinstance(block, Equations):
        notes = "\n".join(block.notes)  # plain ASCII, aligned in columns: kept verbatim
        return _align(m.tex for m in block.lines) + (
            f"\n\n{{\\small\n\\begin{{verbatim}}\n{notes}\n\\end{{verbatim}}\n}}" if notes else "")
    if isinstance(block, Explanation):
        return _explanation(block.lines, precision)
    if isinstance(block, Figure):
        return (f"\\begin{{center}}\n{block.latex}\n\n{{\\small {escape(block.caption)}}}"
                "\n\\end{center}")
    if isinstance(block, Matrices):
        return _matrices(block)
    return _table(block, precision)


def _align(lines: Iterable[str], *, aligned: bool = False) -> str:
    """Equations one per line, aligned at their first ``=`` (or at the ``&`` already in them)."""
    rows = list(lines) if aligned else [line.replace(" = ", " &= ", 1) for line in lines]
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"


def _bmatrix(value: Matrix | Vector) -> str:
    if value and isinstance(value[0], tuple):
        rows = [" & ".join(exact(v) for v in row) for row in value]  # type: ignore[union-attr]
    else:
        rows = [" \\\\ ".join(exact(v) for v in value)]  # type: ignore[arg-type]  # a column
    return "\\begin{bmatrix} " + " \\\\ ".join(rows) + " \\end{bmatrix}"


def _matrices(block: Matrices) -> str:
    """Named matrices side by side, a few to a line (vectors as columns, as on a sheet)."""
    items = [f"{name.tex} = {_bmatrix(value)}" for name, value in block.items]
    widest = max((len(v[0]) for _, v in block.items if v and isinstance(v[0], tuple)), default=1)
    per = 4 if widest <= 3 else 3 if widest <= 4 else 2  # keep a line inside the page
    lines = [", \\quad ".join(items[i:i + per]) for i in range(0, len(items), per)]
    return "\\begin{gather*}\n" + " \\\\\n".join(lines) + "\n\\end{gather*}"


def number(text: str) -> str:
    """A number as the plain renderers write it, in math mode: ``1.013e-05`` as
    ``1.013 \\times 10^{-5}`` (``e-05`` would typeset as a subtraction)."""
    return re.sub(r"e([+-])0*(\d+)$", lambda m: " \\times 10^{" + m[1].lstrip("+") + m[2] + "}",
                  text)


def _numbers(cell: Numbers, precision: int) -> str:
    text = [exact(v) if cell.exact else number(fmt(v, precision)) for v in cell.values]
    if not cell.vector:
        return f"${text[0]}$"
    comma = ",\\allowbreak\\ " if len(text) > _WRAP else ",\\ "
    return "$[" + comma.join(text) + "]$"


def _cell(cell: Entry, precision: int, wraps: bool = False) -> str:
    if isinstance(cell, Math):
        return f"${cell.tex}$" if cell.tex != cell.plain else mixed(cell.plain)
    if isinstance(cell, Blank):  # room to write in: a taller row, ~4.5em per number unless wrapped
        return "\\rule{0pt}{3.2ex}" + ("" if wraps else f"\\hspace{{{4.5 * cell.size:.1f}em}}")
    if isinstance(cell, Numbers):
        return _numbers(cell, precision)
    return escape(cell)


def _length(cell: Entry) -> int:
    return len(cell.values) if isinstance(cell, Numbers) else cell.size \
        if isinstance(cell, Blank) else 1


_SIZES = ((3, ""), (4, "\\small"), (5, "\\footnotesize"), (10**9, "\\scriptsize"))
_WRAP = 5  # vectors longer than this wrap inside their column
_LONG = 30  # tables of more rows than this may run over a page


def _table(table: Table, precision: int) -> str:
    width = [max((_length(c) for c in column), default=1)
             for column in zip(*table.rows, strict=True)] or [1] * len(table.columns)
    size = next(cmd for limit, cmd in _SIZES if max(width) <= limit)  # long vectors: smaller type
    wide = [w > _WRAP for w in width]  # too long for a line even so: a column that wraps
    share = f"{0.8 / max(1, sum(wide)):.2f}\\linewidth"
    spec = "".join(f"p{{{share}}}" if w else "r" if i == 0 else "l" for i, w in enumerate(wide))
    long = len(table.rows) > _LONG  # a longtable breaks across pages; a tabular would overflow
    head = " & ".join(_cell(c, precision) for c in table.columns) + " \\\\"
    lines = (["{" + size, "\\begin{longtable}{" + spec + "}", "\\toprule", head, "\\midrule",
              "\\endhead"] if long else
             ["\\begin{center}" + size, "\\begin{tabular}{" + spec + "}", "\\toprule", head,
              "\\midrule"])
    for i, row in enumerate(table.rows):
        lines.append(" & ".join(_cell(c, precision, w) for c, w in zip(row, wide, strict=True))
                     + " \\\\")
        if i in table.groups:
            lines.append("\\addlinespace")
    if long:
        lines += ["\\bottomrule", "\\end{longtable}", "}"]
        return "\n".join(lines) + ("\n\n" + mixed(table.caption) if table.caption else "")
    lines += ["\\bottomrule", "\\end{tabular}"]
    if table.caption:
        lines.append("\\\\[0.3em] " + mixed(table.caption))
    lines.append("\\end{center}")
    return "\n".join(lines)


# --------------------------------------------------------------- --explain, substituted equations

_FUNCTIONS = {"sigmoid": "\\sigma", "tanh": "\\tanh", "exp": "\\exp", "relu": "\\mathrm{relu}"}


def _explanation(lines: Sequence[Any], precision: int) -> str:
    """The lines of :mod:`rnncalc.explain` as aligned equations, under their layer and step."""
    if not lines:
        return "Nothing matches the \\texttt{--explain} selection."
    parts: list[str] = []
    group: list[str] = []
    heading: str | None = None
    for line in lines:
        w = line.where
        title = (f"Layer {w.layer} · {w.direction} · t = {w.t}" if w.layer is not None
                 else "Head" + (f" · t = {w.t}" if w.t is not None else " · final state"))
        if title != heading:
            if group:
                parts.append(_align(group, aligned=True))
            parts.append("\\textbf{" + escape(title) + "}")
            heading, group = title, []
        chain = [expr_tex(e, precision) for e in line.chain]
        group.append(f"{_sym(line.lhs)} &= " + " \\\\\n  &= ".join(chain))  # one = per row
    parts.append(_align(group, aligned=True))
    return "\n\n".join(parts)


def _sym(s: Any) -> str:
    name = s.name if len(s.name) == 1 else f"\\mathrm{{{s.name}}}"
    out = name + (f"_{{{s.t}}}" if s.t is not None else "")
    return out + (f"[{s.unit}]" if s.unit is not None else "")


def expr_tex(e: Any, precision: int, *, top: bool = True) -> str:
    """One :mod:`rnncalc.explain` expression in math mode; its plain twin is ``explain.to_text``."""
    from rnncalc import explain as ex

    if isinstance(e, ex.Num):
        text = number(ex.compact(e.value, precision))
        return text if top or not text.startswith("-") else f"({text})"
    if isinstance(e, ex.Sym):
        return _sym(e)
    if isinstance(e, ex.Prod):
        if all(isinstance(f, ex.Num) for f in e.factors):
            return "".join(f"({expr_tex(f, precision)})" for f in e.factors)
        return " \\cdot ".join(
            f"({expr_tex(f, precision)})" if isinstance(f, ex.Num | ex.Sum)
            else expr_tex(f, precision, top=False) for f in e.factors)
    if isinstance(e, ex.Sum):
        groups = [" + ".join(expr_tex(t, precision, top=False) for t in g) for g in e.groups if g]
        return " \\;+\\; ".join(groups)
    if isinstance(e, ex.Call):
        fn = _FUNCTIONS.get(e.fn, f"\\operatorname{{{e.fn}}}")
        return f"{fn}\\left({expr_tex(e.arg, precision)}\\right)"
    if isinstance(e, ex.Vec):
        return ", ".join(expr_tex(v, precision) for v in e.items)
    if isinstance(e, ex.Diff):
        return f"({expr_tex(e.left, precision)} - {expr_tex(e.right, precision, top=False)})"
    return f"\\frac{{{expr_tex(e.num, precision)}}}{{{expr_tex(e.den, precision)}}}"
