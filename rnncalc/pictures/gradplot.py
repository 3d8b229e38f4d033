"""``rnncalc grad``'s picture: the norm of ``dL/dh_t`` (and of an LSTM's ``dL/dc_t``) at every
step of every layer and direction, on a log scale, to show gradients vanishing or exploding
as they flow back through time.

The norm is the Euclidean norm of the gradient the BPTT result holds for that step (the sum of
what reaches ``h_t`` from the output and from step ``t+1``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rnncalc.pictures.canvas import Canvas, Circle, Rect, Text, Wire
from rnncalc.render import fmt

if TYPE_CHECKING:
    from rnncalc.bptt import GradTrace as Grad
    from rnncalc.trace import Trace

__all__ = ["grad_canvas", "norms"]

ML, MT, PLOT_W, PLOT_H = 78.0, 74.0, 620.0, 300.0
PALETTE = ("#1f5fa8", "#b5532a", "#2e8b57", "#7a4fa0", "#a07a1f", "#3a8fa8")


def norms(result: Grad) -> list[tuple[str, str, list[tuple[int, float]]]]:
    """``(label, key, [(t, norm), ...])`` per layer, direction and quantity, by position."""
    import torch

    out = []
    for layer, dirs in enumerate(result.layers):
        for direction, g in dirs.items():
            for name, block in (("h", g.dh), ("c", g.dc)):
                if block is None:
                    continue
                values = torch.linalg.vector_norm(block, dim=1).tolist()
                pairs = sorted(zip(g.positions, values, strict=True))
                out.append((f"‖dL/d{name}_t‖ · layer {layer} · {direction}",
                            f"L{layer}.{direction}.d{name}", pairs))
    return out


def grad_canvas(trace: Trace, result: Grad, *, precision: int = 4) -> Canvas:
    series = norms(result)
    T = trace.exercise.steps
    positive = [v for _, _, pairs in series for _, v in pairs if v > 0 and math.isfinite(v)]
    lo = math.floor(math.log10(min(positive))) if positive else -1
    hi = math.ceil(math.log10(max(positive))) if positive else 0
    hi = max(hi, lo + 1)
    c = Canvas(ML + PLOT_W + 40, MT + PLOT_H + 70 + 16 * len(series),
               title="Gradient norm per step (log scale)")
    c.add(Text(16, 24, c.title, size=14, anchor="start", bold=True),
          Text(16, 42, "backpropagation through time: how much of the loss's gradient reaches "
               "each step", size=10, anchor="start", color="#555"))

    def px(t: float) -> float:
        return ML + (t + 0.5) * PLOT_W / T

    def py(v: float) -> float:
        return MT + PLOT_H * (hi - math.log10(v)) / (hi - lo)

    c.add(Rect(ML, MT, PLOT_W, PLOT_H, "#fbfbfb", "#999"))
    decades = hi - lo
    every = max(1, math.ceil(decades / 8))
    for e in range(lo, hi + 1, every):
        y = py(10.0 ** e)
        c.add(Wire(((ML, y), (ML + PLOT_W, y)), color="#ddd", width=0.8, arrow=False),
              Text(ML - 6, y + 3, f"1e{e}", size=9, anchor="end", color="#444"))
    tick = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000, 10**9)
                if s * PLOT_W / T >= 26)
    for t in range(0, T, tick):
        c.add(Text(px(t), MT + PLOT_H + 14, str(t), size=9, color="#444"))
    c.add(Text(ML + PLOT_W / 2, MT + PLOT_H + 30, "position t", size=10, color="#444"),
          Text(16, MT - 8, "norm", size=10, anchor="start", color="#444"))
    for n, (label, key, pairs) in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        dash = "dc" in key
        points = tuple((px(t), py(v)) for t, v in pairs if v > 0 and math.isfinite(v))
        if len(points) > 1:
            c.add(Wire(points, color=color, width=1.6, arrow=False, dash=dash))
        for (t, v) in pairs:
            if v > 0 and math.isfinite(v):
                c.add(Circle(px(t), py(v), 2.6 if T <= 50 else 1.4, fill=color, stroke=color))
            else:  # a zero norm has no place on a log scale: marked on the axis
                c.add(Text(px(t), MT + PLOT_H - 4, "0", size=8, color=color))
        if T <= 12:  # few steps: the norms written beside their points
            for t, v in pairs:
                if v > 0 and math.isfinite(v):
                    c.add(Text(px(t) + 5, py(v) - 5, fmt(v, precision), size=9, anchor="start",
                               color=color, key=f"{key}.{t}"))
        ly = MT + PLOT_H + 50 + 16 * n
        c.add(Wire(((ML, ly - 4), (ML + 24, ly - 4)), color=color, width=1.6, arrow=False,
                   dash=dash),
              Text(ML + 30, ly, label, size=10, anchor="start", color="#222"),
              Text(ML + PLOT_W - 120, ly, f"t={pairs[0][0]}: {_fmt(pairs[0][1], precision)}",
                   size=10, anchor="end", color="#555", key=f"{key}.first"),
              Text(ML + PLOT_W, ly, f"t={pairs[-1][0]}: {_fmt(pairs[-1][1], precision)}",
                   size=10, anchor="end", color="#555", key=f"{key}.last"))
    return c


def _fmt(v: float, precision: int) -> str:
    return fmt(v, precision) if v == 0 or abs(v) >= 10 ** -precision else f"{v:.{precision}e}"
