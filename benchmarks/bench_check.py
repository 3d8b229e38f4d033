"""How much a class costs ``rnncalc check``: 100 answers files in one call against one.

Run by hand: ``python benchmarks/bench_check.py [CONFIG] [FILES] [REPEATS]`` (default
configs/lstm.yaml, 100 files, 5 repeats). Writes FILES answers files for the exercise (every
quantity answered to 4 decimals, one file in three with a slip at t=0 that the later steps
carry), then times, as subprocesses in the same run, ``rnncalc check CONFIG one.yaml`` and
``rnncalc check CONFIG DIR/ --format jsonl`` (and ``--format csv``), alternating, and prints the
median wall times and their ratio. The issue's bound: the class at most 2x the single call.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def answers(doc: dict, slip: bool) -> str:
    """Every asked number of a run's JSON, to 4 decimals; a slip: h_0[1] off by 0.1."""
    import yaml

    from rnncalc.answers import blank

    def fill(blank_node, node):
        if isinstance(blank_node, dict):
            return {k: (v if k in ("t", "layer") else fill(v, node[k]))
                    for k, v in blank_node.items()}
        if isinstance(blank_node, list):
            if blank_node and isinstance(blank_node[0], dict):
                return [fill(b, next(n for n in node if n.get("t", n.get("layer")) ==
                                     b.get("t", b.get("layer")))) for b in blank_node]
            return [fill(b, n) for b, n in zip(blank_node, node, strict=True)]
        return f"{node:.4f}" if isinstance(node, float) else node

    filled = fill(blank(doc), doc)
    if slip:
        first = filled["layers"][0]["directions"]["forward"][0]
        first["h"][0] = f"{float(first['h'][0]) + 0.1:.4f}"
    return yaml.safe_dump(filled, sort_keys=False).replace("'", "")


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "rnncalc", *args], capture_output=True,
                            cwd=ROOT, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"rnncalc {' '.join(args)}: exit {result.returncode}: "
                         f"{result.stderr.decode()}")
    return elapsed


def main(config: str, files: int, repeats: int) -> None:
    import rnncalc

    doc = rnncalc.run(rnncalc.load(config)).to_dict()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        folder.mkdir()
        for i in range(files):
            (folder / f"s{i:03d}.yaml").write_text(f"student: s{i:03d}\n"
                                                   + answers(doc, i % 3 == 0))
        one = str(folder / "s000.yaml")
        out = subprocess.run([sys.executable, "-m", "rnncalc", "check", config, str(folder),
                              "-f", "jsonl"], capture_output=True, cwd=ROOT, check=False)
        records = [json.loads(line) for line in out.stdout.splitlines()]
        assert len(records) == files and all("error" not in r for r in records), records[:1]
        rows = {"one file": ["check", config, one],
                f"{files} files, jsonl": ["check", config, str(folder), "-f", "jsonl"],
                f"{files} files, csv": ["check", config, str(folder), "-f", "csv"]}
        times: dict[str, list[float]] = {name: [] for name in rows}
        for _ in range(repeats):
            for name, args in rows.items():
                times[name].append(timed(args))
        base = statistics.median(times["one file"])
        print(f"{config}: {files} answers files, {len(records[0]['items'])} answers each; "
              f"median of {repeats}")
        for name, ts in times.items():
            median = statistics.median(ts)
            print(f"  {name:20} {median * 1000:8.0f} ms   {median / base:5.2f}x the one file")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0] if args else "configs/lstm.yaml", int(args[1]) if len(args) > 1 else 100,
         int(args[2]) if len(args) > 2 else 5)
