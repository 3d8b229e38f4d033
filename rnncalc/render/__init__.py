"""Renderers: pure functions of a trace that return text. They never recompute the math."""

from __future__ import annotations

__all__ = ["exact", "fmt", "fmt_input", "fmt_vector"]


def fmt(value: float, precision: int) -> str:
    """Fixed-point with ``precision`` digits; never prints ``-0.0000``, and a nonzero number that
    would show as zero gets ``precision`` significant digits instead: ``1.000e-05``."""
    text = f"{value:.{precision}f}"
    if text.strip("-0."):
        return text
    return text.lstrip("-") if value == 0 else f"{value:.{max(precision - 1, 0)}e}"


def fmt_vector(values: list[float], precision: int) -> str:
    """``[0.9866, 0.9051]``: computed numbers, each as :func:`fmt` shows it."""
    return "[" + ", ".join(fmt(v, precision) for v in values) + "]"


def fmt_input(values: list[float]) -> str:
    """Numbers the exercise gives, as written (shortest): ``[1, 2, 3]``, ``[0.5, -1]``."""
    return "[" + ", ".join(exact(v) for v in values) + "]"


def exact(value: float) -> str:
    """A given number as written: ``1``, ``0.5``, ``-0.3`` (never ``-0``)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.10g}"
