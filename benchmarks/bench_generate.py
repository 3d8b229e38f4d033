"""How long ``rnncalc exercise`` takes: drawing candidates until one is not degenerate.

Run by hand: ``python benchmarks/bench_generate.py [SEEDS]`` (default 50 seeds per row). Prints,
for a few kinds of exercise, the mean number of candidates drawn and the milliseconds per
exercise (CPU time of this process, so a busy machine does not inflate it), and the time to write
the three files of one exercise in markdown and in LaTeX.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import rnncalc.generate as generate
from rnncalc.generate import Spec, config_text, write_exercise

ROWS = [
    dict(cell="rnn"), dict(cell="lstm"), dict(cell="gru"),
    dict(cell="rnn", numbers="integers"), dict(cell="lstm", numbers="integers"),
    dict(cell="rnn", task="labeling"), dict(cell="lstm", task="bidirectional", layers=2),
    dict(cell="lstm", numbers="tenths", hidden_size=4, input_size=4, steps=6),
]


def main(seeds: int) -> None:
    drawn = [0]
    candidate = generate._candidate

    def counting(*args):  # type: ignore[no-untyped-def]
        drawn[0] += 1
        return candidate(*args)

    generate._candidate = counting  # type: ignore[assignment]
    config_text(Spec())  # imports torch once, outside the timings
    for row in ROWS:
        drawn[0] = 0
        start = time.process_time()
        for seed in range(seeds):
            config_text(Spec(seed=seed, **row))  # type: ignore[arg-type]
        ms = (time.process_time() - start) / seeds * 1000
        print(f"{row!s:75} {drawn[0] / seeds:5.2f} drawn  {ms:7.1f} ms/exercise")
    for fmt in ("markdown", "latex"):
        with tempfile.TemporaryDirectory() as out:
            start = time.process_time()
            write_exercise(Spec(cell="lstm", seed=1, task="labeling"), Path(out), fmt)
            print(f"write_exercise lstm labeling, {fmt}: "
                  f"{(time.process_time() - start) * 1000:.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
