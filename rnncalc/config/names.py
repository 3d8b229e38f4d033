"""d2l's own weight names (``convention: d2l``), read into rnncalc's per-gate names.

d2l writes ``H = tanh(X W_xh + H W_hh + b_h)``: ``W_x?`` is ``[H_in, H]`` and ``W_h?`` ``[H, H]``,
each multiplied from the left, one bias per gate, each cell's gate letters (lstm i, f, o, c;
gru r, z, h: :func:`rnncalc.aliases.d2l_gates`). Their shapes are checked here, as written, so
that an error names the user's own key; the matrices are then transposed under rnncalc's names.
"""

from __future__ import annotations

from typing import Any

from rnncalc.aliases import d2l_gates, d2l_names
from rnncalc.config.yamlsafe import Located, Path, shape_of

__all__ = ["read_d2l"]


def read_d2l(doc: Located, cell: str | None) -> Located:
    """``doc`` with d2l's names (``W_xi``, ``W_hi``, ``b_i``, ...) under rnncalc's; unchanged
    unless the config says ``convention: d2l`` and writes some ``W_x?``."""
    data = doc.data
    if not isinstance(data, dict) or data.get("convention") != "d2l" or data.get(
            "layout", "pytorch") != "pytorch" or not isinstance(data.get("weights"), dict):
        return doc
    cell = data.get("cell") or cell
    if not isinstance(cell, str) or not d2l_gates(cell):
        return doc  # the builder says what is wrong
    weights = data["weights"]
    groups = {k: v for k, v in weights.items() if isinstance(v, dict)} or {None: weights}
    if not any(str(k).startswith("W_x") for g in groups.values() for k in g):
        return doc
    names = d2l_names(cell)
    lines = dict(doc.lines)
    new: dict[str, Any] = {}
    for key, group in groups.items():
        path: Path = ("weights",) if key is None else ("weights", key)
        out: dict[str, Any] = {}
        for name, value in group.items():
            if name not in names:
                from rnncalc.config.suggest import did_you_mean

                near = did_you_mean(name, list(names))
                hint = f"did you mean {near!r}? " if near else ""
                raise doc.error((*path, name), f"unknown d2l {cell} weight name {name!r}; {hint}"
                                f"expected one of {', '.join(names)} (d2l's names, as "
                                "convention: d2l reads them)")
            target = names[name]
            if name.startswith("W_"):
                value = _transposed(doc, (*path, name), value, _expected(data, group, name, key))
            out[target] = value
            for p, line in doc.lines.items():  # an error about the value stays on its line
                if p[:len(path) + 1] == (*path, name):
                    lines[(*path, target, *p[len(path) + 1:])] = line
        if key is None:
            new = out
        else:
            new[key] = out
    return Located({**data, "weights": new}, lines, doc.source)


def _expected(data: dict[str, Any], group: dict[str, Any], name: str,
              key: Any) -> list[int] | None:
    """The shape d2l gives ``name``: ``W_x?`` ``[H_in, H]`` (layer 0), ``W_h?`` ``[H, H]``."""
    hidden = data.get("hidden_size")
    if not isinstance(hidden, int):
        first = next((v for k, v in group.items() if str(k).startswith("W_h")), None)
        hidden = len(first) if isinstance(first, list) else 1
    if name.startswith("W_h"):
        return [hidden, hidden]
    inputs = data.get("inputs")
    if key in (None, "l0") and isinstance(inputs, list) and inputs:
        return [len(inputs[0]) if isinstance(inputs[0], list) else 1, hidden]
    return None


def _transposed(doc: Located, path: Path, value: Any, want: list[int] | None) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [[value]]  # one unit, one input
    shape = shape_of(value)
    what = "[input, hidden]" if str(path[-1]).startswith("W_x") else "[hidden, hidden]"
    meaning = f"d2l's {path[-1]} is {what}, multiplied from the left"
    if len(shape) != 2 or not all(isinstance(r, list) and len(r) == shape[1] for r in value) \
            or (want is not None and shape != want):
        raise doc.error(path, f"expected shape {want or '[rows, cols]'} ({meaning}), got "
                        f"{shape if isinstance(value, list) else repr(value)}")
    return [list(col) for col in zip(*value, strict=True)]
