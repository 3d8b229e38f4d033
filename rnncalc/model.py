"""Frozen, typed descriptions of an exercise, in one canonical layout (PyTorch's), free of torch.

Weights of layer ``k`` in direction ``d`` are stored as PyTorch stores them: ``weight_ih`` of shape
``[G*H, H_in]`` with the gate blocks stacked in the cell's gate order (rnn: h; lstm: i|f|g|o),
``weight_hh`` of shape ``[G*H, H]``, and the two bias vectors of length ``G*H`` (zeros when absent).
Numbers are plain Python floats so that reading and checking a config never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "DIRECTIONS",
    "GATES",
    "Exercise",
    "Head",
    "LayerWeights",
    "Matrix",
    "Vector",
    "param_name",
]

Vector = tuple[float, ...]
Matrix = tuple[Vector, ...]

#: Gate order of each cell, as PyTorch stacks the blocks of ``weight_ih_l[k]``.
GATES: dict[str, tuple[str, ...]] = {"rnn": ("h",), "lstm": ("i", "f", "g", "o")}
DIRECTIONS = ("forward", "backward")


def param_name(kind: str, layer: int, direction: str) -> str:
    """PyTorch's state_dict name: ``param_name("weight_ih", 1, "backward") == "weight_ih_l1_reverse"``."""
    return f"{kind}_l{layer}" + ("_reverse" if direction == "backward" else "")


@dataclass(frozen=True)
class LayerWeights:
    """The parameters of one layer in one direction, in PyTorch's layout (gate blocks stacked)."""

    weight_ih: Matrix
    weight_hh: Matrix
    bias_ih: Vector | None
    bias_hh: Vector | None


@dataclass(frozen=True)
class Head:
    """An output layer ``y = W h + b`` on the top layer, and what is read from it."""

    task: str  # regression | classification | labeling
    W: Matrix
    b: Vector
    labels: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Exercise:
    """Everything needed to run an exercise: sizes, inputs, weights, initial state, head."""

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
    dtype: str = "float64"
    title: str = ""
    source: str = "<config>"
    notes: tuple[str, ...] = field(default=())  # choices made while reading, shown to the user

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
        return DIRECTIONS[: self.num_directions]

    @property
    def gates(self) -> tuple[str, ...]:
        return GATES[self.cell]
