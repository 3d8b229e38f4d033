"""A batch of sequences: the same weights run on each, one ordinary trace per sequence.

A batch sits above the engine: each sequence is an ordinary :class:`~rnncalc.model.Exercise`
(read from the config's ``batch:``, :mod:`rnncalc.config.batch`), run and differentiated as any
other, so every renderer of one trace serves each sequence. What is the batch's own:

- sequences of different lengths (ONNX ``sequence_lens``; PyTorch's packed sequences): each runs
  to its own end, so its final state is taken at its own last step; the batch's ``output`` is
  padded with zeros past each sequence's end;
- the loss: with ``reduction: mean`` each sequence's loss divides by the whole batch's number of
  terms (as a ``torch.nn`` loss over a batch), so the sequences' losses and gradients add up to the
  batch's; ``grad``'s totals are their sums.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rnncalc.config.batch import Batch
from rnncalc.errors import ExitCode, RnncalcError
from rnncalc.model import Exercise

if TYPE_CHECKING:
    import torch

    from rnncalc.bptt import GradTrace
    from rnncalc.trace import Trace

__all__ = ["Batch", "BatchGrad", "BatchTrace", "BatchUsageError", "backprop", "run"]


class BatchUsageError(RnncalcError):
    """An option a batch does not take (a document format, --explain, --svg): usage."""

    exit_code = ExitCode.USAGE


def _padded(blocks: list[torch.Tensor], steps: int) -> list[Any]:
    """``[B, T_max, ...]``: each sequence's ``[T_b, ...]`` block, zeros past its end."""
    import torch

    return [torch.cat([b, b.new_zeros((steps - len(b), *b.shape[1:]))]).tolist()
            for b in blocks]


@dataclass(frozen=True)
class BatchTrace:
    """One ordinary trace per sequence."""

    batch: Batch
    traces: tuple[Trace, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON of a batch: what the sequences share, the batch axis (``output`` ``[B,
        T_max, width]`` zero-padded, ``h_n`` ``[L*D, B, H]`` as torch's), and under
        ``sequences`` each sequence's own JSON, exactly as if it were run alone."""
        import torch

        seqs = [t.to_dict() for t in self.traces]
        first = seqs[0]
        steps = max(self.batch.lengths)
        out: dict[str, Any] = {k: first[k] for k in ("cell", "dtype")}
        out["sizes"] = {**first["sizes"], "steps": steps, "batch": len(seqs)}
        out.update({k: first[k] for k in ("direction", "merge_mode", "formulation")})
        out["batch"] = {"size": len(seqs), "sequence_lens": list(self.batch.lengths)}
        out["output"] = _padded([t.output for t in self.traces], steps)
        out["h_n"] = torch.stack([t.h_n for t in self.traces], dim=1).tolist()
        if self.traces[0].c_n is not None:
            out["c_n"] = torch.stack([t.c_n for t in self.traces], dim=1).tolist()  # type: ignore[misc]
        out["sequences"] = seqs
        return out


def run(batch: Batch, round_to: int | None = None,
        compute: Callable[..., Trace] | None = None) -> BatchTrace:
    """Run every sequence: ``compute(exercise, round_to=...)``, :func:`rnncalc.engine.run`
    unless given."""
    from rnncalc.engine import run as one

    each = compute or one
    return BatchTrace(batch, tuple(each(ex, round_to=round_to) for ex in batch.exercises))


@dataclass(frozen=True)
class BatchGrad:
    """Each sequence's backward pass, and the batch's loss and gradient totals (their sums)."""

    grads: tuple[GradTrace, ...]
    params: dict[str, torch.Tensor]
    exercise: Exercise  # the first sequence's: the weights' layout and names

    @property
    def value(self) -> float | None:
        values = [g.value for g in self.grads]
        return None if values[0] is None else sum(v for v in values if v is not None)

    def to_dict(self) -> dict[str, Any]:
        first = self.grads[0]
        out: dict[str, Any] = {"loss_type": first.loss.type}
        if self.value is not None:
            out["loss"] = self.value
            out["reduction"] = first.loss.reduction
            if first.loss.denominator is not None:
                out["terms"] = first.loss.denominator
            out["sequence_losses"] = [g.value for g in self.grads]
        out["params"] = {name: v.tolist() for name, v in self.params.items()}
        from rnncalc.gradnames import in_layout

        written = in_layout(self.exercise, self.params)
        if written is not None:
            out["params_as_written"] = written
        out["sequences"] = [g.to_dict() for g in self.grads]
        return out


def backprop(trace: BatchTrace, truncate: int | None = None,
             round_to: int | None = None) -> BatchGrad:
    """Backpropagate each sequence (:func:`rnncalc.bptt.backprop`) and add up the gradients."""
    from rnncalc.bptt import backprop as one

    grads = tuple(one(t, truncate, round_to=round_to) for t in trace.traces)
    params = dict(grads[0].params)
    for g in grads[1:]:
        params = {name: v + g.params[name] for name, v in params.items()}
    return BatchGrad(grads, params, trace.batch.first)
