"""The trace: every intermediate of a run, the one structure every renderer reads.

Its blocks are torch tensors (:func:`rnncalc.run`), or numpy arrays where the CLI computes a small
exercise on numpy (:func:`rnncalc.engine.compute`); renderers read either (``tolist``, indexing).
Quantities of one layer and direction are kept as ``[T, ...]`` blocks in the order computed (a
backward direction starts at position ``T-1``); :meth:`DirectionTrace.steps` gives per-step views.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rnncalc.arrays import namespace
from rnncalc.model import Exercise

if TYPE_CHECKING:
    import torch

__all__ = ["DirectionTrace", "HeadTrace", "LayerTrace", "Step", "Trace"]


def _list(t: torch.Tensor) -> Any:
    return t.tolist()


@dataclass(frozen=True)
class Step:
    """One step of one layer and direction: ``t`` is the position in the sequence."""

    t: int
    x: torch.Tensor
    h_prev: torch.Tensor
    c_prev: torch.Tensor | None
    pre: dict[str, torch.Tensor]
    act: dict[str, torch.Tensor]
    h: torch.Tensor
    c: torch.Tensor | None
    extra: dict[str, torch.Tensor] = field(default_factory=dict)  # e.g. lstm projection "m"

    def to_dict(self) -> dict[str, Any]:
        out = {
            "t": self.t,
            "x": _list(self.x),
            "pre": {g: _list(v) for g, v in self.pre.items()},
            "act": {g: _list(v) for g, v in self.act.items()},
            "h": _list(self.h),
        }
        if self.c is not None:
            out["c"] = _list(self.c)
        out.update({k: _list(v) for k, v in self.extra.items()})
        return out


@dataclass(frozen=True)
class DirectionTrace:
    """One layer run in one direction; every block is ``[T, ...]`` in the order computed."""

    layer: int
    direction: str  # forward | backward
    positions: tuple[int, ...]  # positions in the order computed
    x: torch.Tensor  # [T, H_in] the inputs this layer read, in the order computed
    h0: torch.Tensor  # [H]
    c0: torch.Tensor | None
    pre: dict[str, torch.Tensor]  # gate -> [T, H]
    act: dict[str, torch.Tensor]
    h: torch.Tensor  # [T, H]
    c: torch.Tensor | None
    extra: dict[str, torch.Tensor] = field(default_factory=dict)  # symbol -> [T, ...], e.g. "m"

    @property
    def h_prev(self) -> torch.Tensor:
        """``h_{t-1}`` of every step, in the order computed: ``[h0, h_0, ..., h_{T-2}]``."""
        return namespace(self.h).concat([self.h0[None], self.h[:-1]])

    @property
    def c_prev(self) -> torch.Tensor | None:
        if self.c is None or self.c0 is None:
            return None
        return namespace(self.c).concat([self.c0[None], self.c[:-1]])

    def step(self, k: int) -> Step:
        """The ``k``-th step computed (not position ``k`` for a backward direction)."""
        # the state before step k alone: building the whole h_prev block per step is O(T^2)
        h_prev = self.h0 if k == 0 else self.h[k - 1]
        c_prev = None if self.c is None or self.c0 is None else self.c0 if k == 0 else self.c[k - 1]
        return Step(
            t=self.positions[k], x=self.x[k], h_prev=h_prev, c_prev=c_prev,
            pre={g: v[k] for g, v in self.pre.items()}, act={g: v[k] for g, v in self.act.items()},
            h=self.h[k], c=None if self.c is None else self.c[k],
            extra={name: v[k] for name, v in self.extra.items()},
        )

    def steps(self) -> Iterator[Step]:
        for k in range(len(self.positions)):
            yield self.step(k)

    def to_list(self, rows: slice = slice(None), convert: Any = _list) -> list[dict[str, Any]]:
        """The JSON steps (those of ``rows``); built from whole blocks at once (``convert``, by
        default ``tolist``, per block, not per step)."""
        x, h = convert(self.x[rows]), convert(self.h[rows])
        c = None if self.c is None else convert(self.c[rows])
        pre = {g: convert(v[rows]) for g, v in self.pre.items()}
        act = {g: convert(v[rows]) for g, v in self.act.items()}
        extra = {name: convert(v[rows]) for name, v in self.extra.items()}
        out = []
        for k, t in enumerate(self.positions[rows]):
            row: dict[str, Any] = {
                "t": t, "x": x[k], "pre": {g: v[k] for g, v in pre.items()},
                "act": {g: v[k] for g, v in act.items()}, "h": h[k],
            }
            if c is not None:
                row["c"] = c[k]
            row.update({name: v[k] for name, v in extra.items()})
            out.append(row)
        return out


@dataclass(frozen=True)
class LayerTrace:
    layer: int
    directions: dict[str, DirectionTrace]


@dataclass(frozen=True)
class HeadTrace:
    """The head applied at every position (``*_t``, ``[T, d_out]``) and to the final state.

    The final state is the top layer's ``h_n``: ``h_{T-1}`` forward, joined with the backward
    state at position 0 (the last it computes) in a bidirectional net.
    """

    task: str
    final_input: torch.Tensor  # [D*H]
    logits: torch.Tensor  # [d_out] = W final_input + b
    probs: torch.Tensor | None
    label: int | None
    logits_t: torch.Tensor  # [T, d_out] = W output_t + b
    probs_t: torch.Tensor | None
    labels_t: tuple[int, ...] | None
    names: tuple[str, ...] | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"task": self.task}
        if self.task == "regression":
            out["y"] = _list(self.logits)
            out["steps"] = [{"t": t, "y": y} for t, y in enumerate(_list(self.logits_t))]
        elif self.task == "classification":
            assert self.probs is not None and self.label is not None
            out.update(logits=_list(self.logits), probs=_list(self.probs), label=self.label)
            if self.names:
                out["name"] = self.names[self.label]
        else:
            assert self.probs_t is not None and self.labels_t is not None
            out["steps"] = []
            for t, (z, p, k) in enumerate(
                zip(_list(self.logits_t), _list(self.probs_t), self.labels_t, strict=True)
            ):
                row: dict[str, Any] = {"t": t, "logits": z, "probs": p, "label": k}
                if self.names:
                    row["name"] = self.names[k]
                out["steps"].append(row)
        return out


@dataclass(frozen=True)
class Trace:
    """A whole run: the exercise, every layer and direction, the outputs, the head."""

    exercise: Exercise
    layers: tuple[LayerTrace, ...]
    output: torch.Tensor  # [T, D*H] top layer, by position, [forward, backward] joined
    h_n: torch.Tensor  # [L*D, H] PyTorch's order
    c_n: torch.Tensor | None
    head: HeadTrace | None
    round_to: int | None = None  # every intermediate rounded to this many decimals (--round)

    def to_dict(self, lazy: bool = False) -> dict[str, Any]:
        """The JSON contract (README, "JSON output"): full-precision numbers. ``lazy``: the
        long parts (each direction's steps, ``output``) left as the trace's own objects, for
        :func:`rnncalc.render.json.stream` to write a piece at a time."""
        ex = self.exercise
        out: dict[str, Any] = {
            "cell": ex.cell,
            "dtype": ex.dtype,
            "sizes": {
                "input": ex.input_size, "hidden": ex.hidden_size, "layers": ex.num_layers,
                "directions": ex.num_directions, "steps": ex.steps,
            },
            "direction": ex.direction,
            "merge_mode": ex.merge_mode,
            "formulation": ex.formulation.to_dict(),
            **({} if ex.backward_formulation is None else {
                "backward_formulation": ex.backward_formulation.to_dict()}),
            "layers": [
                {"layer": lt.layer,
                 "directions": {d: tr if lazy else tr.to_list()
                                for d, tr in lt.directions.items()}}
                for lt in self.layers
            ],
            "output": self.output if lazy else _list(self.output),
            "h_n": _list(self.h_n),
        }
        if self.c_n is not None:
            out["c_n"] = _list(self.c_n)
        if self.round_to is not None:
            out["round"] = self.round_to
        if self.head is not None:
            out["head"] = self.head.to_dict()
        return out

    def _repr_html_(self) -> str:
        """How a notebook (Jupyter) shows a run: the pictures, the stepper and the tables."""
        from rnncalc.pictures.html import fragment

        return '<div class="rnncalc">' + fragment(self) + "</div>"
