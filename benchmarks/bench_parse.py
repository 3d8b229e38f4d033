"""Parse time and peak memory of a large config: rnncalc's loader against PyYAML's own.

    python benchmarks/bench_parse.py            # 1 MB and 10 MB configs
    python benchmarks/bench_parse.py 1 10 30    # sizes in MB
    python benchmarks/bench_parse.py 10 --turns 1

Each config is an RNN exercise whose inputs are one long matrix (rows of 8 numbers written as a
student would, ``-0.25``), the shape of a config that is large for a reason. For each size it
prints, in one process, the CPU time and the peak of Python's allocations (tracemalloc) of

- ``rnncalc``: ``read_document`` + ``check`` (what ``rnncalc validate`` does: read, parse with
  lines, check the structure and the shapes), with ``RNNCALC_MAX_CONFIG_BYTES`` raised to fit;
- ``yaml.compose``: PyYAML's C composer alone (nodes with marks, what rnncalc used to build on);
- ``yaml.load``: PyYAML's C loader (``CSafeLoader``), for reference;
- ``json.loads``: the same data written as JSON, read by the standard library's C parser: about
  the least any reader of the text can take.

Times are the best of three (``--turns N``); the ratio to ``yaml.load`` is what to compare
between machines.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import yaml


def config_text(megabytes: float) -> str:
    row = "  - [" + ", ".join(["-0.25", "0.5", "1", "-1.75", "0.125", "2", "-3", "0.75"]) + "]\n"
    rows = max(1, int(megabytes * 1_000_000) // len(row))
    return ("cell: rnn\nhidden_size: 2\ninputs:\n" + row * rows +
            "weights:\n  weight_ih_l0: [" + ", ".join(["[" + ", ".join(["0.5"] * 8) + "]"] * 2)
            + "]\n  weight_hh_l0: [[0.5, 0], [0, 0.5]]\n")


def measure(run: Callable[[], object], turns: int) -> tuple[float, float]:
    best = float("inf")
    for _ in range(turns):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak / 2**20


def main(sizes: list[float], turns: int = 3) -> None:
    from rnncalc.config import check, read_document

    os.environ["RNNCALC_MAX_CONFIG_BYTES"] = str(int(max(sizes) * 2_000_000))
    print(f"{'size':>8}  {'what':<14} {'CPU s':>7} {'peak MiB':>9} {'x yaml.load':>11}")
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            path = Path(folder) / f"big{size:g}.yaml"
            text = config_text(size)
            path.write_text(text)
            as_json = json.dumps(yaml.load(text, Loader=yaml.CSafeLoader))
            rows = {
                "rnncalc": lambda p=path: check(read_document(p), p.parent),
                "yaml.compose": lambda t=text: yaml.compose(t, Loader=yaml.CSafeLoader),
                "yaml.load": lambda t=text: yaml.load(t, Loader=yaml.CSafeLoader),
                "json.loads": lambda t=as_json: json.loads(t),
            }
            results = {name: measure(run, turns) for name, run in rows.items()}
            reference = results["yaml.load"][0]
            for name, (seconds, peak) in results.items():
                print(f"{len(text) / 1e6:>6.1f}MB  {name:<14} {seconds:>7.2f} {peak:>9.1f} "
                      f"{seconds / reference:>11.2f}")


if __name__ == "__main__":
    args = sys.argv[1:]
    turns = int(args.pop(args.index("--turns") + 1)) if "--turns" in args else 3
    main([float(a) for a in args if a != "--turns"] or [1, 10], turns)
