"""Which tensors of a whole model's state_dict are the recurrent net, and which the head.

A model's own ``state_dict`` names its submodules: ``rnn.weight_ih_l0``, ``fc.weight``,
``fc.bias``. The recurrent module is the prefix holding ``weight_ih_l0`` (the only one, or the one
``weights_prefix:`` names); a ``Linear`` beside it (a prefix holding exactly ``weight`` ``[out,
in]`` and perhaps ``bias``) is the head. Errors list the prefixes found.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Split", "split_modules"]


class Split:
    """The recurrent module's tensors under their own names, and a Linear head (or ``None``)."""

    def __init__(self, recurrent: dict[str, Any], head: dict[str, Any] | None,
                 head_name: str | None) -> None:
        self.recurrent, self.head, self.head_name = recurrent, head, head_name


def _prefixes(weights: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, value in weights.items():
        prefix, _, name = str(key).rpartition(".")
        out.setdefault(prefix, {})[name] = value
    return out


def _shown(prefixes: list[str]) -> str:
    return ", ".join(repr(p or "(none)") for p in prefixes)


def split_modules(weights: dict[str, Any], prefix: str | None) -> Split:
    """Split ``weights`` (every tensor of the file, by its full name). Raises ``ValueError``
    with the message to show (the caller knows the file and the line)."""
    modules = _prefixes(weights)
    if list(modules) == [""] and prefix is None:
        return Split(weights, None, None)
    recurrent = [p for p, names in modules.items() if "weight_ih_l0" in names]
    if prefix is not None:
        if prefix not in modules:
            raise ValueError(f"weights_prefix: no module {prefix!r} in the file; it holds "
                             f"{_shown(list(modules))}")
        chosen = prefix
    elif len(recurrent) == 1:
        chosen = recurrent[0]
    elif not recurrent:
        raise ValueError(f"no recurrent module (a weight_ih_l0) in the file; its modules are "
                         f"{_shown(list(modules))}")
    else:
        raise ValueError(f"several recurrent modules ({_shown(recurrent)}); name one with "
                         "weights_prefix:")
    linears = [p for p, names in modules.items() if p != chosen and _is_linear(names)]
    head = modules[linears[0]] if len(linears) == 1 else None
    return Split(modules[chosen], head, linears[0] if head is not None else None)


def _is_linear(names: dict[str, Any]) -> bool:
    W = names.get("weight")
    return set(names) <= {"weight", "bias"} and isinstance(W, list) and bool(W) and all(
        isinstance(row, list) for row in W)
