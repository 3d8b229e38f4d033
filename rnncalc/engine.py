"""The one way to run an exercise: each cell over time, in each direction, layer on layer; then
the head. :func:`run` owns torch's threads, the rounding (``--round``) and the choice of the fused
path (:mod:`rnncalc.fused`); every command and the API call it.

PyTorch's semantics: the backward direction runs from the last position to the first; the output
at position ``t`` is ``[h_forward_t, h_backward_t]`` (or, with Keras's ``merge_mode``, their sum,
product or average); the next layer reads that output; ``h_n`` lists the final state of each
layer and direction (``layer * D + direction``). A ``reverse`` net runs its one direction
backward.
"""

from __future__ import annotations

import gc

import numpy as np
import torch

from rnncalc import fused
from rnncalc.cells import Params, spec
from rnncalc.heads import apply_head
from rnncalc.limits import check_finite
from rnncalc.model import Exercise, LayerWeights
from rnncalc.rounding import rounding
from rnncalc.trace import DirectionTrace, LayerTrace, Trace

__all__ = ["merge", "params", "run", "run_direction"]

_DTYPES = {"float64": torch.float64, "float32": torch.float32}

#: Multiply-adds in one step of one layer above which torch's threads pay; below, one is faster
#: (the fused kernels and the step loop make one call per step, each a thread synchronisation).
THREADED_WORK = 1_000_000
#: The same for a whole sequence on the fused path, whose gates are a few products of whole
#: [T, ...] blocks, which threads share (a 2000-step, 64-unit LSTM is 65 million).
THREADED_BLOCK_WORK = 16_000_000

_default_threads: int | None = None


def _tensor(values: object, dtype: torch.dtype) -> torch.Tensor:
    """Python numbers as a tensor, through numpy: ten times faster than ``torch.tensor`` on the
    nested tuples of a long sequence or a large layer."""
    with np.errstate(over="ignore"):  # 1e39 in float32 becomes inf: check_finite names it
        return torch.from_numpy(np.array(values, dtype=str(dtype).removeprefix("torch.")))


def params(w: LayerWeights, dtype: torch.dtype) -> Params:
    weight_ih = _tensor(w.weight_ih, dtype)
    weight_hh = _tensor(w.weight_hh, dtype)
    zeros = torch.zeros(weight_ih.shape[0], dtype=dtype)

    def optional(m: tuple[tuple[float, ...], ...] | None) -> torch.Tensor | None:
        return None if m is None else torch.tensor(m, dtype=dtype)

    return Params(
        weight_ih, weight_hh,
        zeros if w.bias_ih is None else torch.tensor(w.bias_ih, dtype=dtype),
        zeros if w.bias_hh is None else torch.tensor(w.bias_hh, dtype=dtype),
        optional(w.weight_hr), optional(w.peephole),
    )


def merge(parts: list[torch.Tensor], mode: str) -> torch.Tensor:
    """Join the directions' outputs (Keras's merge modes); one direction is returned as it is."""
    if len(parts) == 1:
        return parts[0]
    forward, backward = parts
    if mode == "sum":
        return forward + backward
    if mode == "mul":
        return forward * backward
    if mode == "ave":
        return (forward + backward) / 2
    return torch.cat(parts, dim=-1)


def run_direction(ex: Exercise, p: Params, xs: torch.Tensor, h0: torch.Tensor,
                  c0: torch.Tensor | None, layer: int, direction: str) -> DirectionTrace:
    """Step the cell over ``xs`` ``[T, H_in]`` (by position), recording every intermediate."""
    cell = spec(ex.cell)
    positions = tuple(range(len(xs)))
    if direction == "backward":
        positions = positions[::-1]
    h, c = h0, c0
    outs = []
    form = ex.formulation_of(direction)
    for t in positions:
        out = cell.step(p, xs[t], h, c, form)
        h, c = out.h, out.c
        outs.append(out)
    return DirectionTrace(
        layer=layer, direction=direction, positions=positions, x=xs[list(positions)], h0=h0, c0=c0,
        pre={g: torch.stack([o.pre[g] for o in outs]) for g in cell.gates},
        act={g: torch.stack([o.act[g] for o in outs]) for g in cell.gates},
        h=torch.stack([o.h for o in outs]),
        c=None if c0 is None else torch.stack([o.c for o in outs]),  # type: ignore[misc]
        extra={k: torch.stack([o.extra[k] for o in outs]) for k in outs[0].extra},
    )


def run(ex: Exercise, *, round_to: int | None = None) -> Trace:
    """Run ``ex`` and return its full :class:`~rnncalc.trace.Trace`.

    ``round_to=N`` rounds every intermediate to ``N`` decimals before it is used further, as a
    student's sheet does (:mod:`rnncalc.rounding`). As many torch threads as pay
    (:func:`_set_threads`): one for a small exercise.
    """
    _set_threads(ex, round_to)
    return _run(ex, round_to)


def _set_threads(ex: Exercise, round_to: int | None) -> None:
    """With two threads a single tiny call can take 8 ms on a busy machine against 0.1 ms with one;
    a long sequence (on the fused path) or many units gain from torch's default."""
    global _default_threads
    if _default_threads is None:  # the first exercise of this process
        _default_threads = torch.get_num_threads()
        # Every object imported so far (torch's 170,000) lives as long as the process: set aside
        # from the garbage collector, which otherwise walked them all at each full collection
        # (75 ms each here, several in one run of the seed exercise).
        gc.freeze()
    work = len(ex.gates) * ex.hidden_size * (ex.hidden_size + max(ex.input_size, ex.output_size))
    blocks = fused.takes(ex, round_to)
    pays = work >= THREADED_WORK or (blocks and work * ex.steps >= THREADED_BLOCK_WORK)
    threads = _default_threads if pays else 1
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def _run(ex: Exercise, round_to: int | None) -> Trace:
    dtype = _DTYPES[ex.dtype]
    with torch.no_grad(), rounding(round_to):
        xs = _tensor(ex.inputs, dtype)
        h0 = torch.tensor(ex.h0, dtype=dtype)
        c0 = None if ex.c0 is None else torch.tensor(ex.c0, dtype=dtype)
        layers, finals_h, finals_c = [], [], []
        # a long sequence in PyTorch's formulation: every step at once (rnncalc.fused)
        use_fast = fused.takes(ex, round_to)
        run_dir = fused.run_direction if use_fast else run_direction
        for layer, row in enumerate(ex.weights):
            dirs = {}
            for d, (direction, w) in enumerate(zip(ex.directions, row, strict=True)):
                k = layer * ex.num_directions + d
                dirs[direction] = run_dir(ex, params(w, dtype), xs, h0[k],
                                          None if c0 is None else c0[k], layer, direction)
                finals_h.append(dirs[direction].h[-1])
                if c0 is not None:
                    finals_c.append(dirs[direction].c[-1])  # type: ignore[index]
            layers.append(LayerTrace(layer, dirs))
            # by position: the backward blocks were computed last-to-first
            xs = merge([tr.h if tr.direction == "forward" else tr.h.flip(0)
                        for tr in dirs.values()], ex.merge_mode)
        h_n = torch.stack(finals_h)
        head = None
        if ex.head is not None:
            final = merge(list(h_n[-ex.num_directions:]), ex.merge_mode)
            head = apply_head(ex.head, xs, final)
        trace = Trace(
            exercise=ex, layers=tuple(layers), output=xs, h_n=h_n,
            c_n=torch.stack(finals_c) if finals_c else None, head=head, round_to=round_to,
        )
        check_finite(trace, ex.source)  # an overflow would show as nan or blank cells
        return trace
