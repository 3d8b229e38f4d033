r"""Which equations a cell uses: the convention presets and the frozen :class:`Formulation` record.

PyTorch, Keras, ONNX, old TensorFlow and d2l write "the same" cell differently. A
:class:`Formulation` states every such choice for one cell; the engine computes from it, and the
equations ``rnncalc formulas`` prints are generated from it (:func:`equations`), so they cannot
drift apart. Free of torch: the activation functions are the table of
:mod:`rnncalc.cells.activations`, each cell's equations its own module's.

The roles of each cell's activations (ONNX's ``f, g, h``, in that order) are its module's
(:mod:`rnncalc.cells`): rnn ``hidden``; lstm ``gate, cell_input, cell_output``; gru ``gate,
candidate``.

The packed part of a preset (:class:`Packing`: gate order, orientation, number of bias vectors)
describes how that system stores the weights; the engine always holds PyTorch's layout, and the
layout readers and writers (``layout:``, ``rnncalc convert``) use :data:`PACKINGS`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rnncalc.cells import CELLS, spec
from rnncalc.cells.activations import ACTIVATIONS, Activation, ActivationSpec, activation, num

__all__ = [
    "ACTIVATIONS",
    "CONVENTIONS",
    "MERGE_MODES",
    "PACKINGS",
    "ROLES",
    "Activation",
    "ActivationSpec",
    "Formulation",
    "Packing",
    "activation",
    "equations",
    "preset",
]

#: Roles of the activations of each cell, in ONNX's order (f, g, h).
ROLES: dict[str, tuple[str, ...]] = {name: c.roles for name, c in CELLS.items()}

CONVENTIONS = ("pytorch", "keras", "onnx", "tf1", "d2l")
MERGE_MODES = ("concat", "sum", "mul", "ave")


@dataclass(frozen=True)
class Packing:
    """How a system packs a cell's weights (used by layout readers and writers, not the engine).

    ``gate_order`` uses rnncalc's gate names (lstm i, f, g, o; gru r, z, n; rnn h): Keras's
    ``c`` and ONNX's ``c`` are ``g``, their GRU ``h`` is ``n``. ``orientation`` is ``"rows"``
    when a gate's matrix is ``[H, H_in]`` and multiplies a column ``W x`` (PyTorch, ONNX), or
    ``"columns"`` when it is ``[H_in, H]`` and a row multiplies it ``x W`` (Keras, TF1, d2l).
    ``biases`` is 2 (input and recurrent bias per gate) or 1.
    """

    gate_order: dict[str, tuple[str, ...]]
    orientation: str
    biases: int
    note: str = ""


def _packing(convention: str, orientation: str, biases: int, note: str) -> Packing:
    return Packing({name: c.orders[convention] for name, c in CELLS.items()
                    if convention in c.orders}, orientation, biases, note)


PACKINGS: dict[str, Packing] = {
    "pytorch": _packing("pytorch", "rows", 2,
                        "weight_ih_l[k] [G*H, H_in], weight_hh_l[k], bias_ih, bias_hh"),
    "keras": _packing("keras", "columns", 1, "kernel [H_in, G*H], recurrent_kernel [H, G*H], bias "
                      "[G*H] (a reset_after GRU: bias [2, G*H], input row then recurrent row)"),
    "onnx": _packing("onnx", "rows", 2, "W [D, G*H, H_in], R [D, G*H, H], B [D, 2*G*H] = [Wb, Rb], "
                     "P [D, 3*H] = [Pi, Po, Pf]"),
    "tf1": _packing("tf1", "columns", 1, "kernel [H_in + H, G*H] on [x_t, h_{t-1}], bias [G*H]"),
    "d2l": _packing("d2l", "columns", 1, "per-gate W_x? [H_in, H], W_h? [H, H], b_? [H]"),
}


@dataclass(frozen=True)
class Formulation:
    """Every choice that changes a cell's numbers, for one cell; PyTorch's by default.

    ``activations`` follows :data:`ROLES` for the cell. ``reset_after`` and ``z_weights`` are
    GRU's: the reset gate applied after the recurrent product (PyTorch) or before it (ONNX
    default, d2l), and whether ``z`` weights the previous state (``h = (1-z)*n + z*h_prev``,
    ``"previous"``) or the candidate (``h = z*n + (1-z)*h_prev``, ``"candidate"``).
    ``peepholes``, ``input_forget``, ``forget_bias`` and ``projection`` are LSTM's. ``clip``
    clamps every pre-activation to ``[-clip, clip]`` (ONNX; cells of every kind).
    """

    cell: str
    convention: str = "pytorch"
    activations: tuple[Activation, ...] = ()
    reset_after: bool = True
    z_weights: str = "previous"
    forget_bias: float = 0.0
    peepholes: bool = False
    input_forget: bool = False
    clip: float | None = None
    projection: bool = False

    def __post_init__(self) -> None:
        if not self.activations:
            defaults = spec(self.cell).activations
            object.__setattr__(self, "activations", tuple(activation(n) for n in defaults))

    @property
    def act(self) -> dict[str, Activation]:
        """Activation by role: ``form.act["gate"]``."""
        return dict(zip(ROLES[self.cell], self.activations, strict=True))

    def with_options(self, **options: Any) -> Formulation:
        """A copy with some options changed; ``activations`` may be a partial dict by role."""
        acts = options.pop("activations", None)
        if isinstance(acts, dict):
            merged = {**self.act, **acts}
            options["activations"] = tuple(merged[r] for r in ROLES[self.cell])
        elif acts is not None:
            options["activations"] = tuple(acts)
        return replace(self, **options)

    def to_dict(self) -> dict[str, Any]:
        """The JSON's ``"formulation"``: only the options that apply to the cell."""
        out: dict[str, Any] = {
            "convention": self.convention,
            "activations": {r: a.to_dict() for r, a in self.act.items()},
        }
        out.update({k: getattr(self, k) for k in spec(self.cell).options})
        out["clip"] = self.clip
        return out

    def summary(self) -> str:
        """One line for the table header: the convention and the options in force."""
        return f"{self.convention} ({self.details()})"

    def details(self) -> str:
        """The options in force, comma-separated: ``gate sigmoid, candidate tanh, ...``."""
        parts = [f"{r} {a}" for r, a in self.act.items()]
        parts += spec(self.cell).details(self)
        if self.clip is not None:
            parts.append(f"clip {num(self.clip)}")
        return ", ".join(parts)


_PRESETS: dict[str, dict[str, Any]] = {
    "pytorch": {"reset_after": True},
    "keras": {"reset_after": True},  # Keras 3 GRU: reset_after=True by default
    "onnx": {"reset_after": False},  # linear_before_reset=0 by default
    "tf1": {"reset_after": False, "forget_bias": 1.0},  # tf.nn.rnn_cell.LSTMCell / GRUCell
    "d2l": {"reset_after": False},
}


def preset(cell: str, convention: str = "pytorch") -> Formulation:
    """What ``convention`` assumes for ``cell``: ``preset("gru", "onnx").reset_after is False``."""
    own = spec(cell).options
    options = {k: v for k, v in _PRESETS[convention].items() if k in own}
    return Formulation(cell=cell, convention=convention, **options)


def _symbol_names(form: Formulation) -> dict[str, str]:
    """The name each role's activation goes by in the equations: its own name, or, where two
    roles use it with different parameters, the name and the role (``leaky_relu_gate``)."""
    act = form.act
    return {role: a.name if all(b == a for b in act.values() if b.name == a.name)
            else f"{a.name}_{role}" for role, a in act.items()}


def equations(form: Formulation, *, bias: bool = True) -> list[str]:
    """The equations in force, one per line in the order computed, then the symbols.

    The engine's cells compute exactly these (a test holds the two together).
    """
    act = _symbol_names(form)
    clip = (lambda s: f"clip({s})") if form.clip is not None else (lambda s: s)

    def b(name: str) -> str:
        return name if bias else ""

    lines = spec(form.cell).equations(form, act, clip, b)
    lines.append("")
    lines += _symbols(form, bias)
    return lines


def _symbols(form: Formulation, bias: bool) -> list[str]:
    h_size = "[P]" if form.projection else "[H]"
    own, notes = spec(form.cell).symbols(form, bias)
    out = ["where:", "  x_t      input at step t, [H_in]",
           f"  h_{{t-1}}  previous hidden state, {h_size} (h_{{-1}} the initial state, given or "
           "zeros)", *own]
    if form.clip is not None:
        out.append(f"  clip(a)  min(max(a, -{num(form.clip)}), {num(form.clip)}), element-wise "
                   "(after biases and peepholes; c_t is not clipped)")
    out.append("  *        element-wise product")
    names = _symbol_names(form)
    for role, a in form.act.items():  # each name once, in role order
        line = f"  {names[role]}(x) = {a.formula()}"
        if a.formula() != f"{a.name}(x)" and line not in out:
            out.append(line)
    return out + notes
