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

import contextlib
import dataclasses
import gc
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from rnncalc.arrays import namespace
from rnncalc.cells import Params, spec
from rnncalc.heads import apply_head
from rnncalc.limits import check_finite
from rnncalc.trace import DirectionTrace, HeadTrace, LayerTrace, Trace

if TYPE_CHECKING:
    import torch

    from rnncalc.model import Exercise, LayerWeights

__all__ = ["arithmetic", "as_torch", "compute", "merge", "params", "run", "run_direction", "small"]

#: Multiply-adds in one step of one layer above which torch's threads pay; below, one is faster
#: (the fused kernels and the step loop make one call per step, each a thread synchronisation).
THREADED_WORK = 1_000_000
#: The same for a whole sequence on the fused path, whose gates are a few products of whole
#: [T, ...] blocks, which threads share (a 2000-step, 64-unit LSTM is 65 million).
THREADED_BLOCK_WORK = 16_000_000

_default_threads: int | None = None


def _array(values: object, dtype: str) -> np.ndarray:
    """Python numbers as a numpy array: ten times faster than ``torch.tensor`` on the nested
    tuples of a long sequence or a large layer (torch then shares its memory). Called where
    numpy's overflow warnings are off: 1e39 in float32 becomes inf, which check_finite names."""
    return np.array(values, dtype=dtype)


def _arrays(w: LayerWeights, dtype: str) -> tuple[np.ndarray | None, ...]:
    """One layer and direction's weights as numpy arrays, in :class:`Params`' order."""
    weight_ih = _array(w.weight_ih, dtype)
    zeros = np.zeros(weight_ih.shape[0], dtype=dtype)

    def optional(m: tuple[tuple[float, ...], ...] | None) -> np.ndarray | None:
        return None if m is None else _array(m, dtype)

    return (weight_ih, _array(w.weight_hh, dtype),
            zeros if w.bias_ih is None else _array(w.bias_ih, dtype),
            zeros if w.bias_hh is None else _array(w.bias_hh, dtype),
            optional(w.weight_hr), optional(w.peephole))


def _torch() -> Any:
    """torch, imported; at the first import, torch's threads noted and everything imported so
    far set aside from the garbage collector."""
    import torch

    global _default_threads
    if _default_threads is None:  # the first exercise of this process on torch
        _default_threads = torch.get_num_threads()
        # Every object imported so far (torch's 170,000) lives as long as the process: set aside
        # from the garbage collector, which otherwise walked them all at each full collection
        # (75 ms each here, several in one run of the seed exercise).
        gc.freeze()
    return torch


def _to_torch(a: Any) -> Any:
    """A numpy array as a tensor sharing its memory (a flipped one copied: torch refuses
    negative strides)."""
    if not isinstance(a, np.ndarray):
        return a
    return _torch().from_numpy(a.copy() if any(s < 0 for s in a.strides) else a)


def params(w: LayerWeights, dtype: Any) -> Params:
    """One layer and direction's weights as arrays of ``dtype``: torch tensors for a torch dtype,
    numpy arrays for a numpy one (a numpy trace's)."""
    name = str(dtype)
    convert = _to_torch if name.startswith("torch.") else (lambda a: a)
    with np.errstate(over="ignore"):
        return Params(*(convert(a) for a in _arrays(w, name.removeprefix("torch."))))


def merge(parts: list[Any], mode: str) -> Any:
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
    return namespace(forward).concat(parts, axis=-1)


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
    stack = namespace(xs).stack
    return DirectionTrace(
        layer=layer, direction=direction, positions=positions, x=xs[list(positions)], h0=h0, c0=c0,
        pre={g: stack([o.pre[g] for o in outs]) for g in cell.gates},
        act={g: stack([o.act[g] for o in outs]) for g in cell.gates},
        h=stack([o.h for o in outs]),
        c=None if c0 is None else stack([o.c for o in outs]),
        extra={k: stack([o.extra[k] for o in outs]) for k in outs[0].extra},
    )


def run(ex: Exercise, *, round_to: int | None = None) -> Trace:
    """Run ``ex`` and return its full :class:`~rnncalc.trace.Trace`, of torch tensors.

    ``round_to=N`` rounds every intermediate to ``N`` decimals before it is used further, as a
    student's sheet does (:mod:`rnncalc.rounding`). A small exercise is computed on numpy
    (:func:`compute`) and its arrays handed over to torch without a copy; torch is imported first,
    so that a long sequence takes its fused kernel.
    """
    _torch()
    return as_torch(compute(ex, round_to=round_to))


#: Multiply-adds in one step of one layer from which torch (its threads) computes it, whatever the
#: sequence's length; below, numpy's smaller cost per operation wins in the step loop (measured:
#: benchmarks/bench.py --only arrays).
NUMPY_WORK = 1_000_000
#: What numpy's step loop costs a step of one layer and direction: the step's few dozen small
#: operations, and its multiply-adds (about 20 us, plus 1 ns each, here).
NUMPY_STEP, NUMPY_MAC = 20e-6, 1e-9
#: Seconds of numpy's step loop below which a long sequence does not wait for torch's import
#: (about 1 s here) to run torch's fused kernel, when torch is not imported yet.
NUMPY_BEFORE_TORCH = 0.5


def small(ex: Exercise, round_to: int | None = None) -> bool:
    """Whether :func:`compute` takes numpy: not rounded (``--round`` is a torch function mode),
    a step too small for torch's threads to pay, and no long sequence that torch's fused kernel
    computes (:func:`rnncalc.fused.takes`), unless torch is not imported yet and the exercise
    is in float64 or numpy's step loop takes less time than torch's import."""
    from rnncalc import fused

    if round_to is not None or _work(ex) >= NUMPY_WORK:
        return False
    if not fused.takes(ex):
        return True
    if "torch" in sys.modules:
        return False
    # torch has no fused float64 kernel: there its fast path is no faster than numpy's loop
    # (0.8-0.9x at 200 steps of 64 units or fewer, 2-3x slower at 10,000: bench.py --only
    # arrays, bench_length.py --only growth), so a float64 run never waits for its import
    loop = ex.num_layers * ex.num_directions * ex.steps * (NUMPY_STEP + _work(ex) * NUMPY_MAC)
    return ex.dtype == "float64" or loop < NUMPY_BEFORE_TORCH


def compute(ex: Exercise, *, round_to: int | None = None, arrays: str | None = None) -> Trace:
    """:func:`run`'s trace, of numpy arrays when ``ex`` is :func:`small` (no torch imported),
    else of torch tensors; ``arrays`` (``"numpy"``, ``"torch"``) says which. The renderers read
    either; :func:`as_torch` makes one of the other."""
    if arrays is None:
        arrays = "numpy" if small(ex, round_to) else "torch"
    if arrays == "numpy":
        with arithmetic(True, None):
            return _run(ex, None, lambda a: a)
    _set_threads(ex, round_to)
    with arithmetic(False, round_to):
        return _run(ex, round_to, _to_torch)


@contextlib.contextmanager
def arithmetic(on_numpy: bool, round_to: int | None) -> Iterator[None]:
    """How a pass computes: on numpy with its overflow warnings off (an overflow is inf or nan,
    which check_finite names), or on torch without autograd, rounded under ``--round``
    (:mod:`rnncalc.rounding`, a torch function mode: a rounded pass is torch's)."""
    if on_numpy:
        if round_to is not None:
            raise ValueError("--round computes on torch (its rounding is a torch function mode)")
        with np.errstate(all="ignore"):
            yield
        return
    import torch

    from rnncalc.rounding import rounding

    with torch.no_grad(), rounding(round_to), np.errstate(all="ignore"):
        yield


def as_torch(trace: Trace) -> Trace:
    """``trace`` with torch tensors for numpy arrays (sharing their memory)."""
    return _convert(trace, _to_torch) if isinstance(trace.output, np.ndarray) else trace


def _convert(obj: Any, convert: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return convert(obj)
    if isinstance(obj, dict):
        return {k: _convert(v, convert) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(_convert(v, convert) for v in obj)
    if isinstance(obj, Trace | LayerTrace | DirectionTrace | HeadTrace):
        return dataclasses.replace(obj, **{  # type: ignore[arg-type]
            f.name: _convert(getattr(obj, f.name), convert)
            for f in dataclasses.fields(obj) if f.name != "exercise"})
    return obj


def _work(ex: Exercise) -> int:
    """Multiply-adds in one step of one layer."""
    return len(ex.gates) * ex.hidden_size * (ex.hidden_size + max(ex.input_size, ex.output_size))


def _set_threads(ex: Exercise, round_to: int | None) -> None:
    """With two threads a single tiny call can take 8 ms on a busy machine against 0.1 ms with one;
    a long sequence (on the fused path) or many units gain from torch's default."""
    from rnncalc import fused

    torch = _torch()
    work = _work(ex)
    blocks = fused.takes(ex, round_to)
    pays = work >= THREADED_WORK or (blocks and work * ex.steps >= THREADED_BLOCK_WORK)
    threads = _default_threads if pays else 1
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def _run(ex: Exercise, round_to: int | None, convert: Any) -> Trace:
    """The run on the arrays ``convert`` makes of numpy ones (the same, or torch tensors)."""
    from rnncalc import fused

    dtype = ex.dtype
    xs = convert(_array(ex.inputs, dtype))
    h0 = convert(_array(ex.h0, dtype))
    c0 = None if ex.c0 is None else convert(_array(ex.c0, dtype))
    xp = namespace(xs)
    layers, finals_h, finals_c = [], [], []
    # a long sequence in PyTorch's formulation: every step at once (rnncalc.fused)
    run_dir = fused.run_direction if fused.takes(ex, round_to) and xp is not np else \
        run_direction
    for layer, row in enumerate(ex.weights):
        dirs = {}
        for d, (direction, w) in enumerate(zip(ex.directions, row, strict=True)):
            k = layer * ex.num_directions + d
            p = Params(*(convert(a) for a in _arrays(w, dtype)))
            dirs[direction] = run_dir(ex, p, xs, h0[k], None if c0 is None else c0[k], layer,
                                      direction)
            finals_h.append(dirs[direction].h[-1])
            if c0 is not None:
                finals_c.append(dirs[direction].c[-1])  # type: ignore[index]
        layers.append(LayerTrace(layer, dirs))
        # by position: the backward blocks were computed last-to-first
        xs = merge([tr.h if tr.direction == "forward" else xp.flip(tr.h, axis=0)
                    for tr in dirs.values()], ex.merge_mode)
    h_n = xp.stack(finals_h)
    head = None
    if ex.head is not None:
        final = merge(list(h_n[-ex.num_directions:]), ex.merge_mode)
        head = apply_head(ex.head, xs, final)
    trace = Trace(
        exercise=ex, layers=tuple(layers), output=xs, h_n=h_n,
        c_n=xp.stack(finals_c) if finals_c else None, head=head, round_to=round_to,
    )
    check_finite(trace, ex.source)  # an overflow would show as nan or blank cells
    return trace
