r"""Losses on the head's output, and their gradient there, derived by hand.

``z`` is the head's output (regression ``y = z``), at the final state (``target``: one term) or at
every position (``targets``: ``T`` terms); ``N`` the number of terms averaged by ``reduction: mean``
(elements for mse and bce, positions for cross_entropy; 1 for ``sum``; over a whole batch, the
batch's: ``Loss.denominator``). Each term's share of ``L`` (one per row of ``z``) is kept beside
the total: a walkthrough's ``L_1``, ``L_2``.

.. math::
    mse:       L = \frac{1}{N} \sum (z - y)^2                dL/dz = \frac{2}{N} (z - y)
    half_sse:  L = \frac{1}{2} \sum (z - y)^2                dL/dz = z - y
    cross_entropy:
               L = \frac{1}{N} \sum_t (\log \sum_j e^{z_{tj}} - z_{t,k_t})
                                                             dL/dz_t = \frac{1}{N} (p_t - e_{k_t})
    bce:       L = \frac{1}{N} \sum (\log(1 + e^z) - y z)    dL/dz = \frac{1}{N} (\sigma(z) - y)

``p_t = softmax(z_t)``, ``e_k`` the one-hot vector of class ``k``. mse and cross_entropy are
``torch.nn.MSELoss`` and ``torch.nn.CrossEntropyLoss``, bce is ``torch.nn.BCEWithLogitsLoss``, with
the same reduction; the tests hold the formulas to them.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from rnncalc.arrays import logsumexp, namespace, sigmoid, softmax
from rnncalc.model import Loss

__all__ = ["LossGrad", "loss_grad"]


class LossGrad(NamedTuple):
    """Arrays of the kind of the head's outputs (numpy or torch)."""

    value: float
    target: Any  # [n, d_out] (class indices as [n, 1])
    dz: Any  # [n, d_out] dL/dz, n = 1 (final state) or T (every position)
    terms: Any  # [n] each row's term of the loss (they add up to value)


def loss_grad(loss: Loss, z: Any) -> LossGrad:
    """The loss and dL/dz of the head outputs ``z`` ``[n, d_out]`` (one row per term)."""
    xp = namespace(z)
    rows = loss.targets if loss.targets is not None else (loss.target,)
    y = xp.asarray(rows, dtype=z.dtype)
    mean = loss.reduction == "mean"
    if loss.type == "cross_entropy":
        k = xp.astype(y[:, 0], xp.int64)
        n = (loss.denominator or len(z)) if mean else 1
        each = logsumexp(z) - z[xp.arange(len(z)), k]
        return LossGrad(float(each.sum() / n), y,
                        (softmax(z) - xp.eye(z.shape[-1], dtype=z.dtype)[k]) / n, each / n)
    n = (loss.denominator or math.prod(z.shape)) if mean else 1
    if loss.type == "bce":
        each = xp.logaddexp(z, xp.zeros_like(z)) - y * z  # log(1 + e^z) - y z
        return LossGrad(float(each.sum() / n), y, (sigmoid(z) - y) / n, each.sum(-1) / n)
    scale = 0.5 if loss.type == "half_sse" else 1.0 / n
    each = (z - y) ** 2
    return LossGrad(float(scale * each.sum()), y, 2 * scale * (z - y), scale * each.sum(-1))
