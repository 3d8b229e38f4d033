"""The config keys of the weight layouts: ``layout`` and the keys that only go with one.

Their schema, and whether a config uses any of them. Apart from :mod:`rnncalc.config.layouts`,
which reads and writes the layouts (750 lines), so that a config in PyTorch's layout, the usual
one, is checked without importing it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["KERAS_ARGUMENTS", "LAYOUTS", "ONNX_ATTRIBUTES", "PER_GATE_KEYS", "PROPERTIES",
           "uses_layout"]

LAYOUTS = ("pytorch", "per-gate", "onnx", "keras", "concat")
#: Top-level keys that only a ``layout: onnx`` config takes (the node's own attribute names).
ONNX_ATTRIBUTES = ("activation_alpha", "activation_beta", "linear_before_reset")
#: Top-level keys that only a ``layout: keras`` config takes (the layer's own argument names).
KERAS_ARGUMENTS = ("activation", "recurrent_activation", "go_backwards")
#: Top-level keys of the per-gate forms.
PER_GATE_KEYS = ("orientation", "concat")

#: Schema properties of these keys, merged into :data:`rnncalc.config.schema.SCHEMA` (a layout's
#: config is checked again once rewritten into the default layout).
PROPERTIES: dict[str, Any] = {
    "layout": {"enum": list(LAYOUTS), "description": "How weights are "
               "written: pytorch (state_dict names or per-gate names), per-gate, onnx (W, R, B, "
               "P), keras (kernel, recurrent_kernel, bias), concat (W_f on [h; x])."},
    "orientation": {"enum": ["rows", "columns"], "description": "per-gate, "
                    "concat: rows (default) (W x, [out, in]) or columns (x W, [in, out])."},
    "concat": {"type": "array", "items": {"enum": ["h", "x"]}, "description": "concat: the "
               "order of the concatenation W_? multiplies, [h, x] or [x, h]."},
    "activation_alpha": {"type": "array", "items": {"type": "number"}, "description": "onnx: "
                         "the node attribute."},
    "activation_beta": {"type": "array", "items": {"type": "number"}, "description": "onnx: "
                        "the node attribute."},
    "linear_before_reset": {"enum": [0, 1], "description": "onnx gru: 1 applies the reset gate "
                            "after the recurrent product (reset_after)."},
    "activation": {"type": "string", "description": "keras: the layer's activation (tanh)."},
    "recurrent_activation": {"type": "string", "description": "keras: the gates' activation "
                             "(sigmoid)."},
    "go_backwards": {"type": "boolean", "description": "keras: the layer reads the sequence from "
                     "its last step (direction: reverse; Keras returns the outputs in the order "
                     "computed, rnncalc by position)."},
}


def uses_layout(data: Any) -> bool:
    """Whether a config's data is written in another layout than PyTorch's, or has a key that
    only goes with one: what :func:`rnncalc.config.layouts.to_canonical` rewrites."""
    return isinstance(data, dict) and (data.get("layout", "pytorch") != "pytorch" or any(
        k in data for k in ONNX_ATTRIBUTES + KERAS_ARGUMENTS + PER_GATE_KEYS))
