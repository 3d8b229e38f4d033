"""Renderers: pure functions of a trace that return text. They never recompute the math."""

from __future__ import annotations

__all__ = ["fmt", "fmt_vector"]


def fmt(value: float, precision: int) -> str:
    """Fixed-point with ``precision`` digits; never prints ``-0.0000``."""
    text = f"{value:.{precision}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def fmt_vector(values: list[float], precision: int) -> str:
    """``[0.9866, 0.9051]``; inputs that are whole numbers print as such: ``[1, 2, 3]``."""
    return "[" + ", ".join(fmt(v, precision) for v in values) + "]"


def fmt_input(values: list[float], precision: int) -> str:
    if all(float(v).is_integer() for v in values):
        return "[" + ", ".join(str(int(v)) for v in values) + "]"
    return fmt_vector(values, precision)
