"""How long ``--explain`` and ``rnncalc check`` take on a big exercise (run by hand, not by tests).

    python benchmarks/bench_explain.py            # LSTM, 64 units, input 32, 20 steps
    python benchmarks/bench_explain.py --steps 5

Prints the time to run, to build every line of arithmetic, to render it as text, to build one
step's lines (``t=1``), and to check an answers file holding every number of the run with one
number wrong (which makes the slip search run its variant exercises). Best of three.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

from bench import best  # benchmarks/ is the script's folder

import rnncalc
from rnncalc.answers import read_answers
from rnncalc.check import check
from rnncalc.explain import explain, parse_selection
from rnncalc.render.explain import render


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--input", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(0)

    def m(rows: int, cols: int) -> list[list[float]]:
        return [[round(rng.uniform(-1, 1), 2) for _ in range(cols)] for _ in range(rows)]

    H, I, T = args.hidden, args.input, args.steps
    weights = {f"W_i{g}": m(H, I) for g in "ifgo"} | {f"W_h{g}": m(H, H) for g in "ifgo"}
    ex = rnncalc.load({"cell": "lstm", "inputs": m(T, I), "weights": weights})
    trace = rnncalc.run(ex)
    lines = explain(trace)
    print(f"LSTM hidden {H}, input {I}, {T} steps: {len(lines)} lines of arithmetic")
    print(f"  run                    {best(lambda: rnncalc.run(ex)):8.3f} s")
    print(f"  explain, every line    {best(lambda: explain(trace)):8.3f} s")
    print(f"  render as text         {best(lambda: render(lines)):8.3f} s "
          f"({len(render(lines)) / 1e6:.1f} MB)")
    one = parse_selection("t=1")
    print(f"  explain t=1 only       {best(lambda: explain(trace, one)):8.3f} s")
    doc = trace.to_dict()
    doc["layers"][0]["directions"]["forward"][1]["h"][0] += 0.5  # one wrong number
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "answers.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        answers = read_answers(str(path), trace.to_dict())
        seconds = best(lambda: check(ex, answers), 1)
        print(f"  check {len(answers.given)} answers    {seconds:8.3f} s")


if __name__ == "__main__":
    main()
