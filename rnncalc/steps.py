"""Which steps a table shows: ``--steps 0:3,-2:``, ``--steps all``, or by default all of a short
run and the first and last few of a long one, the gap marked. JSON always holds every step.

Ranges are Python slices of the positions ``0 .. T-1`` (negative counts from the end; a third
part is the stride, ``::100`` every hundredth); a single number is one position. A selection that
picks none of a run's steps is a usage error.

>>> shown([0, 1, 2, 3, 4, 5], "0:2,-1:")
[0, 1, None, 5]
>>> shown([0, 1, 2, 3, 4, 5], "::2")
[0, None, 2, None, 4, None]
>>> shown([5, 4, 3, 2, 1, 0], "0:2,-1:")  # a backward direction: positions in the order computed
[0, None, 4, 5]
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rnncalc.errors import ExitCode, RnncalcError

__all__ = ["DEFAULT", "LONG", "StepsError", "parse_steps", "shown"]

#: A run longer than this many steps shows DEFAULT unless ``--steps`` says otherwise.
LONG = 20
DEFAULT = "0:5,-5:"


class StepsError(RnncalcError):
    """A ``--steps`` selection that picks none of a run's steps: a usage error."""

    exit_code = ExitCode.USAGE


_ITEM = re.compile(r"^\s*(-?\d+)?\s*(:)?\s*(-?\d+)?\s*(?::\s*(-?\d+)?\s*)?$")


def parse_steps(spec: str) -> list[slice] | None:
    """``"0:3,-2:"`` -> slices; ``"all"`` -> ``None``. A bad spec raises ``ValueError``."""
    if spec.strip().lower() == "all":
        return None
    out = []
    for item in spec.split(","):
        m = _ITEM.match(item)
        if not item.strip() or not m:
            raise ValueError(f"expected 'all' or ranges like 0:3,-2: (Python slices of the "
                             f"positions); got {spec!r}")
        start, colon, stop, stride = m.groups()
        if stride is not None and (not colon or int(stride) == 0):
            raise ValueError(f"expected a stride after two colons, not 0 (::100); got {spec!r}")
        if colon:
            out.append(slice(None if start is None else int(start),
                             None if stop is None else int(stop),
                             None if stride is None else int(stride)))
        elif start is not None and stop is None:
            k = int(start)
            out.append(slice(k, k + 1 if k != -1 else None))
        else:
            raise ValueError(f"expected 'all' or ranges like 0:3,-2:; got {spec!r}")
    return out


def shown(order: Sequence[int], spec: str | None = None) -> list[int | None]:
    """Indices into ``order`` (the positions in the order computed) to show, ``None`` marking
    the rows left out between them."""
    steps = len(order)
    if spec is None:
        spec = "all" if steps <= LONG else DEFAULT
    slices = parse_steps(spec)
    if slices is None:
        return list(range(steps))
    chosen = {t for s in slices for t in range(steps)[s]}
    if not chosen:  # ranges that pick some steps may run past the end, as slices do
        raise StepsError(f"--steps: {spec!r} picks none of this run's {steps} steps (positions "
                         f"0 to {steps - 1}, or -{steps} to -1 from the end)")
    out: list[int | None] = []
    for k, t in enumerate(order):
        if t in chosen:
            out.append(k)
        elif not out or out[-1] is not None:
            out.append(None)
    return out


def gap_size(rows: Sequence[int | None], i: int, steps: int) -> int:
    """How many steps the gap at ``rows[i]`` (``None``) stands for."""
    before = rows[i - 1] if i > 0 else -1
    after = rows[i + 1] if i + 1 < len(rows) else steps
    return (after if after is not None else steps) - (before if before is not None else -1) - 1
