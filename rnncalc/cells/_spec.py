"""What a cell declares about itself once (:class:`CellSpec`), and the shapes its functions share.

Every cell's module (``rnn.py``, ``lstm.py``, ...) ends with ``SPEC = CellSpec(...)``; the rest of
rnncalc loops over :data:`rnncalc.cells.CELLS` and never branches on a cell's name. Free of
torch: tensors reach the cells' functions from the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from rnncalc.arrays import chunks, namespace

if TYPE_CHECKING:
    import torch

    from rnncalc.expr import Line

__all__ = ["CellGrad", "CellSpec", "Params", "Product", "StepOut", "arg", "clip", "finish",
           "outer", "passed", "total", "unclipped"]


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


class Product(NamedTuple):
    """A step's contribution to a parameter, kept as the two vectors it is the product of:
    ``left ⊗ right`` (``left[:, None] * right[None, :]``), or ``left ⊙ right`` when
    ``elementwise``; ``right`` a tuple: one vector for each block of ``left`` (the gates' blocks
    of a GRU, which read different vectors). :func:`total` sums it over steps as one block
    product, without the per-step matrices."""

    left: Any
    right: Any
    elementwise: bool = False

    def value(self) -> Any:
        """This step's contribution (the matrix, for an outer product)."""
        if self.elementwise:
            return self.left * self.right
        if isinstance(self.right, tuple):
            blocks = chunks(self.left, len(self.right), axis=0)
            return namespace(self.left).concat([outer(a, b) for a, b in zip(
                blocks, self.right, strict=True)])
        return outer(self.left, self.right)


def outer(a: Any, b: Any) -> Any:
    """``a ⊗ b``: ``[len(a), len(b)]``."""
    return a[:, None] * b[None, :]


def total(products: Sequence[Product], left: Any = None) -> Any:
    r"""``\sum_t`` of the steps' ``products`` (all of one parameter), as block products over every
    step: ``L^\top R`` for outer products (``L``, ``R`` the steps' vectors stacked ``[K, ...]``),
    block by block when each block reads its own; ``\sum_t L \odot R`` element-wise. ``left``:
    ``L``, when the caller has stacked it already."""
    first = products[0]
    xp = namespace(first.left)
    if left is None:
        left = xp.stack([p.left for p in products])
    if first.elementwise:
        return xp.sum(left * xp.stack([p.right for p in products]), axis=0)
    if not isinstance(first.right, tuple):
        return left.T @ xp.stack([p.right for p in products])
    blocks = chunks(left, len(first.right))
    return xp.concat([block.T @ xp.stack([p.right[i] for p in products])
                      for i, block in enumerate(blocks)])


class CellGrad(NamedTuple):
    """One cell's backward step: every quantity is for this step only. Its contributions to the
    parameters are kept as :class:`Product` s and computed when read (:attr:`weight_ih`, ...):
    a recursion over every step keeps the vectors alone, and sums the products as block products
    over all steps (:func:`total`)."""

    dpre: dict[str, Any]  # gate -> dL/d(pre-activation) [H]
    dc: Any | None  # dL/dc_t (lstm)
    da: Any  # [G*H] every gate's dL/da, stacked: the input side's (bias_ih's contribution)
    da_h: Any  # [G*H] the hidden side's (bias_hh's): da, but for a GRU's n
    dh_prev: Any  # dL/dh_{t-1} through this step
    dc_prev: Any | None  # dL/dc_{t-1} through this step (lstm)
    products: dict[str, Product]  # weight_ih: da ⊗ x_t, weight_hh: da_h ⊗ ... (lstm: weight_hr,
    # peephole)
    w_ih: Any  # the input weights [G*H, H_in], for dL/dx_t

    @property
    def weight_ih(self) -> Any:
        """``[G*H, H_in]`` this step's contribution, PyTorch's layout: ``da ⊗ x_t``."""
        return self.products["weight_ih"].value()

    @property
    def weight_hh(self) -> Any:
        """``[G*H, H]`` (``[H]`` for indrnn): ``da_h ⊗`` what the hidden side reads."""
        return self.products["weight_hh"].value()

    @property
    def bias_ih(self) -> Any:
        return self.da

    @property
    def bias_hh(self) -> Any:
        return self.da_h

    @property
    def dx(self) -> Any:
        """dL/dx_t ``[H_in]``: ``W_ih^T da``."""
        return self.w_ih.T @ self.da

    @property
    def extra(self) -> dict[str, Any]:
        """The options' contributions (lstm: ``peephole`` [3, H], ``weight_hr`` [P, H])."""
        return {k: v.value() for k, v in self.products.items() if k not in _MAIN}


_MAIN = ("weight_ih", "weight_hh")


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


def unclipped(a: Any, bound: float | None) -> Any:
    """Where ``clip`` let the pre-activation through (1) or clamped it (0): the clamp's slope."""
    if bound is None:
        return 1.0
    xp = namespace(a)
    return xp.astype(xp.abs(a) < bound, a.dtype)


def passed(slope: Any, a: Any, bound: float | None) -> Any:
    """``slope`` where ``clip`` let the pre-activation ``a`` through, 0 where it clamped it."""
    return slope if bound is None else slope * unclipped(a, bound)


def finish(p: Params, s: Any, dpre: dict[str, Any], dc: Any | None, dc_prev: Any | None,
           extra: dict[str, Product] | None = None) -> CellGrad:
    r"""The step's gradients when every gate reads ``W_i? x_t + W_h? h_{t-1}`` (rnn, lstm):
    ``da`` on both sides, ``\delta h^{fut}_{t-1} = W_{hh}^\top da``."""
    da = namespace(s.x).concat(list(dpre.values()))
    dpre = dict(zip(dpre, chunks(da, len(dpre), axis=0), strict=True))  # views: kept once
    return CellGrad(dpre, dc, da, da, p.weight_hh.T @ da, dc_prev,
                    {"weight_ih": Product(da, s.x), "weight_hh": Product(da, s.h_prev),
                     **(extra or {})}, p.weight_ih)


def arg(*terms: str) -> str:
    """Terms joined by `` + ``, the empty ones left out (an equation's argument)."""
    return " + ".join(t for t in terms if t)
