"""``rnncalc init``: a commented config template that runs as it is; ``rnncalc schema``'s JSON.

The template holds the seed's numbers (so it runs and gives the seed's figures), every key in use
explained in a comment, and every other key of the schema commented out with its description, so
a new key in :data:`rnncalc.config.schema.SCHEMA` shows up here without editing this file (once
``schema.json`` is written again). No torch: neither command computes anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rnncalc.cells import CELLS
from rnncalc.errors import RnncalcError
from rnncalc.gates import GATES

__all__ = ["DEFAULT_SCHEMA_URL", "schema_json", "template"]

#: Where the template's schema comment points: a file beside the config, written by
#: ``rnncalc schema -o rnncalc.schema.json`` (the YAML language server resolves it relatively).
DEFAULT_SCHEMA_URL = "rnncalc.schema.json"

#: :data:`rnncalc.config.schema.SCHEMA`, written ahead (``python -m rnncalc.config.schema``; a test
#: keeps it current): read here instead of importing the config reader, 30-40 ms, that builds it.
_SCHEMA_FILE = Path(__file__).parent / "config" / "schema.json"

_TASKS = ("hidden", "regression", "classification", "labeling")

# The seed's weights (../shared/seed/README.md), rows = hidden units.
_RNN = {"W_ih": "[[-1, 0, 0.5], [1, 0, -0.5]]", "W_hh": "[[0, -1], [0, -1]]"}
_LSTM = {
    "i": ("[[-1, 0, 0.5], [-1, 0, -0.5]]", "[[0, 1], [0, -1]]", "input (\"add\") gate"),
    "f": ("[[1, 0, 0.5], [1, 0, -0.5]]", "[[0, 1], [0, -1]]", "forget gate"),
    "g": ("[[1, 0, -0.5], [1, 0, -0.5]]", "[[0, 1], [0, -1]]", "cell candidate"),
    "o": ("[[1, 1, 0.5], [1, -1, -0.5]]", "[[0, 1], [0, -1]]", "output gate"),
}
_LOSS_STUB = {  # for the seed's 3 steps and the head below
    "regression": "{type: half_sse, target: [0.5]}",
    "classification": "{type: cross_entropy, target: 1}",
    "labeling": "{type: cross_entropy, targets: [1, 0, 0]}",
}
_HEAD_WORDS = {
    "regression": "y = W h + b on the final state (and at every position)",
    "classification": "softmax(W h + b) on the final state (sigmoid with one output), argmax",
    "labeling": "softmax(W h_t + b) and argmax at every position",
}


def schema_json() -> str:
    """The JSON Schema of a config, as editors read it."""
    return _SCHEMA_FILE.read_text("utf-8")


def template(cell: str, task: str = "hidden", *, bidirectional: bool = False,
             schema_url: str = DEFAULT_SCHEMA_URL) -> str:
    """A config for ``cell`` that loads as it is, every key explained in a comment."""
    if cell not in GATES:
        raise RnncalcError(f"cell: expected one of {', '.join(GATES)}, got {cell!r}")
    if task not in _TASKS:
        raise RnncalcError(f"task: expected one of {', '.join(_TASKS)}, got {task!r}")
    H = 2
    width = 2 * H if bidirectional else H
    zeros = "[[0, 0], [0, 0]]" if bidirectional else "[0, 0]"
    out = [
        f"# yaml-language-server: $schema={schema_url}",
        f"# An rnncalc exercise: run it with  rnncalc {cell} --config THIS_FILE --step-by-step",
        "# Every matrix is written with rows = hidden units (y = W x), as PyTorch stores them.",
        "",
        f'title: "My {CELLS[cell].title} exercise"   # shown above the output',
        'description: "What the student is asked to compute."   # free text, for you',
        f"cell: {cell}               # {' | '.join(CELLS)}; must match the command (rnncalc "
        f"{cell})",
    ]
    owners = "/".join(c.name for c in CELLS.values() if c.nonlinearity)
    own = CELLS[cell].nonlinearity
    if own:
        out.append(f"nonlinearity: {own[0]}       # {owners} only: {' | '.join(own)}")
    else:
        out.append(f"# nonlinearity: tanh     # {owners} only; the {cell} cell sets activations "
                   "by role (activations, below)")
    out += [
        "bias: true               # false: no biases at all (the seed's LSTM); default: true if "
        "any bias is given",
        "dtype: float64           # float64 | float32 (float32 shows PyTorch's rounding)",
        "num_layers: 1            # stacked layers; for more than one, group the weights under "
        "l0, l1, ...",
        f"bidirectional: {str(bidirectional).lower():5}     # true: a backward direction too; "
        "output at t = [h_forward_t, h_backward_t]; or direction: forward | reverse | "
        "bidirectional",
        f"share_directions: {str(bidirectional).lower():5}  # true: the backward direction "
        "reuses the forward weights (else give l0_reverse)",
        "initial:                 # the state before x_0 (h_{-1}); absent means zeros",
        f"  h: {zeros}   # one vector, or one per layer and direction (PyTorch's h_0 order: "
        "l0 forward, l0 backward, l1 ...)",
    ]
    if CELLS[cell].cell_state:
        out.append(f"  c: {zeros}   # lstm only: the cell state c_{{-1}}, the same way")
    out += [
        "inputs:                  # x_0, x_1, ...: one vector per time step, all the same length",
        "  - [1, 2, 3]",
        "  - [4, 5, 6]",
        "  - [7, 8, 9]",
        "weights:                 # per-gate matrices, PyTorch's names; W_i? is hidden x input, "
        "W_h? hidden x hidden",
    ]
    out += _weights(cell)
    out += _head(task, width)
    out += _other_keys(cell)
    return "\n".join(out) + "\n"


def _weights(cell: str) -> list[str]:
    if GATES[cell] == ("h",):  # one gate, h_t itself
        vector = CELLS[cell].recurrent == "vector"
        return [
            f"  W_ih: {_RNN['W_ih']}   # {CELLS[cell].sketch}",
            f"  W_hh: {'[-1, 0.5]' if vector else _RNN['W_hh']}"
            + ("   # a vector: one recurrent weight per unit" if vector else ""),
            "  b_ih: 1        # a bias: a vector, or one number for every unit",
            "  b_hh: 1",
        ]
    lines = []
    seed = list(_LSTM.values())
    for k, g in enumerate(GATES[cell]):
        w_i, w_h, words = seed[k % len(seed)]
        words = _LSTM[g][2] if g in _LSTM else CELLS[cell].words.get(g, f"gate {g}")
        lines += [f"  W_i{g}: {w_i}   # {g}: {words}", f"  W_h{g}: {w_h}",
                  f"  b_i{g}: 0" + ("      # a vector, or one number for every unit" if not k
                                    else ""),
                  f"  b_h{g}: 0" + ("      # a sheet with one bias per gate leaves out the b_h?"
                                    if not k else "")]
    return lines


def _head(task: str, width: int) -> list[str]:
    W = {"regression": [[0, 1]], "classification": [[0, 1], [1, 0]],
         "labeling": [[0, 1], [1, 0]]}
    if task == "hidden":  # no head, no loss: rnncalc grad differentiates given gradients
        return ["# An output layer on the top layer (head): see rnncalc init --task "
                "regression|classification|labeling",
                "# upstream: " + json.dumps([[1] + [0] * (width - 1)] + [[0] * width] * 2)
                + "   # for rnncalc grad: dL/d output_t of the top layer, one row per position"]
    rows = W[task] if width == 2 else [row + row for row in W[task]]
    lines = [
        "head:                     # the output layer on the top layer's output",
        f"  task: {task:15}   # regression | classification | labeling: {_HEAD_WORDS[task]}",
        f"  W: {json.dumps(rows)}   # one row per output, one column per top-layer unit "
        "(2 x hidden when bidirectional)",
        "  b: 0                    # a vector, or one number for every output",
    ]
    if task != "regression":
        lines.append('  labels: ["no", "yes"]   # optional: a name for each class')
    return [*lines, f"# loss: {_LOSS_STUB[task]}   # for rnncalc grad: what it differentiates "
            "(or upstream: dL/d output_t, given per position)"]


def _other_keys(cell: str) -> list[str]:
    """Every other key of the schema this cell takes, commented out with the schema's own
    description; each line is valid once uncommented (a test holds every one). Keys that need
    another layout, or replace ``weights``, are named in prose instead."""
    shown = {"title", "description", "cell", "nonlinearity", "bias", "dtype", "num_layers",
             "bidirectional", "share_directions", "initial", "inputs", "weights", "head",
             "hidden_size", "loss", "upstream", "direction"}
    properties = json.loads(schema_json())["properties"]
    layouts = set(properties["layout"]["enum"])
    lines = [
        "",
        "# Other keys, for exercises written in other conventions (uncomment to use):",
        "# hidden_size: 2   # optional where the weights show it",
    ]
    other_layouts: list[str] = []
    # keys that need more than one line to be valid (a batch instead of inputs, a weight file's
    # module, a second direction, a backward exercise): named in prose
    prose = ("batch", "sequence_lens", "upstream_c", "weights_prefix", "backward_activations")
    for key, rule in properties.items():
        words = " ".join(rule.get("description", "").split())
        owner = set(words.partition(":")[0].replace(",", " ").split()) if ":" in words else set()
        if key in shown or key in prose or (owner & set(CELLS) and cell not in owner):
            continue
        if owner & layouts:  # "onnx: ...", "per-gate, concat: ...": only with that layout
            other_layouts.append(key)
        elif key in ("weights_file", "inputs_file"):  # instead of a key shown: not uncommented
            lines.append(f"# {words} ({key}: {_example(rule)})")
        else:
            lines.append(f"# {key}: {_example(rule)}   # {words}".rstrip())
    lines.append("# With another layout (see docs/layouts.md), also: " + ", ".join(other_layouts))
    lines.append("# A batch of sequences in one config: batch (instead of inputs) and "
                 "sequence_lens (docs/batches.md); upstream_c: dL/dc_t from above (lstm); "
                 "weights_prefix: the module of a whole model's weights_file; "
                 "backward_activations: a bidirectional net's backward direction's own")
    return lines


def _example(rule: dict[str, Any]) -> str:
    if "examples" in rule:
        return json.dumps(rule["examples"][0])
    if "default" in rule:
        return json.dumps(rule["default"])
    if "enum" in rule:
        return json.dumps(rule["enum"][0])
    if "exclusiveMinimum" in rule:
        return json.dumps(rule["exclusiveMinimum"] + 1)
    kind = rule.get("type")
    return {"boolean": "false", "number": "0", "integer": "0", "string": '""', "array": "[]",
            "object": "{}"}.get(kind if isinstance(kind, str) else "", "...")
