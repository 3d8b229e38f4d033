"""``fmt_vector`` writes a vector at once and must read as its numbers one by one: fixed point,
never ``-0.0000``, a nonzero number too small for the precision in significant digits. The rule is
worked here on Python's own ``format`` of each number, for drawn vectors of every kind: zeros of
both signs, numbers at and about the half of the last digit shown, tiny, huge, nan and inf."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from rnncalc.render import fmt, fmt_vector


def shown(value: float, precision: int) -> str:
    """One number as a table shows it, from its fixed-point and significant-digit texts."""
    fixed = format(value, f".{precision}f")
    if math.isnan(value) or math.isinf(value) or any(d in fixed for d in "123456789"):
        return fixed
    return format(0.0, f".{precision}f") if value == 0 else format(
        value, f".{max(precision - 1, 0)}e")


@st.composite
def vectors(draw: st.DrawFn) -> tuple[list[float], int]:
    precision = draw(st.integers(0, 17))
    half = 0.5 * 10.0**-precision  # the half of the last digit shown: zero below, nonzero above
    near_half = st.builds(lambda sign, ulps: sign * _ulps(half, ulps), st.sampled_from([1, -1]),
                          st.integers(-3, 3))
    tiny = st.floats(-half, half, allow_subnormal=True)
    number = (st.floats(allow_nan=True, allow_infinity=True) | near_half | tiny
              | st.sampled_from([0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, 1e300,
                                 -5e-324, 0.5, 9.5, 0.25]))
    values = draw(st.lists(number, max_size=12) | st.lists(tiny | near_half, max_size=12))
    return values, precision


def _ulps(x: float, n: int) -> float:
    for _ in range(abs(n)):
        x = math.nextafter(x, math.inf if n > 0 else -math.inf)
    return x


@settings(max_examples=1500, deadline=None)
@given(vectors())
def test_a_vector_reads_as_its_numbers_one_by_one(drawn):
    values, precision = drawn
    expected = "[" + ", ".join(shown(v, precision) for v in values) + "]"
    assert fmt_vector(values, precision) == expected
    assert "[" + ", ".join(fmt(v, precision) for v in values) + "]" == expected


def test_a_vector_of_tiny_numbers_and_zeros():
    assert fmt_vector([1e-5, -2e-6, 0.0, -0.0], 4) == "[1.000e-05, -2.000e-06, 0.0000, 0.0000]"
    assert fmt_vector([1e-5, -2e-6], 4) == "[1.000e-05, -2.000e-06]"
    assert fmt_vector([math.nan, 1e-5], 2) == "[nan, 1.0e-05]"
    assert fmt_vector([0.4, 0.6, -0.4], 0) == "[4e-01, 1, -4e-01]"
    assert fmt_vector((), 4) == "[]"
