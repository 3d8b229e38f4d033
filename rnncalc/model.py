"""Frozen, typed descriptions of an exercise, in one canonical layout (PyTorch's), free of torch.

Weights of layer ``k`` in direction ``d`` are stored as PyTorch stores them: ``weight_ih`` of shape
``[G*H, H_in]`` with the gate blocks stacked in the cell's gate order (rnn: h; lstm: i|f|g|o),
``weight_hh`` of shape ``[G*H, H]``, and the two bias vectors of length ``G*H`` (zeros when absent).
The equations those weights enter are the exercise's :class:`~rnncalc.formulation.Formulation`.
Numbers are plain Python floats so that reading and checking a config never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnncalc.cells import CELLS
from rnncalc.formulation import Formulation, activation, preset
from rnncalc.gates import GATES

__all__ = [
    "DIRECTIONS",
    "GATES",
    "Exercise",
    "Head",
    "LayerWeights",
    "Loss",
    "Matrix",
    "Vector",
    "gate_weight_names",
    "param_name",
]

Vector = tuple[float, ...]
Matrix = tuple[Vector, ...]

DIRECTIONS = ("forward", "backward")
#: The parameters every cell has, per layer and direction (PyTorch's names).
PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
#: The LSTM's own parameters, when its options have them: their per-step blocks' names.
EXTRA_PARAMS = {"weight_hr": ("W_hr",), "peephole": ("p_i", "p_f", "p_o")}


def gate_weight_names(gate: str) -> tuple[str, str, str, str]:
    """The per-gate names of the forward weights: ``"f"`` -> ``W_if, W_hf, b_if, b_hf``; rnn's
    one gate ``"h"`` -> ``W_ih, W_hh, b_ih, b_hh``."""
    return f"W_i{gate}", f"W_h{gate}", f"b_i{gate}", f"b_h{gate}"


def param_name(kind: str, layer: int, direction: str) -> str:
    """PyTorch's name: ``param_name("weight_ih", 1, "backward") == "weight_ih_l1_reverse"``."""
    return f"{kind}_l{layer}" + ("_reverse" if direction == "backward" else "")


@dataclass(frozen=True)
class LayerWeights:
    """The parameters of one layer in one direction, in PyTorch's layout (gate blocks stacked).

    LSTM only: ``weight_hr`` ``[P, H]`` is PyTorch's projection (``proj_size``; ``weight_hh`` is
    then ``[4*H, P]``); ``peephole`` ``[3, H]`` holds the rows ``p_i, p_f, p_o`` (ONNX's P).
    """

    weight_ih: Matrix
    weight_hh: Matrix  # a Vector [G*H] for a cell whose recurrence is element-wise (indrnn)
    bias_ih: Vector | None
    bias_hh: Vector | None
    weight_hr: Matrix | None = None
    peephole: Matrix | None = None


@dataclass(frozen=True)
class Head:
    """An output layer ``y = W h + b`` on the top layer, and what is read from it."""

    task: str  # regression | classification | labeling
    W: Matrix
    b: Vector
    labels: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Loss:
    """What ``rnncalc grad`` differentiates: a loss on the head, or the upstream gradients given.

    ``type`` is ``mse | half_sse | cross_entropy | bce`` on the head, or ``upstream`` (dL/d output_t
    of the top layer given directly, one vector per position, in ``upstream``). ``target`` is one
    vector for the head on the final state; ``targets`` one per position (class indices are kept as
    one-element vectors). ``denominator``: what ``reduction: mean`` divides by when this exercise
    is one sequence of a batch (the batch's number of terms, as torch's losses average over a
    batch); ``None``: this exercise's own.
    """

    type: str
    reduction: str = "mean"
    target: Vector | None = None
    targets: Matrix | None = None
    upstream: Matrix | None = None
    upstream_c: Matrix | None = None  # lstm: dL/dc_t from above, per position (top layer, joined)
    denominator: int | None = None  # mean over a batch: the whole batch's number of terms


@dataclass(frozen=True)
class Exercise:
    """Everything needed to run an exercise: sizes, inputs, weights, initial state, head.

    ``formulation`` is the equations in force (PyTorch's by default, with ``nonlinearity`` as the
    rnn's hidden activation). ``reverse`` runs a one-direction net from the last position to the
    first (ONNX ``direction: reverse``); its steps are the ``backward`` direction. ``merge_mode``
    joins the two directions' outputs (Keras): ``concat``, ``sum``, ``mul`` or ``ave``.
    ``proj_size`` (lstm, 0 = none) is the size of ``h`` after PyTorch's projection.
    """

    cell: str
    inputs: Matrix  # [T, H_in]
    hidden_size: int
    num_layers: int
    bidirectional: bool
    weights: tuple[tuple[LayerWeights, ...], ...]  # [layer][direction]
    h0: Matrix  # [num_layers * num_directions, H], PyTorch's h_0 order
    c0: Matrix | None  # lstm only
    nonlinearity: str = "tanh"
    bias: bool = True
    head: Head | None = None
    loss: Loss | None = None
    dtype: str = "float64"
    title: str = ""
    source: str = "<config>"
    notes: tuple[str, ...] = field(default=())  # choices made while reading, shown to the user
    formulation: Formulation = None  # type: ignore[assignment]  # None: PyTorch's, filled in
    reverse: bool = False
    merge_mode: str = "concat"
    proj_size: int = 0
    # how the config wrote its weights: (layout, orientation, concat order, the aliases it
    # used as (ours, theirs)); grad names its gradients that way too
    written: tuple[str, str, tuple[str, ...], tuple[tuple[str, str], ...]] = (
        "pytorch", "rows", (), ())
    # a bidirectional net whose backward direction has activations of its own (ONNX)
    backward_formulation: Formulation | None = None

    def __post_init__(self) -> None:
        if self.formulation is None:
            form = preset(self.cell)
            own = CELLS[self.cell]
            if self.nonlinearity in own.nonlinearity:  # rnn, indrnn: PyTorch's nonlinearity
                form = form.with_options(activations={own.roles[0]: activation(self.nonlinearity)})
            object.__setattr__(self, "formulation", form)

    def formulation_of(self, direction: str) -> Formulation:
        """The equations ``direction`` runs: the backward one's own, if it has them."""
        if direction == "backward" and self.backward_formulation is not None:
            return self.backward_formulation
        return self.formulation

    @property
    def state_size(self) -> int:
        """The size of ``h``: ``proj_size`` when projected, else ``hidden_size``."""
        return self.proj_size or self.hidden_size

    @property
    def output_size(self) -> int:
        """The width of the per-position output: ``2*state_size`` only when concatenated."""
        return self.num_directions * self.state_size if self.merge_mode == "concat" \
            else self.state_size

    @property
    def direction(self) -> str:
        """ONNX's word: ``forward``, ``reverse`` or ``bidirectional``."""
        return "bidirectional" if self.bidirectional else "reverse" if self.reverse else "forward"

    @property
    def input_size(self) -> int:
        return len(self.inputs[0])

    @property
    def steps(self) -> int:
        return len(self.inputs)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def directions(self) -> tuple[str, ...]:
        return ("backward",) if self.reverse and not self.bidirectional \
            else DIRECTIONS[: self.num_directions]

    @property
    def gates(self) -> tuple[str, ...]:
        return GATES[self.cell]
