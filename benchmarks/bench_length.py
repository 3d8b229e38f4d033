"""Issue 18's figures: speed at length and at class size, each against its reference measured
side by side in this run (never asserted by the tests).

    python benchmarks/bench_length.py                 # every section (many minutes)
    python benchmarks/bench_length.py --only grad     # grad, table, jobs, json, growth

Peak memory is each subprocess's own (``wait4``'s ``ru_maxrss``); "above the imports" subtracts
the peak of a process that only imports what the command imports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("RNNCALC_MAX_VALUES", "1000000000")
os.environ.setdefault("RNNCALC_MAX_CONFIG_BYTES", "100000000000")
ROOT = Path(__file__).resolve().parent.parent
RNNCALC = [sys.executable, "-m", "rnncalc"]
IMPORTS = [sys.executable, "-c", "import torch, rnncalc.engine, rnncalc.bptt, rnncalc.render.json"]


#: Runs a command and writes its seconds and peak resident KB to a file. The measured command is
#: this small process's child: Linux counts a child's peak (``ru_maxrss``) from the resident size
#: of the process that forked it, so a child of this script (torch imported, configs built) showed
#: this script's own 230 MB as the peak of anything smaller.
LAUNCH = ("import os, sys, time\n"
          "start = time.perf_counter()\n"
          "pid = os.fork()\n"
          "if pid == 0:\n"
          "    os.execv(sys.argv[2], sys.argv[2:])\n"
          "_, status, usage = os.wait4(pid, 0)\n"
          "with open(sys.argv[1], 'w') as f:\n"
          "    f.write(f'{time.perf_counter() - start} {usage.ru_maxrss}')\n"
          "sys.exit(os.waitstatus_to_exitcode(status))\n")


def measured(args: list[str]) -> tuple[float, float]:
    """Seconds and peak MB of one run of ``args`` (output discarded)."""
    with tempfile.NamedTemporaryFile("r") as report:
        if subprocess.run([sys.executable, "-c", LAUNCH, report.name, *args],
                          stdout=subprocess.DEVNULL, cwd=ROOT).returncode:
            raise SystemExit(f"failed: {' '.join(args)}")
        seconds, kb = report.read().split()
    return float(seconds), int(kb) / 1024


def turns(a: list[str], b: list[str], reps: int) -> tuple[list[tuple[float, float]], ...]:
    """Seconds and peak MB of every run of each, run in turns (a, b, a, b, ...)."""
    runs: tuple[list[tuple[float, float]], ...] = ([], [])
    for _ in range(reps):
        for args, out in zip((a, b), runs, strict=True):
            out.append(measured(args))
    return runs


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def config(steps: int, hidden: int, inputs: int = 8, targets: bool = True) -> dict:
    """A float64 LSTM with torch.nn's initial weights and an mse regression head."""
    import torch

    torch.manual_seed(0)
    module = torch.nn.LSTM(inputs, hidden, dtype=torch.float64)
    cfg = {"cell": "lstm", "inputs": torch.randn(steps, inputs, dtype=torch.float64).tolist(),
           "weights": {k: v.tolist() for k, v in module.state_dict().items()},
           "head": {"task": "regression",
                    "W": (0.1 * torch.randn(1, hidden, dtype=torch.float64)).tolist(), "b": 0}}
    if targets:
        cfg["loss"] = {"type": "mse", "targets": [[0.1]] * steps}
    return cfg


def written(cfg: dict, folder: str, name: str) -> str:
    path = Path(folder) / name
    path.write_text(json.dumps(cfg))  # JSON is YAML
    return str(path)


def row(name: str, value: float, reference: float, target: str, unit: str = "s") -> None:
    print(f"  {name:<52} {value:9.3f} {unit}  ref {reference:9.3f} {unit}  "
          f"ratio {value / reference:6.2f}  (target {target})")


def grad(reps: int) -> None:
    import torch

    import rnncalc
    from rnncalc.bptt import backprop

    print("1. grad at length: a 1000-step, 64-unit float64 LSTM with an mse head, against the "
          "forward pass of the same config through the same CLI (tables, run in turns)")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(1000, 64)
        path = written(cfg, tmp, "long.yaml")
        fwd_runs, grad_runs = turns([*RNNCALC, "lstm", "-c", path],
                                    [*RNNCALC, "grad", "-c", path], reps)
        row("rnncalc grad -c long.yaml (best of each)", min(t for t, _ in grad_runs),
            min(t for t, _ in fwd_runs), "<= 3")
        ratios = [b[0] / a[0] for a, b in zip(fwd_runs, grad_runs, strict=True)]
        print(f"  turn by turn: {spread(ratios)}")
        # the imports: the same command on a 2-step config of the same net (whatever it
        # imports, numpy alone or torch, and nothing of size)
        tiny = written(config(2, 64), tmp, "tiny.yaml")
        bare = min(measured([*RNNCALC, "grad", "-c", tiny])[1] for _ in range(2))
        ex = rnncalc.load(path)
        trace = rnncalc.run(ex)
        g = backprop(trace, steps=None)
        text = {command: len(subprocess.run([*RNNCALC, command, "-c", path], capture_output=True,
                                            check=True, cwd=ROOT).stdout)
                for command in ("lstm", "grad")}
        # what the output must hold: every number it shows (the trace; the gradients at the rows
        # shown and the totals), and the text written
        tensors, both = _nbytes(trace), _nbytes([trace, g])
        fwd_mb, grad_mb = max(m for _, m in fwd_runs), max(m for _, m in grad_runs)
        row("grad: peak above the imports, against its output", grad_mb - bare,
            (both + text["grad"]) / 2**20, "<= ~2", "MB")
        row("(lstm, the same config: its whole peak, against its own)", fwd_mb,
            (tensors + text["lstm"]) / 2**20, "none", "MB")  # on numpy: no torch imported
        print(f"  (peaks: grad {grad_mb:.0f} MB, lstm {fwd_mb:.0f} MB, "
              f"the imports (grad of 2 steps) {bare:.0f} MB; "
              f"grad's output: the trace {tensors / 2**20:.1f} MB, the gradients "
              f"{(both - tensors) / 2**20:.1f} MB, {text['grad'] / 2**20:.1f} MB of text)")
        module = torch.nn.LSTM(8, 64, dtype=torch.float64)
        module.load_state_dict({k: torch.tensor(v, dtype=torch.float64)
                                for k, v in cfg["weights"].items()})
        out, _ = module(torch.tensor(cfg["inputs"], dtype=torch.float64))
        W = torch.tensor(cfg["head"]["W"], dtype=torch.float64)
        torch.nn.functional.mse_loss(out @ W.T, torch.full((1000, 1), 0.1,
                                                           dtype=torch.float64)).backward()
        worst = max((g.params[n] - p.grad).abs().max().item()
                    for n, p in module.named_parameters())
        print(f"  totals against torch.nn + autograd: largest difference {worst:.1e} "
              f"(target <= 1e-12)")


def _nbytes(obj: object) -> int:
    """The bytes of every distinct tensor storage reachable from a trace or a gradient trace."""
    import dataclasses

    import torch

    seen: dict[int, int] = {}

    def walk(v: object) -> None:
        if isinstance(v, torch.Tensor):
            seen[v.untyped_storage().data_ptr()] = v.untyped_storage().nbytes()
        elif dataclasses.is_dataclass(v) and not isinstance(v, type):
            for f in dataclasses.fields(v):
                if f.name != "exercise":
                    walk(getattr(v, f.name))
        elif isinstance(v, dict):
            for item in v.values():
                walk(item)
        elif isinstance(v, tuple | list):
            for item in v:
                walk(item)

    walk(obj)
    return sum(seen.values())


def table(reps: int) -> None:
    import rnncalc
    from rnncalc.bptt import backprop
    from rnncalc.render.grad import render
    from rnncalc.render.table import Laid, to_text
    from rnncalc.render.table import render as render_table

    print("2. The default grad table of a 500-step, seed-sized LSTM (2 units), rendered (laid "
          "out and turned to text), against the one second the issue allows; beside it, in "
          "turns, the forward table alone and the same grad tables laid out by rich's Table")
    ex = rnncalc.load(config(500, 2, inputs=3))
    trace = rnncalc.run(ex)
    g = backprop(trace, steps=None)

    def by_rich(self: Laid, console: object, options: object) -> object:
        yield self.rich_table()

    def timed(fn: Callable[[], object]) -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    laid = Laid.pieces
    times: dict[str, list[float]] = {"grad": [], "forward": [], "rich": []}
    for _ in range(3 * reps):
        times["forward"].append(timed(lambda: to_text(render_table(trace), width=80)))
        times["grad"].append(timed(lambda: to_text(render(trace, g, "table"), width=80)))
        Laid.pieces = by_rich  # type: ignore[assignment, method-assign]
        times["rich"].append(timed(lambda: to_text(render(trace, g, "table"), width=80)))
        Laid.pieces = laid  # type: ignore[method-assign]
    lines = to_text(render(trace, g, "table"), width=80).count("\n")
    row(f"grad table ({lines} lines; best)", min(times["grad"]), 1.0, "<= 1")
    print(f"  runs {spread(times['grad'])} s; the forward table alone {spread(times['forward'])} s"
          f"; grad / forward turn by turn "
          f"{spread([a / b for a, b in zip(times['grad'], times['forward'], strict=True)])}; "
          f"rich's Table instead {spread(times['rich'])} s, "
          f"{spread([a / b for a, b in zip(times['rich'], times['grad'], strict=True)])}x")
    start = time.perf_counter()
    backprop(trace, steps=None)
    print(f"  (backprop with the rows shown, not rendering: {time.perf_counter() - start:.3f} s)")


def jobs(n: int, reps: int) -> None:
    print(f"3. {n} seed-sized configs (the embedded seeds, rnncalc/exercises/*.yaml, copied in "
          "turn) in one `rnncalc run`: configs a second with 1, 2 and auto jobs, run in turns, "
          "best of each; jsonl, then tables")
    seeds = sorted((ROOT / "rnncalc" / "exercises").glob("*.yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            shutil.copy(seeds[i % len(seeds)], Path(tmp) / f"{i:06d}.yaml")
        for fmt in ("jsonl", "table"):
            times: dict[str, list[float]] = {"1": [], "2": [], "auto": []}
            for _ in range(reps):
                for jobs, out in times.items():
                    out.append(measured([*RNNCALC, "run", tmp, "-f", fmt, "--jobs", jobs])[0])
            best = {jobs: min(out) for jobs, out in times.items()}
            for jobs, seconds in best.items():
                print(f"  -f {fmt:<5} --jobs {jobs:<5} {seconds:7.2f} s  {n / seconds:7.0f} "
                      "configs/s (target >= 1000)")
            row(f"-f {fmt}: --jobs auto, against --jobs 1", best["auto"], best["1"], "<= 1")


def json_output() -> None:
    import rnncalc

    print("4. JSON of a 10,000-step, 64-unit LSTM: peak memory above the imports, against the "
          "trace")
    with tempfile.TemporaryDirectory() as tmp:
        path = written(config(10_000, 64, targets=False), tmp, "long.yaml")
        seconds, peak = measured([*RNNCALC, "lstm", "-c", path, "-f", "json"])
        _, bare = measured(IMPORTS)
        trace = rnncalc.run(rnncalc.load(path))
        row(f"rnncalc lstm -f json ({seconds:.1f} s)", peak - bare, _nbytes(trace) / 2**20,
            "<= 3", "MB")


GROWTH = """
import json, sys, time
import numpy as np
import rnncalc
from rnncalc.bptt import backprop
from rnncalc.engine import compute
rng = np.random.default_rng(0)
T, H, I = {steps}, {hidden}, 8
k = H ** -0.5  # torch.nn.LSTM's initial weights: uniform in (-k, k)
u = lambda *shape: rng.uniform(-k, k, shape).tolist()
ex = rnncalc.load({{"cell": "lstm", "inputs": rng.standard_normal((T, I)).tolist(),
                    "weights": {{"weight_ih_l0": u(4 * H, I), "weight_hh_l0": u(4 * H, H),
                                "bias_ih_l0": u(4 * H), "bias_hh_l0": u(4 * H)}},
                    "head": {{"task": "regression", "b": 0,
                             "W": (0.1 * rng.standard_normal((1, H))).tolist()}},
                    "loss": {{"type": "mse", "targets": [[0.1]] * T}}}})
start = time.perf_counter()
trace = compute(ex)  # as the commands do: numpy for a small exercise, else torch
if {grad}:
    backprop(trace, steps=None)
print(json.dumps([time.perf_counter() - start, "torch" in sys.modules]))
"""


def growth() -> None:
    print("5. How time and peak memory grow with T and H (float64 LSTM, 8 inputs, an mse head): "
          "engine.compute as the commands call it (numpy, or torch: '*'), then backprop with the "
          "default rows; from Python numbers, no YAML, no rendering; peak of the whole process")
    print(f"  {'T':>6} {'H':>4}  {'forward s':>10} {'MB':>6}  {'grad s':>9} {'MB':>6}")
    for steps in (100, 1000, 10_000):
        for hidden in (2, 64, 512):
            cells = []
            for do_grad in (False, True):
                code = GROWTH.format(root=str(ROOT), steps=steps, hidden=hidden, grad=do_grad)
                with tempfile.NamedTemporaryFile("r") as report:  # the peak, as measured() has it
                    out = subprocess.run([sys.executable, "-c", LAUNCH, report.name,
                                          sys.executable, "-c", code], stdout=subprocess.PIPE,
                                         cwd=ROOT, check=True).stdout
                    kb = int(report.read().split()[1])
                seconds, on_torch = json.loads(out)
                cells.append(f"{seconds:9.2f}{'*' if on_torch else ' '} {kb / 1024:6.0f}")
            print(f"  {steps:>6} {hidden:>4}  {cells[0]}  {cells[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["grad", "table", "jobs", "json", "growth"])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    reps = 2 if args.quick else 3
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    sections: dict[str, Callable[[], None]] = {
        "grad": lambda: grad(reps), "table": lambda: table(reps),
        "jobs": lambda: jobs(1000 if args.quick else 5000, reps), "json": json_output,
        "growth": growth,
    }
    for name, section in sections.items():
        if args.only in (None, name):
            section()


if __name__ == "__main__":
    main()
