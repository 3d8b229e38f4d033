"""The one table of activation functions: each one's formula (for ``formulas``), parameters'
defaults and ONNX spelling, its value on tensors and its slope (for ``grad``).

Every row is ONNX's definition (plus ``identity``), written against the array API
(:mod:`rnncalc.arrays`), so that the same rows compute on numpy and on torch, and this
module imports neither: reading and checking a config (which names activations) stays free of
them, and the arrays that reach :func:`apply` and :func:`slope` bring their library with them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rnncalc.arrays import namespace, relu, sigmoid, softsign

if TYPE_CHECKING:
    import torch

__all__ = ["ACTIVATIONS", "Activation", "ActivationSpec", "activation", "apply", "slope"]

Fn = Callable[[Any, float, float], Any]  # (x, alpha, beta) -> act(x), on tensors
Slope = Callable[[Any, Any, float, float], Any]  # (a, y = act(a), alpha, beta) -> act'(a)


@dataclass(frozen=True)
class ActivationSpec:
    """One activation function: its formula (in x, alpha, beta), its parameters' defaults, its
    ONNX spelling, its value and its slope; at a kink, the one-sided slope torch's autograd
    takes."""

    formula: str
    fn: Fn
    slope: Slope
    alpha: float | None = None
    beta: float | None = None
    onnx: str = ""


def _ones(a: Any) -> Any:
    return namespace(a).ones_like(a)


def _zeros(a: Any) -> Any:
    return namespace(a).zeros_like(a)


def _where(cond: Any, a: Any, b: Any) -> Any:
    return namespace(a).where(cond, a, b)


def _is(cond: Any, like: Any) -> Any:
    """A condition as 1.0 and 0.0 in ``like``'s dtype."""
    return namespace(like).astype(cond, like.dtype)


def _tanh(x: Any) -> Any:
    return namespace(x).tanh(x)


#: Every activation a role may use; ONNX's list plus identity. Defaults are ONNX's.
ACTIVATIONS: dict[str, ActivationSpec] = {
    "sigmoid": ActivationSpec("1 / (1 + exp(-x))", lambda x, a, b: sigmoid(x),
                              lambda z, y, a, b: y * (1 - y), onnx="Sigmoid"),
    "tanh": ActivationSpec("tanh(x)", lambda x, a, b: _tanh(x), lambda z, y, a, b: 1 - y**2,
                           onnx="Tanh"),
    "relu": ActivationSpec("max(0, x)", lambda x, a, b: relu(x),
                           lambda z, y, a, b: _is(z > 0, z), onnx="Relu"),
    "identity": ActivationSpec("x", lambda x, a, b: x, lambda z, y, a, b: _ones(z)),
    "affine": ActivationSpec("alpha*x + beta", lambda x, a, b: a * x + b,
                             lambda z, y, a, b: a * _ones(z), 1.0, 0.0, onnx="Affine"),
    "hard_sigmoid": ActivationSpec(
        "min(max(alpha*x + beta, 0), 1)",
        lambda x, a, b: namespace(x).clip(a * x + b, 0.0, 1.0),
        lambda z, y, a, b: a * _is((a * z + b >= 0) & (a * z + b <= 1), z), 0.2, 0.5,
        onnx="HardSigmoid"),
    "leaky_relu": ActivationSpec(
        "x if x >= 0 else alpha*x", lambda x, a, b: _where(x >= 0, x, a * x),
        lambda z, y, a, b: _where(z >= 0, _ones(z), a * _ones(z)), 0.01, onnx="LeakyRelu"),
    "thresholded_relu": ActivationSpec(
        "x if x > alpha else 0", lambda x, a, b: _where(x > a, x, _zeros(x)),
        lambda z, y, a, b: _is(z > a, z), 1.0, onnx="ThresholdedRelu"),
    "elu": ActivationSpec("x if x >= 0 else alpha*(exp(x) - 1)",
                          lambda x, a, b: _where(x >= 0, x, a * namespace(x).expm1(x)),
                          lambda z, y, a, b: _where(z >= 0, _ones(z), y + a), 1.0, onnx="Elu"),
    "scaled_tanh": ActivationSpec("alpha*tanh(beta*x)", lambda x, a, b: a * _tanh(b * x),
                                  lambda z, y, a, b: a * b * (1 - _tanh(b * z) ** 2), 1.0, 1.0,
                                  onnx="ScaledTanh"),
    "softsign": ActivationSpec("x / (1 + |x|)", lambda x, a, b: softsign(x),
                               lambda z, y, a, b: 1 / (1 + namespace(z).abs(z)) ** 2,
                               onnx="Softsign"),
    # log(1 + e^x) exactly, as ONNX; F.softplus returns x itself above its threshold of 20
    "softplus": ActivationSpec("log(1 + exp(x))",
                               lambda x, a, b: namespace(x).logaddexp(x, _zeros(x)),
                               lambda z, y, a, b: sigmoid(z), onnx="Softplus"),
}

_SPELLINGS = {n.replace("_", ""): n for n in ACTIVATIONS}


def num(x: float) -> str:
    """The shortest text that reads back as ``x``: ``1``, ``0.1``, ``-3.25``."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True)
class Activation:
    """An activation function with its parameters filled in: ``Activation("leaky_relu", 0.1)``."""

    name: str
    alpha: float | None = None
    beta: float | None = None

    def formula(self) -> str:
        text = ACTIVATIONS[self.name].formula
        for symbol, value in (("alpha", self.alpha), ("beta", self.beta)):
            if value is not None:
                text = text.replace(symbol, f"{num(value)}")
        return text

    def __str__(self) -> str:
        params = [f"{k}={num(v)}" for k, v in (("alpha", self.alpha), ("beta", self.beta))
                  if v is not None]
        return self.name + (f"({', '.join(params)})" if params else "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.alpha is not None:
            out["alpha"] = self.alpha
        if self.beta is not None:
            out["beta"] = self.beta
        return out


def activation(name: str, alpha: float | None = None, beta: float | None = None) -> Activation:
    """An :class:`Activation` by name (ours or ONNX's: ``"HardSigmoid"``), defaults filled in.

    Raises ``KeyError`` for an unknown name; the config builder turns that into a located error.

    >>> activation("HardSigmoid")
    Activation(name='hard_sigmoid', alpha=0.2, beta=0.5)
    """
    canonical = _SPELLINGS[name.replace("_", "").lower()]
    spec = ACTIVATIONS[canonical]
    return Activation(
        canonical,
        None if spec.alpha is None else (spec.alpha if alpha is None else float(alpha)),
        None if spec.beta is None else (spec.beta if beta is None else float(beta)),
    )


def apply(act: Activation, x: torch.Tensor) -> torch.Tensor:
    """``act(x)`` element-wise: ``apply(activation("leaky_relu", 0.1), x)``."""
    return ACTIVATIONS[act.name].fn(x, act.alpha or 0.0, act.beta or 0.0)  # type: ignore[no-any-return]


def slope(act: Activation, a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``act'(a)``, from the pre-activation ``a`` and the value ``y = act(a)``."""
    return ACTIVATIONS[act.name].slope(a, y, act.alpha or 0.0, act.beta or 0.0)  # type: ignore[no-any-return]
