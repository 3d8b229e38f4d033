"""Renderers: pure functions of a trace that return text. They never recompute the math."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

__all__ = ["exact", "fmt", "fmt_input", "fmt_vector"]


def fmt(value: float, precision: int) -> str:
    """Fixed-point with ``precision`` digits; never prints ``-0.0000``, and a nonzero number that
    would show as zero gets ``precision`` significant digits instead: ``1.000e-05``."""
    text = f"{value:.{precision}f}"
    if text.strip("-0."):
        return text
    return text.lstrip("-") if value == 0 else f"{value:.{max(precision - 1, 0)}e}"


def fmt_vector(values: Iterable[float], precision: int) -> str:
    """``[0.9866, 1.013e-05]``: computed numbers, each as :func:`fmt` shows it.

    Written at once, one ``%`` for all its numbers (a gradient table has 200,000 of them): all
    in significant digits when each is nonzero and too small to show at ``precision`` (as a
    gradient's often are), else fixed point, then significant digits where a number shows as
    zero.
    """
    values = tuple(values)
    fixed, digits = _templates(len(values), precision)
    small = 0.5 * 10.0**-precision * (1 - 1e-9)  # surely shows as zero
    # (min and max may pass over a nan; it reads "nan" either way)
    if values and -small < min(values) and max(values) < small and 0 not in values:
        return digits % values
    text = fixed % values
    zero = fmt(0, precision)
    if zero not in text:  # none shows as zero (0.0000, -0.0000)
        return text
    each = zip(text[1:-1].split(", "), (digits % values)[1:-1].split(", "), values, strict=True)
    return "[" + ", ".join([f if f.strip("-0.") else d if v else zero for f, d, v in each]) + "]"


@lru_cache
def _templates(n: int, precision: int) -> tuple[str, str]:
    """The ``%`` templates of a vector of ``n`` numbers, in fixed point and in significant
    digits as :func:`fmt` writes them: ``[%.4f, %.4f]``, ``[%.3e, %.3e]``."""
    return tuple("[" + ", ".join([number] * n) + "]"  # type: ignore[return-value]
                 for number in (f"%.{precision}f", f"%.{max(precision - 1, 0)}e"))


def fmt_input(values: list[float]) -> str:
    """Numbers the exercise gives, as written (shortest): ``[1, 2, 3]``, ``[0.5, -1]``."""
    return "[" + ", ".join(exact(v) for v in values) + "]"


def exact(value: float) -> str:
    """A given number as written: ``1``, ``0.5``, ``-0.3`` (never ``-0``)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.10g}"
