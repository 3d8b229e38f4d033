"""The array namespace the cells' math is written against, once, for numpy and torch alike.

The cells, the engine and the heads compute with operators (``@ + - * /``, ``.T``, indexing) and
the functions of the `array API standard <https://data-apis.org/array-api/>`_, taken from
:func:`namespace`: numpy 2's own namespace for a numpy array (it follows the standard), and
`array-api-compat <https://data-apis.org/array-api-compat/>`_'s for a torch tensor. Small
exercises then run on numpy without importing torch (:func:`rnncalc.engine.compute`), long ones
and every gradient on torch, from the same equations.

The functions the standard lacks are here: on torch each is torch's own one operation (so that
``--round``, which rounds the result of each torch operation, rounds it once, as before), on
numpy its formula. Importing this module imports neither numpy nor torch.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["chunks", "is_array", "logsumexp", "namespace", "relu", "sigmoid", "softmax",
           "softsign"]

_NAMESPACES: dict[type, Any] = {}


def namespace(x: Any) -> Any:
    """The array-API namespace of ``x`` (a numpy array or a torch tensor), looked up once per
    type: ``namespace(x).tanh(x)``."""
    xp = _NAMESPACES.get(type(x))
    if xp is not None:
        return xp
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(x, numpy.ndarray):
        # numpy >= 2 is the standard itself (array-api-compat's wrapper of it would import
        # numpy.testing and f2py: 0.1 s at every start)
        xp = numpy
    elif is_array(x):  # torch needs the wrapper (concat, clip, astype)
        from array_api_compat import torch as xp
    else:
        raise TypeError(f"expected a numpy array or a torch tensor, got {type(x).__name__}")
    _NAMESPACES[type(x)] = xp
    return xp


def is_array(x: Any) -> bool:
    """Whether ``x`` is a numpy array or a torch tensor (importing neither)."""
    if type(x) in _NAMESPACES:
        return True
    numpy, torch = sys.modules.get("numpy"), sys.modules.get("torch")
    return bool((numpy is not None and isinstance(x, numpy.ndarray))
                or (torch is not None and isinstance(x, torch.Tensor)))


def chunks(a: Any, n: int, axis: int = -1) -> tuple[Any, ...]:
    """``a`` cut into ``n`` equal views along its first or last ``axis`` (torch's ``chunk``):
    the gates' blocks."""
    size = a.shape[axis] // n
    if axis == 0:
        return tuple(a[k * size:(k + 1) * size] for k in range(n))
    return tuple(a[..., k * size:(k + 1) * size] for k in range(n))


def sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))``."""
    if hasattr(x, "sigmoid"):
        return x.sigmoid()
    xp = namespace(x)
    # exp(-x) overflows to inf for x < -709 (float64): 1 / inf is the 0 it should be
    return 1 / (1 + xp.exp(-x))


def relu(x: Any) -> Any:
    """``max(0, x)``."""
    if hasattr(x, "relu"):
        return x.relu()
    return namespace(x).maximum(x, 0)


def softsign(x: Any) -> Any:
    """``x / (1 + |x|)``."""
    if hasattr(x, "sigmoid"):  # a torch tensor
        import torch.nn.functional as F

        return F.softsign(x)
    return x / (1 + namespace(x).abs(x))


def softmax(z: Any) -> Any:
    """``softmax`` over the last axis, shifted by the largest value (no overflow)."""
    if hasattr(z, "softmax"):
        return z.softmax(dim=-1)
    xp = namespace(z)
    e = xp.exp(z - xp.max(z, axis=-1, keepdims=True))
    return e / xp.sum(e, axis=-1, keepdims=True)


def logsumexp(z: Any) -> Any:
    """``log sum exp`` over the last axis, shifted by the largest value (no overflow)."""
    if hasattr(z, "logsumexp"):
        return z.logsumexp(dim=-1)
    xp = namespace(z)
    top = xp.max(z, axis=-1, keepdims=True)
    return top[..., 0] + xp.log(xp.sum(xp.exp(z - top), axis=-1))
