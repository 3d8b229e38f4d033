"""The peer of ``rnncalc lstm`` (issue 18): the seed LSTM with every gate, written by hand in numpy.

    python benchmarks/peer_lstm.py

What a student or a teacher would write instead of rnncalc: the seed exercise's weights (no biases,
PyTorch's equations, gate order i, f, g, o), each gate, c_t and h_t printed at every step.
benchmarks/bench.py --only peer runs it as a whole process beside rnncalc's seed run.
"""

import numpy as np

W_i = {  # input-to-hidden, [H, H_in] per gate
    "i": [[-1, 0, 0.5], [-1, 0, -0.5]],
    "f": [[1, 0, 0.5], [1, 0, -0.5]],
    "g": [[1, 0, -0.5], [1, 0, -0.5]],
    "o": [[1, 1, 0.5], [1, -1, -0.5]],
}
W_h = {gate: [[0, 1], [0, -1]] for gate in "ifgo"}  # hidden-to-hidden, [H, H] per gate
xs = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=np.float64)


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


Wi = {g: np.array(w, dtype=np.float64) for g, w in W_i.items()}
Wh = {g: np.array(w, dtype=np.float64) for g, w in W_h.items()}
h = np.zeros(2)
c = np.zeros(2)
np.set_printoptions(precision=4, suppress=True)
for t, x in enumerate(xs):
    pre = {g: Wi[g] @ x + Wh[g] @ h for g in "ifgo"}
    i, f, o = sigmoid(pre["i"]), sigmoid(pre["f"]), sigmoid(pre["o"])
    g = np.tanh(pre["g"])
    c = f * c + i * g
    h = o * np.tanh(c)
    print(f"t={t} x={x}")
    for name, value in (("i", i), ("f", f), ("g", g), ("o", o)):
        print(f"  {name}: pre {pre[name]}  act {value}")
    print(f"  c: {c}\n  h: {h}")
