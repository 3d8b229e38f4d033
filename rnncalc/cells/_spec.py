"""What a cell declares about itself once (:class:`CellSpec`), and the shapes its functions share.

Every cell's module (``rnn.py``, ``lstm.py``, ...) ends with ``SPEC = CellSpec(...)``; the rest of
rnncalc loops over :data:`rnncalc.cells.CELLS` and never branches on a cell's name. Free of
torch: tensors reach the cells' functions from the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from rnncalc.arrays import namespace

if TYPE_CHECKING:
    import torch

    from rnncalc.expr import Line

__all__ = ["CellGrad", "CellSpec", "Params", "StepOut", "arg", "clip", "unclipped"]


class Params(NamedTuple):
    """One layer and direction in PyTorch's layout; absent biases are zeros."""

    weight_ih: torch.Tensor  # [G*H, H_in]
    weight_hh: torch.Tensor  # [G*H, H] ([4*H, P] for a projected lstm; [H] for indrnn)
    bias_ih: torch.Tensor  # [G*H]
    bias_hh: torch.Tensor  # [G*H]
    weight_hr: torch.Tensor | None = None  # lstm projection [P, H]
    peephole: torch.Tensor | None = None  # lstm [3, H]: rows p_i, p_f, p_o


class StepOut(NamedTuple):
    pre: dict[str, torch.Tensor]
    act: dict[str, torch.Tensor]
    h: torch.Tensor
    c: torch.Tensor | None
    extra: dict[str, torch.Tensor] = {}  # noqa: RUF012  # other intermediates (lstm projection: "m")


class CellGrad(NamedTuple):
    """One cell's backward step: every quantity is for this step only."""

    dpre: dict[str, torch.Tensor]  # gate -> dL/d(pre-activation) [H]
    dc: torch.Tensor | None  # dL/dc_t (lstm)
    weight_ih: torch.Tensor  # [G*H, H_in] this step's contribution, PyTorch's layout
    weight_hh: torch.Tensor  # [G*H, H]
    bias_ih: torch.Tensor  # [G*H]
    bias_hh: torch.Tensor  # [G*H]
    dx: torch.Tensor  # dL/dx_t [H_in]
    dh_prev: torch.Tensor  # dL/dh_{t-1} through this step
    dc_prev: torch.Tensor | None  # dL/dc_{t-1} through this step (lstm)
    extra: dict[str, torch.Tensor] = {}  # noqa: RUF012  # lstm: "peephole" [3, H], "weight_hr"


#: (params, x, h_prev, c_prev, formulation) -> the step's intermediates
Step = Callable[..., StepOut]
#: (exercise, params, x [T, H_in] in the order computed, h0, c0) -> pre, act, h, c blocks
Blocks = Callable[..., tuple[dict[str, Any], dict[str, Any], Any, Any]]
#: (params, step, dL/dh_t, dL/dc_t from the future, formulation) -> the step's gradients
Backward = Callable[..., CellGrad]
#: (a sheet: the exercise, one step's numbers, helpers) -> the lines of that step's arithmetic
Explain = Callable[..., Iterator["Line"]]


@dataclass(frozen=True)
class CellSpec:
    """Everything about one cell that the rest of rnncalc derives from.

    ``step`` is written once, against the array API (:mod:`rnncalc.arrays`): the engine runs it
    on numpy arrays or torch tensors. ``gates`` in the order PyTorch stacks their blocks;
    ``roles`` the activations' roles in ONNX's order (f, g, h) and ``activations`` their
    defaults; ``options`` the :class:`~rnncalc.formulation.Formulation` fields that apply to
    this cell (beyond activations and clip); ``orders`` the gate order each convention packs
    (``layout:``, ``convert``). ``equations(form, names, clip, b)`` writes the equations
    ``formulas`` prints and ``symbols(form, bias)`` the cell's own lines of their legend.
    ``step`` is the cell on one position (or any ``[..., H_in]`` block of them), ``blocks`` on a
    whole sequence from torch's fused kernel (``fused``: the activations it computes; none: the
    step loop always), ``backward`` its backward step, ``explain`` the lines ``--explain``
    writes, ``diagram`` its picture (:mod:`rnncalc.cells._diagram`).
    """

    name: str
    title: str  # as a heading writes it: "LSTM"
    help: str  # the command's help, first line
    sketch: str  # h_t's equation in one line of plain text (rnncalc init's comment)
    examples: str  # the command's examples
    gates: tuple[str, ...]
    labels: dict[str, str]  # each gate's row label in the tables
    roles: tuple[str, ...]
    activations: tuple[str, ...]
    step: Step
    equations: Callable[..., list[str]]
    symbols: Callable[..., tuple[list[str], list[str]]]
    backward: Backward
    explain: Explain
    options: tuple[str, ...] = ()
    details: Callable[..., list[str]] = lambda form: []
    orders: dict[str, tuple[str, ...]] = field(default_factory=dict)  # convention -> gate order
    cell_state: bool = False  # a c_t beside h_t (lstm)
    recurrent: str = "matrix"  # weight_hh is [G*H, H]; "vector": [H], read element-wise
    nonlinearity: tuple[str, ...] = ()  # the values of `nonlinearity:`, the first the default
    fused: frozenset[tuple[str, ...]] = frozenset()
    blocks: Blocks | None = None
    seed: str = ""  # the config a command with no --config runs ("" : the seed's own exercise)
    layouts: tuple[str, ...] = ("pytorch", "per-gate", "onnx", "keras", "concat")
    diagram: Any = None  # how rnncalc.pictures draws it (cells._diagram); None: generically
    # what `check` recomputes from a student's numbers, and the slips it knows:
    gate_roles: dict[str, str] = field(default_factory=dict)  # gate -> its activation's role
    words: dict[str, str] = field(default_factory=dict)  # gate -> its name in a sentence
    order: str = ""  # the quantities of a step in the order computed ("ifgcomh")
    recompute: Callable[..., None] = lambda form, mine, values, cross, h_prev, c_prev, H: None
    state_slips: Callable[..., list[tuple[str, float]]] = lambda ex, tr, k, field, j: []
    variants: Callable[..., list[tuple[str, Any]]] = lambda form: []
    # what `grad --explain` writes: a gate's factors before its activation's slope, what a
    # recurrent product reads where it is not h_{t-1}, the gates whose hidden side is apart
    grad_factors: Callable[..., tuple[tuple[Any, Any], ...]] = lambda *a: ()
    grad_reads: Callable[..., tuple[Any, Any] | None] = lambda form, gate, s, c, t: None
    # (form, step, grad, k, unit, t, where) -> the lines of the cell's own state before a gate's
    # (lstm: dL/dc_t)
    grad_state: Callable[..., list[Line]] = lambda form, s, g, k, u, t, where: []
    # other sources' names for its weights, which a config may use and `rnncalc formulas` lists:
    # per layout ("per-gate", "concat") theirs -> ours, `alias_note` whose and why; `d2l` d2l's
    # letter for each gate (convention: d2l; empty: d2l has no such cell)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    alias_note: str = ""
    d2l: dict[str, str] = field(default_factory=dict)
    split_hidden: frozenset[str] = frozenset()


def clip(a: torch.Tensor, bound: float | None) -> torch.Tensor:
    """ONNX's ``clip``: clamp a pre-activation to ``[-bound, bound]``; ``None`` leaves it."""
    return a if bound is None else namespace(a).clip(a, -bound, bound)


def unclipped(a: torch.Tensor, bound: float | None) -> torch.Tensor | float:
    """Where ``clip`` let the pre-activation through (1) or clamped it (0): the clamp's slope."""
    return 1.0 if bound is None else (a.abs() < bound).to(a.dtype)


def arg(*terms: str) -> str:
    """Terms joined by `` + ``, the empty ones left out (an equation's argument)."""
    return " + ".join(t for t in terms if t)
