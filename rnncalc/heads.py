r"""Output layers on the top layer of a trace.

.. math::
    z = W h + b                                        (every task)
    y = z                                              regression
    p = \mathrm{softmax}(z),\ \hat{k} = \arg\max_k p_k   classification, labeling
    p = \sigma(z),\ \hat{k} = [p \ge 0.5]               classification with one output

``h`` is the top layer's output at a position (``z_t``, every task) or its final state (``z``):
``h_{T-1}`` forward, joined with the backward state at position 0 in a bidirectional net.
"""

from __future__ import annotations

from typing import Any

from rnncalc.arrays import namespace, sigmoid, softmax
from rnncalc.model import Head
from rnncalc.trace import HeadTrace

__all__ = ["apply_head"]


def _read(z: Any, task: str) -> tuple[Any, Any]:
    if task == "regression":
        return None, None
    xp = namespace(z)
    if z.shape[-1] == 1:
        p = sigmoid(z)
        return p, xp.astype(p[..., 0] >= 0.5, xp.int64)
    p = softmax(z)
    return p, xp.argmax(p, axis=-1)


def apply_head(head: Head, output: Any, final: Any) -> HeadTrace:
    """``output`` is ``[T, D*H]`` by position, ``final`` the joined final state ``[D*H]`` (numpy
    arrays or torch tensors)."""
    xp = namespace(output)
    W = xp.asarray(head.W, dtype=output.dtype)
    b = xp.asarray(head.b, dtype=output.dtype)
    z = final @ W.T + b
    z_t = output @ W.T + b
    p, k = _read(z, head.task)
    p_t, k_t = _read(z_t, head.task)
    return HeadTrace(
        task=head.task, final_input=final, logits=z, probs=p,
        label=None if k is None else int(k), logits_t=z_t, probs_t=p_t,
        labels_t=None if k_t is None else tuple(k_t.tolist()), names=head.labels,
    )
