"""rnncalc: a calculator for recurrent-network exercises (RNN, LSTM, GRU, ...), every gate recorded.

>>> import rnncalc
>>> trace = rnncalc.run(rnncalc.load(cell="rnn"))        # the seed's RNN regression exercise
>>> round(trace.to_dict()["head"]["y"][0], 4)
0.9983

``load`` reads a YAML file, ``"-"`` (stdin) or a dict; ``run`` returns a typed
:class:`~rnncalc.trace.Trace` whose ``to_dict()`` is the JSON contract. torch is imported only
when something is computed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnncalc.errors import ConfigError, ExitCode, RnncalcError

if TYPE_CHECKING:
    from rnncalc.config import load
    from rnncalc.model import Exercise
    from rnncalc.trace import Trace

__all__ = ["ConfigError", "Exercise", "ExitCode", "RnncalcError", "Trace", "load", "run"]
__version__ = "0.1.0"


def run(exercise: Exercise, *, round_to: int | None = None) -> Trace:
    """Run an exercise (``round_to=N``: as a student rounding to N decimals); see
    :func:`rnncalc.engine.run`."""
    from rnncalc.engine import run as _run

    return _run(exercise, round_to=round_to)


def __getattr__(name: str) -> Any:
    # imported on first use, so that `import rnncalc.cli` (every --help) reads no YAML machinery
    if name == "load":
        from rnncalc.config import load

        return load
    if name == "Exercise":
        from rnncalc.model import Exercise

        return Exercise
    if name == "Trace":
        from rnncalc.trace import Trace

        return Trace
    raise AttributeError(name)
