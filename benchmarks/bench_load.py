"""Issue 18: what reading a config costs, per config and in memory (never asserted by the tests).

    python benchmarks/bench_load.py            # both sections
    python benchmarks/bench_load.py --only per-config

1. Per seed config, in one process: reading (YAML), then checking and building, computing, and
   the JSON line, each stage with those before it, in CPU milliseconds, best of several rounds;
   beside them ``json.loads`` of the same config written as JSON, a reference measured in the same
   rounds (its ratio travels between machines and loads better than milliseconds).
2. The 1000-step, 64-unit LSTM config of ``bench_length.py --only grad`` (0.6 MB): the traced peak
   of ``rnncalc.load`` in a fresh process without bytecode (rnncalc's modules compiled as they are
   imported, as with PYTHONDONTWRITEBYTECODE=1 and an editable install), and what it keeps.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_length import config, written  # noqa: E402  (beside this file)


def cpu_ms(fn: Callable[[], object], n: int, rounds: int = 5) -> float:
    """CPU milliseconds of one call of ``fn``: the best of ``rounds`` rounds of ``n`` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, time.process_time() - start)
    return 1000 * best / n


def per_config(n: int) -> None:
    from rnncalc import config as cfg
    from rnncalc.engine import compute
    from rnncalc.jobs import Job

    path = ROOT / "configs" / "lstm.yaml"
    as_json = json.dumps(cfg.read_document(path).data)
    job = Job(render="jsonl")

    def computed() -> object:
        return compute(cfg.build(cfg.read_document(path), path.parent))

    stages = {  # each one the stage before and one more step
        "json.loads of the config as JSON (reference)": lambda: json.loads(as_json),
        "read (YAML)": lambda: cfg.read_document(path),
        "read, check and build": lambda: cfg.build(cfg.read_document(path), path.parent),
        "read, check, build and compute": computed,
        "all, and the JSON line (rnncalc run's job)": lambda: job(str(path)),
    }
    for fn in stages.values():  # warmed: imports, caches
        fn()
    print(f"1. Per seed config (configs/lstm.yaml), CPU ms, best of 5 rounds of {n}, each stage "
          f"with the ones before it; load {os.getloadavg()[0]:.1f}")
    reference = None
    for name, fn in stages.items():
        ms = cpu_ms(fn, n)
        reference = reference or ms
        print(f"  {name:<46} {ms:7.3f} ms  {ms / reference:6.1f}x the reference")
    print(f"  one process: {1000 / ms:,.0f} configs a second (target >= 1000)")


#: A fresh process, no bytecode of rnncalc: the traced peak and what is kept of rnncalc.load.
_PEAK = """
import sys, tracemalloc
import rnncalc, rnncalc.config
tracemalloc.start()
exercise = rnncalc.load(sys.argv[1])
kept, peak = tracemalloc.get_traced_memory()
print(peak / 2**20, kept / 2**20)
"""


def memory() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = written(config(1000, 64), tmp, "long.yaml")
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONPYCACHEPREFIX": str(Path(tmp) / "none")}  # rnncalc's own bytecode unread
        out = subprocess.run([sys.executable, "-c", _PEAK, path], capture_output=True, text=True,
                             env=env, cwd=ROOT, check=True)
        peak, kept = map(float, out.stdout.split())
        size = Path(path).stat().st_size / 2**20
    print(f"2. rnncalc.load of the 1000-step, 64-unit config ({size:.1f} MB), a fresh process "
          "without bytecode: traced peak and what the exercise keeps")
    print(f"  peak {peak:6.2f} MB, kept {kept:6.2f} MB  (target: a few MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["per-config", "memory"])
    parser.add_argument("-n", type=int, default=500, help="calls per round")
    args = parser.parse_args()
    if args.only in (None, "per-config"):
        per_config(args.n)
    if args.only in (None, "memory"):
        memory()


if __name__ == "__main__":
    main()
