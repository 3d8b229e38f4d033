"""Reading a long exercise from numpy's files against the same numbers in YAML (issue 18, "Input
at length": a 512-unit net's weights in YAML add seconds).

    python benchmarks/bench_npz.py                  # H=512 units, T=2000 steps, 64 inputs
    python benchmarks/bench_npz.py 512 10000 64     # H T input_size

One LSTM exercise, written twice in one folder: ``yaml.yaml`` with every number in YAML (as
``repr`` writes a float64), and ``npz.yaml`` naming ``x.npy`` (``inputs_file``) and ``w.npz``
(``weights_file``). For each it prints, in one process, the best of three of the CPU time of
``rnncalc.load(path)`` (read, check, build the exercise: everything before computing, which is the
same for both), its peak of Python's allocations (tracemalloc, one more run) and the ratio. The
two exercises are checked equal first. Then ``rnncalc validate`` of each as a whole process, as a
user meets it (it reads and checks everything, computes nothing), wall time, in turns, best of 2.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import yaml


def write(folder: Path, hidden: int, steps: int, inputs: int) -> None:
    rng = np.random.default_rng(18)
    weights = {
        "weight_ih_l0": rng.uniform(-0.1, 0.1, (4 * hidden, inputs)),
        "weight_hh_l0": rng.uniform(-0.1, 0.1, (4 * hidden, hidden)),
        "bias_ih_l0": rng.uniform(-0.1, 0.1, 4 * hidden),
        "bias_hh_l0": rng.uniform(-0.1, 0.1, 4 * hidden),
    }
    x = rng.standard_normal((steps, inputs))
    np.save(folder / "x.npy", x)
    np.savez(folder / "w.npz", **weights)
    (folder / "npz.yaml").write_text("cell: lstm\ninputs_file: x.npy\nweights_file: w.npz\n")
    inline = {"cell": "lstm", "inputs": x.tolist(),
              "weights": {k: v.tolist() for k, v in weights.items()}}
    (folder / "yaml.yaml").write_text(yaml.dump(inline, Dumper=yaml.CSafeDumper,
                                                default_flow_style=True, width=10**9))


def measure(path: Path, runs: int = 3) -> tuple[float, float]:
    import rnncalc

    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        rnncalc.load(path)
        best = min(best, time.process_time() - start)
    tracemalloc.start()
    rnncalc.load(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak / 2**20


def main(hidden: int, steps: int, inputs: int) -> None:
    import rnncalc

    os.environ["RNNCALC_MAX_CONFIG_BYTES"] = str(10**10)
    os.environ["RNNCALC_MAX_VALUES"] = str(10**9)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write(folder, hidden, steps, inputs)
        a, b = rnncalc.load(folder / "yaml.yaml"), rnncalc.load(folder / "npz.yaml")
        assert (a.inputs, a.weights) == (b.inputs, b.weights), "the two exercises differ"
        numbers = steps * inputs + 4 * hidden * (inputs + hidden + 2)
        print(f"LSTM H={hidden} T={steps} input={inputs}: {numbers:,} numbers; "
              f"YAML {(folder / 'yaml.yaml').stat().st_size / 1e6:.1f} MB, .npy + .npz "
              f"{sum((folder / f).stat().st_size for f in ('x.npy', 'w.npz')) / 1e6:.1f} MB")
        print(f"{'config':<28} {'CPU s':>7} {'peak MiB':>9}")
        results = {}
        for label, file in (("YAML (every number)", "yaml.yaml"),
                            ("inputs_file + weights_file", "npz.yaml")):
            results[label] = measure(folder / file, runs=2 if file == "yaml.yaml" else 3)
            print(f"{label:<28} {results[label][0]:>7.2f} {results[label][1]:>9.0f}")
        (ty, my), (tn, mn) = results.values()
        print(f"YAML / numpy files: {ty / tn:.1f}x the time, {my / mn:.1f}x the peak")
        walls: dict[str, float] = {"yaml.yaml": float("inf"), "npz.yaml": float("inf")}
        for _ in range(2):
            for file in walls:
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "rnncalc", "validate", str(folder / file)],
                               check=True, env=os.environ)
                walls[file] = min(walls[file], time.perf_counter() - start)
        print(f"rnncalc validate, whole process: YAML {walls['yaml.yaml']:.2f} s, numpy files "
              f"{walls['npz.yaml']:.2f} s ({walls['yaml.yaml'] / walls['npz.yaml']:.1f}x)")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]] or [512, 2000, 64]
    main(*args)
