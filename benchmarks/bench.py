"""Issue 6's figures, each as a ratio against its reference measured side by side in this run.

    python benchmarks/bench.py              # every figure (several minutes)
    python benchmarks/bench.py --quick      # fewer repetitions and smaller batches
    python benchmarks/bench.py --only long  # one section: startup, compute, batch, jobs, long,
                                            # memory, output, peer, arrays

Times are the best of several runs (the least disturbed by other work on the machine). Never
run by the tests: speed is shown here, not asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# the long sequences record more numbers than rnncalc's default guard allows (rnncalc.limits)
os.environ.setdefault("RNNCALC_MAX_VALUES", "100000000")
ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
RNNCALC = [sys.executable, "-m", "rnncalc"]
PY = sys.executable


def best(fn: Callable[[], object], reps: int = 3) -> float:
    """The best of ``reps`` timed calls (shared by the other benchmark scripts)."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def paired(reference: Callable[[], object], measured: Callable[[], object],
           reps: int) -> tuple[float, float]:
    """The best of ``reps`` calls of each, taken in turns (reference, measured, reference, ...),
    so that a burst of other work on the machine falls on both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(reps):
        for fn, out in zip((reference, measured), times, strict=True):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return min(times[0]), min(times[1])


def command(args: list[str], env: dict[str, str] | None = None,
            bytecode: bool = True) -> Callable[[], None]:
    """A call of ``args`` as a subprocess, output discarded, the file cache warmed.
    ``bytecode``: as an installed package, its bytecode compiled (else every start recompiles
    rnncalc, as with PYTHONDONTWRITEBYTECODE=1 and an editable install)."""
    full_env = {**os.environ, **(env or {})}
    if bytecode:
        full_env.pop("PYTHONDONTWRITEBYTECODE", None)

    def once() -> None:
        subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=full_env,
                       text=True, cwd=ROOT, check=False)

    once()
    return once


def without_bytecode() -> None:
    """Remove rnncalc's compiled bytecode (``__pycache__``), which the rows with bytecode wrote:
    PYTHONDONTWRITEBYTECODE=1 stops Python writing it, not reading it, so the rows without
    bytecode would read it and measure the rows with."""
    for cache in (ROOT / "rnncalc").rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def shell(args: list[str], reps: int, env: dict[str, str] | None = None) -> float:
    return best(command(args, env), reps)


def row(name: str, value: float, reference: float, target: str, unit: str = "s") -> None:
    ratio = value / reference
    print(f"  {name:<46} {value:9.4f} {unit}  ref {reference:9.4f} {unit}  "
          f"ratio {ratio:6.2f}  (target {target})")


def startup(reps: int) -> None:
    print("1. Commands that compute nothing, against `python -c 'import typer, rich, yaml'` "
          "(run in turns with each); with bytecode written (as an installed package has it) and "
          "without (PYTHONDONTWRITEBYTECODE=1 and an editable install: every start compiles)")
    lines = [["--help"], ["lstm", "--help"], ["run", "--help"], ["validate", str(CONFIGS)],
             ["init", "lstm"], ["schema"], ["formulas", "gru"],
             ["answers-template", str(CONFIGS / "lstm.yaml")]]
    for bytecode in (True, False):
        env = None if bytecode else {"PYTHONDONTWRITEBYTECODE": "1"}
        if not bytecode:
            without_bytecode()
        reference = command([PY, "-c", "import typer, rich, yaml"], env, bytecode)
        for args in lines:
            ref, value = paired(reference, command([*RNNCALC, *args], env, bytecode), reps)
            row("rnncalc " + " ".join(a.replace(str(ROOT) + "/", "") for a in args)
                + ("" if bytecode else " (no bytecode)"), value, ref, "<= 1.5")
    completion = {"_RNNCALC_COMPLETE": "complete_bash", "COMP_WORDS": "rnncalc l",
                  "COMP_CWORD": "1"}
    ref, value = paired(reference, command(RNNCALC, completion), reps)
    row("shell completion (bash)", value, ref, "<= 1.5")


def compute(reps: int) -> None:
    print("2. A computing command against the imports it needs, run in turns: the seed exercise, "
          "which computes on numpy, against `python -c 'import numpy, typer, rich, yaml'`; with "
          "--round, which computes on torch (its rounding is a torch function mode), against "
          "`python -c 'import torch, gc; gc.freeze()'` (rnncalc freezes torch's objects out of "
          "the collector's reach, which spares the 0.27 s a bare `import torch` spends "
          "collecting them at exit). The seed run against a numpy script is section 7 (peer)")
    for args, imports, target in (
            (["lstm", "--format", "json"], "import numpy, typer, rich, yaml", "<= 1.5"),
            (["lstm", "--round", "4", "--format", "json"], "import torch, gc; gc.freeze()",
             "<= 1.15")):
        ref, value = paired(command([PY, "-c", imports]), command([*RNNCALC, *args]), reps)
        row("rnncalc " + " ".join(args), value, ref, target)


#: Starts its arguments, prints their wall time and peak RSS (wait4's). A small process of its own:
#: a child's peak RSS starts from its parent's at the fork (and is kept across exec), so a child
#: of this benchmark, which has imported torch, would show torch's 200 MB.
_TIMER = ("import os, subprocess, sys, time; start = time.perf_counter(); "
          "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, "
          "stderr=subprocess.DEVNULL); usage = os.wait4(child.pid, 0)[2]; "
          "print(time.perf_counter() - start, usage.ru_maxrss / 1024, "
          "usage.ru_utime + usage.ru_stime)")


def _peak(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """One run of ``args``: wall seconds, its peak RSS in MB and its CPU seconds."""
    out = subprocess.run([PY, "-c", _TIMER, *args], capture_output=True, text=True, env=env,
                         cwd=ROOT, check=True)
    seconds, megabytes, cpu = out.stdout.split()
    return float(seconds), float(megabytes), float(cpu)


def peer(reps: int) -> None:
    print("7. The seed run as a whole process, against a hand-written numpy script that computes "
          "the same LSTM and prints every gate (benchmarks/peer_lstm.py), run in turns; with "
          "bytecode written and without (PYTHONDONTWRITEBYTECODE=1, rnncalc's __pycache__ "
          "removed first); best of each, wall and CPU, and peak RSS")
    script = [PY, str(ROOT / "benchmarks" / "peer_lstm.py")]
    runs = {"rnncalc lstm": ["lstm"], "rnncalc lstm --step-by-step": ["lstm", "-s"],
            "rnncalc lstm --format json": ["lstm", "--format", "json"]}
    for bytecode in (True, False):
        env = {**os.environ}
        if bytecode:  # the warming run below writes it
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        else:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            without_bytecode()
        for name, args in runs.items():
            ref: list[tuple[float, float, float]] = []
            got: list[tuple[float, float, float]] = []
            _peak(script, env), _peak([*RNNCALC, *args], env)  # the file cache warmed
            for _ in range(reps):
                ref.append(_peak(script, env))
                got.append(_peak([*RNNCALC, *args], env))
            label = name + ("" if bytecode else " (no bytecode)")
            row(label, min(t for t, _, _ in got), min(t for t, _, _ in ref), "<= 2")
            row("  its CPU (user + system)", min(c for _, _, c in got),
                min(c for _, _, c in ref), "<= 2")
            print(f"  {'':<46} peak RSS {max(m for _, m, _ in got):6.1f} MB, "
                  f"the script's {max(m for _, m, _ in ref):6.1f} MB")


def batch(n: int, separate: int, reps: int) -> None:
    print(f"3. {n} seed-size configs in one `rnncalc run`, against {n} separate calls "
          f"(measured on {separate} calls, scaled)")
    with tempfile.TemporaryDirectory() as tmp:
        seeds = ["lstm", "rnn_regression", "gru", "rnn_bidirectional", "rnn_labeling"]
        for i in range(n):
            shutil.copy(CONFIGS / f"{seeds[i % len(seeds)]}.yaml", Path(tmp) / f"{i:05d}.yaml")
        one_call = shell([*RNNCALC, "run", tmp, "--format", "jsonl"], max(1, reps // 2))
        files = sorted(Path(tmp).iterdir())[:separate]
        start = time.perf_counter()
        for f in files:
            subprocess.run([*RNNCALC, "run", str(f), "-f", "jsonl"], stdout=subprocess.DEVNULL,
                           check=False)
        per_call = (time.perf_counter() - start) / len(files)
    print(f"  one call: {one_call:.2f} s ({1000 * one_call / n:.2f} ms a config); "
          f"a separate call: {per_call:.3f} s")
    print(f"  speed-up {per_call * n / one_call:8.1f}x  (target >= 50x)")


def jobs(n: int) -> None:
    cores = os.cpu_count() or 1
    print(f"6. {n} configs, `--jobs {cores}` against one process")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            shutil.copy(CONFIGS / "lstm.yaml", Path(tmp) / f"{i:06d}.yaml")
        one = shell([*RNNCALC, "run", tmp, "-f", "jsonl"], 1)
        many = shell([*RNNCALC, "run", tmp, "-f", "jsonl", "--jobs", str(cores)], 1)
    row(f"--jobs {cores}", many, one, f"< 1 with {cores} free cores")


def arrays(reps: int) -> None:
    print("8. Where numpy's step loop stops paying (rnncalc.engine.small): an LSTM computed on "
          "numpy and on torch (torch imported; its step loop below 16 steps, its fused kernel "
          "from 16), in turns, best of each; per step")
    from rnncalc.engine import compute

    for hidden in (2, 16, 64, 128, 256, 512):
        for steps in (15, 200):
            ex = _long_exercise("lstm", hidden, "float64", steps)[0]
            on_numpy, on_torch = paired(lambda ex=ex: compute(ex, arrays="numpy"),
                                        lambda ex=ex: compute(ex, arrays="torch"), reps)
            path = "fused" if steps >= 16 else "loop"
            print(f"  H={hidden:<4} T={steps:<4} numpy {1e6 * on_numpy / steps:8.1f} us  torch "
                  f"({path}) {1e6 * on_torch / steps:8.1f} us  torch/numpy "
                  f"{on_torch / on_numpy:5.2f}  (work a step "
                  f"{4 * hidden * 2 * hidden:,} multiply-adds)")


def _long_exercise(cell: str, hidden: int, dtype: str, steps: int = 2000):  # type: ignore[no-untyped-def]
    """An exercise and the torch module with the same weights (input size = hidden)."""
    import torch

    import rnncalc

    torch.manual_seed(0)
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
    module = cls(hidden, hidden, dtype=getattr(torch, dtype))
    x = torch.randn(steps, hidden, dtype=getattr(torch, dtype))
    ex = rnncalc.load({"cell": cell, "dtype": dtype, "inputs": x.tolist(),
                       "weights": {k: v.tolist() for k, v in module.state_dict().items()}})
    return ex, module, x


def name_of(cell: str, hidden: int, dtype: str) -> str:
    import torch

    return f"{cell} {hidden} units {dtype} ({torch.get_num_threads()} thr)"


def _pre_activations(p, x, states):  # type: ignore[no-untyped-def]
    """The LSTM's ``a_t = W_ih x_t + b + W_hh h_{t-1}`` for every step, as the trace computes
    them: work the fused kernel does but does not return, so every exact trace redoes it."""
    import torch

    return torch.addmm(p.bias_ih + p.bias_hh, x, p.weight_ih.T).addmm_(states[:-1],
                                                                       p.weight_hh.T)


def long_sequences(reps: int, sizes: list[int]) -> None:
    import torch

    import rnncalc
    from rnncalc import engine, fused
    from rnncalc.cells import _blocks
    from rnncalc.engine import params as _params

    print("4. The full trace of a 2000-step sequence, against torch.nn's forward on the same "
          "input, same process, same threads, run in turns")
    for cell in ("lstm", "gru", "rnn"):
        for hidden in sizes:
            for dtype in ("float32", "float64"):
                ex, module, x = _long_exercise(cell, hidden, dtype)
                engine.run(ex)  # sets the threads the CLI would use, and warms up
                assert fused.applies(ex)
                p = _params(ex.weights[0][0], x.dtype)
                h0 = torch.zeros(hidden, dtype=x.dtype)
                c0 = h0 if cell == "lstm" else None
                name = name_of(cell, hidden, dtype)
                reps_here = 2 * reps if hidden > 128 else 5 * reps  # the module moves by 20% here
                with torch.no_grad():
                    ref, ours = paired(lambda: module(x),  # noqa: B023
                                       lambda: fused.run_direction(ex, p, x, h0, c0, 0, "forward"),  # noqa: B023
                                       reps_here)
                    row(name + " fused.run_direction", ours, ref, "(the kernel alone)")
                    if cell == "lstm" and dtype == "float32":  # what no exact trace can skip
                        states = _blocks.states(torch.lstm, p, x, h0, c0, 1)
                        ref, floor = paired(lambda: module(x),  # noqa: B023
                                            lambda: (module(x), _pre_activations(p, x, states)),  # noqa: B023
                                            reps_here)
                        row(name + " floor", floor, ref, "the module + the trace's 2 products")
                # as a user calls it: from the exercise's Python numbers to the trace
                api = best(lambda: rnncalc.run(ex), max(1, reps // 2))  # noqa: B023
                row(name + " rnncalc.run(exercise)", api, ref, "<= 1.5")


MEMORY_PROBE = """
import ctypes, gc, json, sys, torch
sys.path.insert(0, {root!r})
from benchmarks.bench import _long_exercise
from rnncalc import fused
from rnncalc.engine import params as _params
ex, module, x = _long_exercise({cell!r}, {hidden}, {dtype!r})
del module
torch.set_num_threads(1)
p = _params(ex.weights[0][0], x.dtype)
h0 = torch.zeros({hidden}, dtype=x.dtype)
def status(key):  # in bytes, from /proc/self/status
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
with torch.no_grad():  # warm up: load the kernels' code before measuring
    short = x[:40]
    fused.run_direction(ex, p, short, h0, h0 if {cell!r} == "lstm" else None, 0, "forward")
gc.collect()  # building the exercise from Python numbers peaked far above the run:
ctypes.CDLL("libc.so.6").malloc_trim(0)  # its freed memory goes back to the system
open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) starts again from here
before = status("VmRSS")
with torch.no_grad():
    tr = fused.run_direction(ex, p, x, h0, h0 if {cell!r} == "lstm" else None, 0, "forward")
peak = status("VmHWM")
storages = {{}}
for t in [tr.x, tr.h, tr.c, *tr.pre.values(), *tr.act.values()]:
    if t is not None:
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
size = sum(storages.values()) - x.untyped_storage().nbytes()  # the input was there before
print(json.dumps({{"extra": peak - before, "trace": size}}))
"""


def memory() -> None:
    print("4b. Peak memory of the fast path, against the size of the trace it returns")
    for cell, hidden, dtype in (("lstm", 512, "float64"), ("lstm", 512, "float32"),
                                ("lstm", 64, "float64"), ("lstm", 64, "float32"),
                                ("gru", 512, "float32"), ("rnn", 512, "float32")):
        code = MEMORY_PROBE.format(root=str(ROOT), cell=cell, hidden=hidden, dtype=dtype)
        out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True)
        m = json.loads(out.stdout.splitlines()[-1])
        row(f"{cell} {hidden} units {dtype}", m["extra"] / 2**20, m["trace"] / 2**20,
            "<= 1.5", "MB")


def output(reps: int) -> None:
    import torch

    from rnncalc import engine
    from rnncalc.render.json import render as render_json
    from rnncalc.render.table import render as render_table
    from rnncalc.render.table import to_text

    print("5. Output of a 2000-step run, against the one second the issue allows (tables) and "
          "against computing the trace (JSON)")
    ex, _, _ = _long_exercise("lstm", 64, "float64")
    trace = engine.run(ex)
    table = best(lambda: to_text(render_table(trace, step_by_step=True), width=120), reps)
    row("table, default selection, --step-by-step", table, 1.0, "<= 1")
    every = best(lambda: to_text(render_table(trace, steps="all"), width=120), 1)
    print(f"  (for comparison: --steps all takes {every:.2f} s)")
    for hidden in (64, 512):
        ex, _, _ = _long_exercise("lstm", hidden, "float32")
        trace = engine.run(ex)
        run_time = best(lambda: engine.run(ex), reps)  # noqa: B023
        text = render_json(trace)
        as_json = best(lambda: render_json(trace), max(1, reps // 2))  # noqa: B023
        row(f"JSON of a 2000x{hidden} LSTM trace ({len(text) / 2**20:.0f} MB)", as_json,
            run_time, "(informative)")
    del torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--units", type=int, nargs="+", default=[64, 512],
                        help="hidden sizes of the long sequences (default 64 512)")
    parser.add_argument("--only", choices=["startup", "compute", "batch", "jobs", "long",
                                           "memory", "output", "peer", "arrays"])
    args = parser.parse_args()
    import torch

    reps = 3 if args.quick else 7
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads by default), load average "
          f"{os.getloadavg()[0]:.1f}")
    sections: dict[str, Callable[[], None]] = {
        "startup": lambda: startup(reps),
        "compute": lambda: compute(reps),
        "batch": lambda: batch(1000, 5 if args.quick else 20, reps),
        "long": lambda: long_sequences(reps, args.units),
        "memory": memory,
        "output": lambda: output(reps),
        "jobs": lambda: jobs(2000 if args.quick else 20000),
        "peer": lambda: peer(reps),
        "arrays": lambda: arrays(reps),
    }
    for name, section in sections.items():
        if args.only in (None, name):
            section()
            gc.collect()


if __name__ == "__main__":
    main()
