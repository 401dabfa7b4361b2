"""Softmax over the rows of a 2048x4096 float32 matrix: gradc (one row kernel) vs torch eager, numpy, and the
bandwidth floor (one read and one write of the tensor at the copy kernel's speed on the same device)."""
from __future__ import annotations

import numpy as np

import gradc

from common import compare, machine, table, timeit, try_torch

ROWS, COLS = 2048, 4096


def main():
    a = np.random.default_rng(0).standard_normal((ROWS, COLS), dtype=np.float32)
    x = gradc.tensor(a)
    dev = x.device

    def run(f):
        def go():
            gradc.realize(f())
            gradc.synchronize()
        return go

    with gradc.debug.kernels() as ks:
        got = x.softmax(1).numpy()
    e = np.exp(a - a.max(1, keepdims=True))
    assert np.allclose(got, e / e.sum(1, keepdims=True), atol=1e-6)

    def np_softmax():
        e = np.exp(a - a.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    floor = "copy kernel on the same device (floor)"
    times = compare({"gradc": run(lambda: x.softmax(1)), floor: run(lambda: x + 0.0)}, rounds=21)
    torch = try_torch()
    if torch is not None:  # timed on its own: its OpenMP threads spin after each op and would slow the next run
        t = torch.from_numpy(a)
        times["torch eager (CPU)"] = timeit(lambda: t.softmax(1), 2, 7)
    times["numpy"] = timeit(np_softmax, 1, 3)
    rows = list(times.items())
    table(rows, f"softmax over rows, {ROWS}x{COLS} float32 on {dev} ({dev.backend.description}); {machine()}")
    r = dict(rows)
    print(f"kernels: {[k.name for k in ks]} (target: at most 2)")
    print(f"gradc / copy floor: {r['gradc'] / r['copy kernel on the same device (floor)']:.2f} (target <= 2)")
    if torch is not None:
        print(f"torch / gradc: {r['torch eager (CPU)'] / r['gradc']:.2f}x (target > 1)")


if __name__ == "__main__":
    main()
