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

import torch

from rnncalc.model import Head
from rnncalc.trace import HeadTrace

__all__ = ["apply_head"]


def _read(z: torch.Tensor, task: str) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    if task == "regression":
        return None, None
    if z.shape[-1] == 1:
        p = torch.sigmoid(z)
        return p, (p[..., 0] >= 0.5).long()
    p = torch.softmax(z, dim=-1)
    return p, p.argmax(dim=-1)


def apply_head(head: Head, output: torch.Tensor, final: torch.Tensor) -> HeadTrace:
    """``output`` is ``[T, D*H]`` by position, ``final`` the joined final state ``[D*H]``."""
    W = torch.tensor(head.W, dtype=output.dtype)
    b = torch.tensor(head.b, dtype=output.dtype)
    z = final @ W.T + b
    z_t = output @ W.T + b
    p, k = _read(z, head.task)
    p_t, k_t = _read(z_t, head.task)
    return HeadTrace(
        task=head.task, final_input=final, logits=z, probs=p,
        label=None if k is None else int(k), logits_t=z_t, probs_t=p_t,
        labels_t=None if k_t is None else tuple(k_t.tolist()), names=head.labels,
    )
