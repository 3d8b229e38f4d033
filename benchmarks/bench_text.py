"""Issue 18: grad's text at length. ``rnncalc grad``'s tables of a 1000-step, 64-unit float64
LSTM with an mse head (5.3 MB of text, about 216,000 numbers at the default ``--steps``), rendered
in this process from one computed GradTrace, in turns with its references:

- the forward tables of the same config (what ``rnncalc lstm -c`` writes, and grad writes first);
- the same vectors written number by number by ``fmt`` (the rule ``fmt_vector`` writes at once).

    python benchmarks/bench_text.py [REPS]

Times are CPU seconds of this process (``time.process_time``), best of REPS; other work on the
machine slows both sides of a turn alike.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(__file__))
from bench_length import config, row, spread, written


def main(reps: int) -> None:
    import rnncalc
    from rnncalc.bptt import backprop
    from rnncalc.render import fmt, fmt_vector
    from rnncalc.render import grad as render_grad
    from rnncalc.render.table import render as forward_tables
    from rnncalc.render.table import to_text

    with tempfile.TemporaryDirectory() as tmp:
        ex = rnncalc.load(written(config(1000, 64), tmp, "long.yaml"))
    trace = rnncalc.run(ex)
    g = backprop(trace, steps=None)
    vectors: list[tuple[float, ...]] = []  # every vector the grad sections format
    render_grad.fmt_vector = lambda v, p: vectors.append(tuple(v)) or fmt_vector(v, p)  # type: ignore[assignment]
    render_grad.to_rich(render_grad.sections(g, steps=None)(trace, False), 4)
    render_grad.fmt_vector = fmt_vector

    def timed(fn: Callable[[], object]) -> float:
        start = time.process_time()
        fn()
        return time.process_time() - start

    def grad_tables() -> str:  # what grad adds to the forward tables
        return to_text(render_grad.to_rich(render_grad.sections(g, steps=None)(trace, False), 4),
                       width=80)

    cases: dict[str, Callable[[], object]] = {
        "grad tables": grad_tables,
        "forward tables": lambda: to_text(forward_tables(trace), width=80),
        "grad, all it writes": lambda: to_text(render_grad.render(trace, g, "table"), width=80),
        "grad, all it writes, colour": lambda: to_text(render_grad.render(trace, g, "table"),
                                                       width=80, color=True),
        "fmt_vector": lambda: [fmt_vector(v, 4) for v in vectors],
        "number by number": lambda: ["[" + ", ".join(fmt(x, 4) for x in v) + "]"
                                     for v in vectors],
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(reps):
        for name, fn in cases.items():
            times[name].append(timed(fn))
    best = {name: min(t) for name, t in times.items()}
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f}; {len(grad_tables())} "
          f"characters of grad tables, {sum(map(len, vectors))} numbers; CPU s, best of {reps}")
    row("grad tables, against the forward tables", best["grad tables"],
        best["forward tables"], "none")
    row("grad, all it writes, against the forward tables", best["grad, all it writes"],
        best["forward tables"], "none")
    row("(the same in colour)", best["grad, all it writes, colour"], best["forward tables"],
        "none")
    row("fmt_vector, against number by number", best["fmt_vector"], best["number by number"],
        "< 1")
    print("  runs: " + "; ".join(f"{name} {spread(t)}" for name, t in times.items()))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
