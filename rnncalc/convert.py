"""``rnncalc convert``: the same exercise written in another layout, as YAML.

The config is read and built as for a run (so it is checked first), then written back with its
weights in the target layout (:func:`rnncalc.config.layouts.write_weights`); every other key is
kept as it was. For ``onnx`` the options ONNX has attributes for are written under the node's
attribute names (``activations``, ``linear_before_reset``, ``input_forget``, ``clip``). No torch.

>>> text = convert({"cell": "rnn", "inputs": [[1.0]], "weights": {"W_ih": [[0.5]],
...                 "W_hh": [[0.25]]}}, "onnx")
>>> print(text.split("\\n", 1)[1])  # doctest: +NORMALIZE_WHITESPACE
cell: rnn
inputs:
- [1]
activations: [Tanh]
convention: pytorch
layout: onnx
weights:
  W:
  - - [0.5]
  R:
  - - [0.25]
<BLANKLINE>
"""

from __future__ import annotations

import os
from typing import Any

from rnncalc.cells import CELLS
from rnncalc.errors import ConfigError

__all__ = ["TARGETS", "convert"]

TARGETS = ("per-gate", "pytorch", "onnx", "keras", "concat")

# keys that describe the weights' writing, rewritten for the target
_LAYOUT_KEYS = ("layout", "orientation", "concat", "share_directions", "weights")
# options that become ONNX attributes
_ONNX_OPTIONS = ("activations", "nonlinearity", "reset_after", "input_forget")


def convert(source: str | os.PathLike[str] | dict[str, Any], to: str, *, cell: str | None = None,
            orientation: str = "rows", concat: tuple[str, str] = ("h", "x"),
            weights: str | os.PathLike[str] | None = None) -> str:
    """The exercise of ``source`` as YAML text with its weights in layout ``to``.

    ``weights`` names a PyTorch ``state_dict`` file whose tensors replace the config's weights
    (a trained model's weights, written out as a readable per-gate sheet).
    """
    import yaml

    from rnncalc.config import build_filled, folder_of, read_document
    from rnncalc.config.layouts import to_canonical, write_weights
    from rnncalc.config.shapes import normalize

    if to not in TARGETS:
        raise ConfigError(f"--to: expected one of {', '.join(TARGETS)}, got {to!r}")
    given = read_document(source)
    doc, exercise = build_filled(given, folder_of(source), weights=weights, cell=cell)
    data: dict[str, Any] = dict(to_canonical(normalize(doc), cell).data)  # columns, flat arrays
    written, notes = write_weights(exercise, to, orientation=orientation, concat=concat)
    out = {k: v for k, v in data.items() if k not in _LAYOUT_KEYS}
    out.setdefault("cell", exercise.cell)
    if to == "onnx":
        out = {k: v for k, v in out.items() if k not in _ONNX_OPTIONS}
        out.update(_onnx_attributes(exercise))
    convention = exercise.formulation.convention
    if convention != "pytorch" or to in ("onnx", "keras"):  # these two default to their own
        out["convention"] = convention
    if to == "keras" and "reset_after" in CELLS[exercise.cell].options:
        out["reset_after"] = exercise.formulation.reset_after
    if to != "pytorch":
        out["layout"] = to
    if to in ("per-gate", "concat") and orientation != "rows":
        out["orientation"] = orientation
    if to == "concat":
        out["concat"] = list(concat)
    out["weights"] = written
    file = weights or given.data.get("weights_file")
    origin = exercise.source + (f" with the weights of {file}" if file else "")
    header = [f"# {origin}, converted by `rnncalc convert --to {to}`"]
    notes += _foreign(exercise, to)
    header += [f"# note: {note}" for note in notes]
    body = yaml.safe_dump(_tidy(out), sort_keys=False, default_flow_style=None,
                          allow_unicode=True, width=100)
    return "\n".join(header) + "\n" + body


def _foreign(ex: Any, to: str) -> list[str]:
    """Options the target framework has no word for: kept as rnncalc's own keys, and said so."""
    form = ex.formulation
    options = {
        "forget_bias": bool(form.forget_bias),  # 0 and "previous" for a cell without them
        "z_weights: candidate": form.z_weights == "candidate",
        f"merge_mode: {ex.merge_mode}": ex.bidirectional and ex.merge_mode != "concat",
        "clip": form.clip is not None, "input_forget": form.input_forget,
    }
    lacking = {"onnx": ("forget_bias", "z_weights: candidate", "merge_mode"),
               "keras": ("forget_bias", "z_weights: candidate", "clip", "input_forget")}
    foreign = [k for k, on in options.items() if on and k.startswith(lacking.get(to, ()))]
    return [f"{to} has no {k}; it is kept as rnncalc's key" for k in foreign]


def _onnx_attributes(ex: Any) -> dict[str, Any]:
    """The formulation's ONNX attributes: ``activations`` (one group per direction), alphas, ..."""
    from rnncalc.formulation import ACTIVATIONS

    form = ex.formulation
    names, alphas, betas = [], [], []
    for act in form.activations:
        if act.name == "identity":  # ONNX has no Identity activation: Affine(1, 0) is one
            names.append("Affine")
            alphas.append(1.0)
            betas.append(0.0)
            continue
        names.append(ACTIVATIONS[act.name].onnx)
        if act.alpha is not None:
            alphas.append(act.alpha)
        if act.beta is not None:
            betas.append(act.beta)
    out: dict[str, Any] = {"activations": names * ex.num_directions}
    if alphas:
        out["activation_alpha"] = alphas * ex.num_directions
    if betas:
        out["activation_beta"] = betas * ex.num_directions
    if "reset_after" in CELLS[ex.cell].options:
        out["linear_before_reset"] = int(form.reset_after)
    if form.input_forget:
        out["input_forget"] = 1
    return out


def _tidy(value: Any) -> Any:
    """Plain YAML data: tuples as lists, whole floats as integers (``1.0`` -> ``1``)."""
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_tidy(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53 \
            and not (value == 0 and str(value).startswith("-")):
        return int(value)
    return value
