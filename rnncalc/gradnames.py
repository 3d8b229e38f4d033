"""Gradient totals in the layout the config wrote its weights in, beside PyTorch's names.

A student who wrote Coursera's ``W_f`` on ``[a_prev; x]`` reads ``dW_f`` as a matrix of the same
shape, not ``weight_hh_l0[8][1]``. A gradient has its weight's shape, so the totals are written
exactly as ``rnncalc convert`` writes weights (:func:`rnncalc.config.layouts.write_weights`): per
gate (``W_if``), concat (``W_f`` on the concatenation), Keras (``kernel``, ...), ONNX (``W``,
``R``, ``B``, ``P``), d2l (``W_xi``, ...), each name prefixed with ``d``.

A one-bias layout's ``b`` stands for ``bias_ih`` alone (``bias_hh`` is zero and not a parameter
there), so its gradient is ``bias_ih``'s, not the sum that ``convert`` writes for weights.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rnncalc.aliases import d2l_names
from rnncalc.model import DIRECTIONS, Exercise, LayerWeights, param_name

__all__ = ["in_layout"]

_ONE_BIAS = ("concat", "d2l")


def in_layout(ex: Exercise, params: dict[str, Any]) -> dict[str, Any] | None:
    """``{"layout": ..., "grads": {dNAME: ...}}`` for a config not in PyTorch's state_dict names;
    ``None`` for one that is (its names are the totals' own)."""
    layout, orientation, concat, used = ex.written
    if layout == "pytorch":
        return None
    from rnncalc.config.layouts import keras_two_biases, write_weights

    # a per-gate sheet with one bias per gate (every b_h? zero, or left out) has no b_h? either
    one_bias = layout in _ONE_BIAS or (
        layout == "keras" and not keras_two_biases(ex)) or (
        layout == "per-gate" and not any(v for row in ex.weights for w in row
                                         for v in (w.bias_hh or ())))
    rows = []
    for k, given in enumerate(ex.weights):
        row = []
        for d, _ in zip(DIRECTIONS, given, strict=False):
            name = d if ex.bidirectional else "forward"  # a reverse-only net: forward names

            def grad(kind: str, *, layer: int = k, direction: str = name) -> Any:
                value = params.get(param_name(kind, layer, direction))
                return None if value is None else _plain(value.tolist())

            bias_hh = grad("bias_hh")
            if one_bias and bias_hh is not None:
                bias_hh = [0.0] * len(bias_hh)
            row.append(LayerWeights(grad("weight_ih"), grad("weight_hh"), grad("bias_ih"),
                                    bias_hh, grad("weight_hr"), grad("peephole")))
        rows.append(tuple(row))
    target = "per-gate" if layout == "d2l" else layout
    written, _ = write_weights(replace(ex, weights=tuple(rows)), target,
                               orientation="columns" if layout == "d2l" else orientation,
                               concat=tuple(concat) or ("h", "x"))  # type: ignore[arg-type]
    if layout == "d2l":
        back = {ours: theirs for theirs, ours in d2l_names(ex.cell).items()}
        written = _renamed(written, back)
    elif used:  # Coursera's W_c for W_g: the names the config used
        written = _renamed(written, dict(used), keep=True)
    return {"layout": layout, "grads": _prefixed(written)}


def _plain(value: Any) -> Any:
    return tuple(_plain(v) for v in value) if isinstance(value, list) else value


def _renamed(group: dict[str, Any], names: dict[str, str], keep: bool = False
             ) -> dict[str, Any]:
    """``group`` under ``names``; the names not in it are dropped unless ``keep``."""
    return {names.get(k, k): _renamed(v, names, keep) if isinstance(v, dict) else v
            for k, v in group.items() if isinstance(v, dict) or keep or k in names}


def _prefixed(group: dict[str, Any]) -> dict[str, Any]:
    """``d`` before every weight's name; groups (``l0``, ``forward_layer``) keep theirs."""
    return {k if isinstance(v, dict) else f"d{k}": _prefixed(v) if isinstance(v, dict) else v
            for k, v in group.items()}
