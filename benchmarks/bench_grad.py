"""How long ``rnncalc grad`` takes: the forward pass, then the hand-written backward recursion.

Run by hand: ``python benchmarks/bench_grad.py [STEPS] [HIDDEN]`` (default 200 steps, hidden 32,
2 layers, bidirectional, lstm/gru/rnn, cross-entropy at every position). Prints seconds per run;
for comparison, the same gradients by torch.autograd on torch.nn modules.
"""

from __future__ import annotations

import sys

import torch
from bench import best  # benchmarks/ is the script's folder

import rnncalc
from rnncalc.bptt import backprop


def config(cell: str, steps: int, hidden: int) -> dict:
    torch.manual_seed(0)
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        8, hidden, num_layers=2, bidirectional=True, dtype=torch.float64)
    return {
        "cell": cell, "num_layers": 2, "bidirectional": True,
        "inputs": torch.randn(steps, 8, dtype=torch.float64).tolist(),
        "weights": {k: v.tolist() for k, v in module.state_dict().items()},
        "head": {"task": "labeling", "W": torch.randn(3, 2 * hidden).tolist(), "b": 0},
        "loss": {"type": "cross_entropy", "targets": [t % 3 for t in range(steps)]},
    }, module


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    hidden = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    torch.set_num_threads(1)
    for cell in ("rnn", "lstm", "gru"):
        cfg, module = config(cell, steps, hidden)
        ex = rnncalc.load(cfg)
        trace = rnncalc.run(ex)
        forward = best(lambda ex=ex: rnncalc.run(ex))
        backward = best(lambda trace=trace: backprop(trace))
        x = torch.tensor(cfg["inputs"], dtype=torch.float64)
        W = torch.tensor(cfg["head"]["W"], dtype=torch.float64)
        k = torch.tensor(cfg["loss"]["targets"])

        def autograd(module=module, x=x, W=W, k=k) -> None:
            module.zero_grad()
            out = module(x)[0]
            torch.nn.functional.cross_entropy(out @ W.T, k).backward()

        print(f"{cell:4s} T={steps} H={hidden}: forward {forward:.3f} s, backward (rnncalc) "
              f"{backward:.3f} s, torch.autograd forward+backward {best(autograd):.4f} s")


if __name__ == "__main__":
    main()
