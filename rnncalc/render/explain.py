"""``--explain`` as plain text: the lines of :mod:`rnncalc.explain` under layer and step titles."""

from __future__ import annotations

from typing import Any

from rnncalc.explain import Line, line_text, where_dict

__all__ = ["render", "to_json"]


def render(lines: list[Line], *, precision: int = 4) -> str:
    """The arithmetic, one line per element; an empty selection says so, not silence."""
    if not lines:
        return "Arithmetic: nothing matches the --explain selection.\n"
    out = ["Arithmetic (positions t and units [j] count from 0)"]
    section: tuple[Any, ...] | None = None
    for line in lines:
        w = line.where
        if w.layer is None:
            key: tuple[Any, ...] = ("head", w.t)
            title = "Head" + (f" · t = {w.t}" if w.t is not None else " · final state")
        else:
            key = (w.layer, w.direction, w.t)
            title = f"Layer {w.layer} · {w.direction} · t = {w.t}"
        if key != section:
            out += ["", title]
            section = key
        out.append("  " + line_text(line, precision))
    return "\n".join(out) + "\n"


def to_json(lines: list[Line], *, precision: int = 4) -> list[dict[str, Any]]:
    """The JSON's ``"explain"``: where each line is, and its text at ``precision``."""
    return [{**where_dict(line.where), "text": line_text(line, precision)} for line in lines]

