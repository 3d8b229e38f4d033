r"""Which equations a cell uses: the convention presets and the frozen :class:`Formulation` record.

PyTorch, Keras, ONNX, old TensorFlow and d2l write "the same" cell differently. A
:class:`Formulation` states every such choice for one cell; the engine computes from it, and the
equations ``rnncalc formulas`` prints are generated from it (:func:`equations`), so they cannot
drift apart. Free of torch: the activation functions themselves live in
:mod:`rnncalc.cells.activations`.

Roles of the activations (ONNX's ``f, g, h``, in that order):

======  ===========================================================
cell    roles
======  ===========================================================
rnn     ``hidden`` (ONNX f)
lstm    ``gate`` (f), ``cell_input`` (g), ``cell_output`` (h)
gru     ``gate`` (f), ``candidate`` (g)
======  ===========================================================

The packed part of a preset (:class:`Packing`: gate order, orientation, number of bias vectors)
describes how that system stores the weights; the engine always holds PyTorch's layout, and the
layout readers and writers (``layout:``, ``rnncalc convert``) use :data:`PACKINGS`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

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
ROLES: dict[str, tuple[str, ...]] = {
    "rnn": ("hidden",),
    "lstm": ("gate", "cell_input", "cell_output"),
    "gru": ("gate", "candidate"),
}

CONVENTIONS = ("pytorch", "keras", "onnx", "tf1", "d2l")
MERGE_MODES = ("concat", "sum", "mul", "ave")


@dataclass(frozen=True)
class ActivationSpec:
    """One activation function: its parameters' defaults and its formula (for ``formulas``)."""

    formula: str  # in terms of x, alpha, beta
    alpha: float | None = None
    beta: float | None = None
    onnx: str = ""  # ONNX's spelling


#: Every activation a role may use; ONNX's list plus identity. Defaults are ONNX's.
ACTIVATIONS: dict[str, ActivationSpec] = {
    "sigmoid": ActivationSpec("1 / (1 + exp(-x))", onnx="Sigmoid"),
    "tanh": ActivationSpec("tanh(x)", onnx="Tanh"),
    "relu": ActivationSpec("max(0, x)", onnx="Relu"),
    "identity": ActivationSpec("x"),
    "affine": ActivationSpec("alpha*x + beta", 1.0, 0.0, onnx="Affine"),
    "hard_sigmoid": ActivationSpec("min(max(alpha*x + beta, 0), 1)", 0.2, 0.5, onnx="HardSigmoid"),
    "leaky_relu": ActivationSpec("x if x >= 0 else alpha*x", 0.01, onnx="LeakyRelu"),
    "thresholded_relu": ActivationSpec("x if x > alpha else 0", 1.0, onnx="ThresholdedRelu"),
    "elu": ActivationSpec("x if x >= 0 else alpha*(exp(x) - 1)", 1.0, onnx="Elu"),
    "scaled_tanh": ActivationSpec("alpha*tanh(beta*x)", 1.0, 1.0, onnx="ScaledTanh"),
    "softsign": ActivationSpec("x / (1 + |x|)", onnx="Softsign"),
    "softplus": ActivationSpec("log(1 + exp(x))", onnx="Softplus"),
}

_SPELLINGS = {n.replace("_", ""): n for n in ACTIVATIONS}


def _num(x: float) -> str:
    """The shortest text that reads back as ``x``: ``1``, ``0.1``, ``-3.25``."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True)
class Activation:
    """An activation function with its parameters filled in: ``Activation("leaky_relu", 0.1)``."""

    name: str
    alpha: float | None = None
    beta: float | None = None

    def formula(self) -> str:
        text = ACTIVATIONS[self.name].formula
        for symbol, value in (("alpha", self.alpha), ("beta", self.beta)):
            if value is not None:
                text = text.replace(symbol, f"{_num(value)}")
        return text

    def __str__(self) -> str:
        params = [f"{k}={_num(v)}" for k, v in (("alpha", self.alpha), ("beta", self.beta))
                  if v is not None]
        return self.name + (f"({', '.join(params)})" if params else "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.alpha is not None:
            out["alpha"] = self.alpha
        if self.beta is not None:
            out["beta"] = self.beta
        return out


def activation(name: str, alpha: float | None = None, beta: float | None = None) -> Activation:
    """An :class:`Activation` by name (ours or ONNX's: ``"HardSigmoid"``), defaults filled in.

    Raises ``KeyError`` for an unknown name; the config builder turns that into a located error.

    >>> activation("HardSigmoid")
    Activation(name='hard_sigmoid', alpha=0.2, beta=0.5)
    """
    canonical = _SPELLINGS[name.replace("_", "").lower()]
    spec = ACTIVATIONS[canonical]
    return Activation(
        canonical,
        None if spec.alpha is None else (spec.alpha if alpha is None else float(alpha)),
        None if spec.beta is None else (spec.beta if beta is None else float(beta)),
    )


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


PACKINGS: dict[str, Packing] = {
    "pytorch": Packing({"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")},
                       "rows", 2, "weight_ih_l[k] [G*H, H_in], weight_hh_l[k], bias_ih, bias_hh"),
    "keras": Packing({"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("z", "r", "n")},
                     "columns", 1, "kernel [H_in, G*H], recurrent_kernel [H, G*H], bias [G*H] "
                     "(a reset_after GRU: bias [2, G*H], input row then recurrent row)"),
    "onnx": Packing({"rnn": ("h",), "lstm": ("i", "o", "f", "g"), "gru": ("z", "r", "n")},
                    "rows", 2, "W [D, G*H, H_in], R [D, G*H, H], B [D, 2*G*H] = [Wb, Rb], "
                    "P [D, 3*H] = [Pi, Po, Pf]"),
    "tf1": Packing({"rnn": ("h",), "lstm": ("i", "g", "f", "o"), "gru": ("r", "z", "n")},
                   "columns", 1, "kernel [H_in + H, G*H] on [x_t, h_{t-1}], bias [G*H]"),
    "d2l": Packing({"rnn": ("h",), "lstm": ("i", "f", "o", "g"), "gru": ("z", "r", "n")},
                   "columns", 1, "per-gate W_x? [H_in, H], W_h? [H, H], b_? [H]"),
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
            defaults = {"rnn": ("tanh",), "lstm": ("sigmoid", "tanh", "tanh"),
                        "gru": ("sigmoid", "tanh")}[self.cell]
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
        if self.cell == "gru":
            out.update(reset_after=self.reset_after, z_weights=self.z_weights)
        if self.cell == "lstm":
            out.update(forget_bias=self.forget_bias, peepholes=self.peepholes,
                       input_forget=self.input_forget, projection=self.projection)
        out["clip"] = self.clip
        return out

    def summary(self) -> str:
        """One line for the table header: the convention and the options in force."""
        return f"{self.convention} ({self.details()})"

    def details(self) -> str:
        """The options in force, comma-separated: ``gate sigmoid, candidate tanh, ...``."""
        parts = [f"{r} {a}" for r, a in self.act.items()]
        if self.cell == "gru":
            parts.append("reset after" if self.reset_after else "reset before")
            parts.append("h = (1-z)n + z h_prev" if self.z_weights == "previous"
                         else "h = z n + (1-z) h_prev")
        if self.cell == "lstm":
            if self.forget_bias:
                parts.append(f"forget_bias {_num(self.forget_bias)}")
            parts += [w for w, on in (("peepholes", self.peepholes),
                                      ("input_forget", self.input_forget),
                                      ("projection", self.projection)) if on]
        if self.clip is not None:
            parts.append(f"clip {_num(self.clip)}")
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
    applies = {"reset_after": "gru", "forget_bias": "lstm"}
    options = {k: v for k, v in _PRESETS[convention].items() if applies[k] == cell}
    return Formulation(cell=cell, convention=convention, **options)


def _symbol_names(form: Formulation) -> dict[str, str]:
    """The name each role's activation goes by in the equations: its own name, or, where two
    roles use it with different parameters, the name and the role (``leaky_relu_gate``)."""
    act = form.act
    return {role: a.name if all(b == a for b in act.values() if b.name == a.name)
            else f"{a.name}_{role}" for role, a in act.items()}


def _arg(*terms: str) -> str:
    return " + ".join(t for t in terms if t)


def equations(form: Formulation, *, bias: bool = True) -> list[str]:
    """The equations in force, one per line in the order computed, then the symbols.

    The engine's cells compute exactly these (a test holds the two together).
    """
    act = _symbol_names(form)
    clip = (lambda s: f"clip({s})") if form.clip is not None else (lambda s: s)

    def b(name: str) -> str:
        return name if bias else ""

    lines: list[str] = []
    if form.cell == "rnn":
        f = act["hidden"]
        lines += [f"h_t = {f}({clip(_arg('W_ih x_t', b('b_ih'), 'W_hh h_{t-1}', b('b_hh')))})"]
    elif form.cell == "gru":
        s, g = act["gate"], act["candidate"]
        for gate in ("r", "z"):
            a = _arg(f"W_i{gate} x_t", b(f"b_i{gate}"), f"W_h{gate} h_{{t-1}}", b(f"b_h{gate}"))
            lines.append(f"{gate}_t = {s}({clip(a)})")
        if form.reset_after:
            inner = _arg("W_hn h_{t-1}", b("b_hn"))
            rec = f"r_t * ({inner})"
            lines.append(f"n_t = {g}({clip(_arg('W_in x_t', b('b_in'), rec))})")
        else:
            a = _arg("W_in x_t", b("b_in"), "W_hn (r_t * h_{t-1})", b("b_hn"))
            lines.append(f"n_t = {g}({clip(a)})")
        lines.append("h_t = (1 - z_t) * n_t + z_t * h_{t-1}" if form.z_weights == "previous"
                     else "h_t = z_t * n_t + (1 - z_t) * h_{t-1}")
    else:
        s, g, h = act["gate"], act["cell_input"], act["cell_output"]
        h_prev = "h_{t-1}"

        def pre(gate: str, *extra: str) -> str:
            return clip(_arg(f"W_i{gate} x_t", b(f"b_i{gate}"), f"W_h{gate} {h_prev}",
                             b(f"b_h{gate}"), *extra))

        peep = form.peepholes
        lines.append(f"i_t = {s}({pre('i', 'p_i * c_{t-1}' if peep else '')})")
        if form.input_forget:
            lines.append("f_t = 1 - i_t")
        else:
            fb = f"{_num(form.forget_bias)}" if form.forget_bias else ""
            lines.append(f"f_t = {s}({pre('f', 'p_f * c_{t-1}' if peep else '', fb)})")
        lines.append(f"g_t = {g}({pre('g')})")
        lines.append("c_t = f_t * c_{t-1} + i_t * g_t")
        lines.append(f"o_t = {s}({pre('o', 'p_o * c_t' if peep else '')})")
        if form.projection:
            lines.append(f"m_t = o_t * {h}(c_t)")
            lines.append("h_t = W_hr m_t")
        else:
            lines.append(f"h_t = o_t * {h}(c_t)")
    lines.append("")
    lines += _symbols(form, bias)
    return lines


def _symbols(form: Formulation, bias: bool) -> list[str]:
    cell = form.cell
    gates = {"rnn": "", "lstm": "i, f, g, o", "gru": "r, z, n"}[cell]
    h_size = "[P]" if cell == "lstm" and form.projection else "[H]"
    out = ["where:", "  x_t      input at step t, [H_in]",
           f"  h_{{t-1}}  previous hidden state, {h_size} (h_{{-1}} the initial state, given or "
           "zeros)"]
    if cell == "lstm":
        out.append("  c_{t-1}  previous cell state, [H]")
    if gates:
        out.append(f"  W_i?     [H, H_in] input weights of gate ? in {gates}; "
                   f"W_h? [H, {h_size[1]}] recurrent")
    else:
        out.append("  W_ih     [H, H_in] input weights; W_hh [H, H] recurrent weights")
    if bias:
        out.append("  b_ih, b_hh  input and recurrent biases, [H]" if cell == "rnn" else
                   "  b_i?, b_h?  input and recurrent biases, [H] (a one-bias sheet: b_h? = 0)")
    if cell == "lstm" and form.peepholes:
        out.append("  p_i, p_f, p_o  peephole weights, [H], multiplied element-wise")
    if cell == "lstm" and form.projection:
        out.append("  W_hr     [P, H] projection; h_t has P units (PyTorch proj_size)")
    if form.clip is not None:
        out.append(f"  clip(a)  min(max(a, -{_num(form.clip)}), {_num(form.clip)}), element-wise "
                   "(after biases and peepholes; c_t is not clipped)")
    out.append("  *        element-wise product")
    names = _symbol_names(form)
    for role, a in form.act.items():  # each name once, in role order
        line = f"  {names[role]}(x) = {a.formula()}"
        if a.formula() != f"{a.name}(x)" and line not in out:
            out.append(line)
    if cell == "gru":
        out.append("  GRU: reset gate applied " + ("after the recurrent product (PyTorch, "
                   "Keras reset_after=True, ONNX linear_before_reset=1)" if form.reset_after
                   else "before the recurrent product (2014 paper, d2l, Keras reset_after=False, "
                   "ONNX default)"))
    return out
