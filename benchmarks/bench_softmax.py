"""Softmax over the rows of a 2048x4096 float32 matrix: gradc (one row kernel) vs torch eager, numpy, and the
bandwidth floor (one read and one write of the tensor at the copy kernel's speed on the same device)."""
from __future__ import annotations

import numpy as np

import gradc

from common import against_floor, try_torch

ROWS, COLS = 2048, 4096


def main():
    a = np.random.default_rng(0).standard_normal((ROWS, COLS), dtype=np.float32)
    x = gradc.tensor(a)
    with gradc.debug.kernels() as ks:
        got = x.softmax(1).numpy()

    def np_softmax():
        e = np.exp(a - a.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    assert np.allclose(got, np_softmax(), atol=1e-6)
    torch = try_torch()
    t = torch.from_numpy(a) if torch is not None else None
    r = against_floor(f"softmax over rows, {ROWS}x{COLS} float32", x, lambda: x.softmax(1),
                      torch and (lambda: t.softmax(1)), np_softmax, rounds=21)
    print(f"kernels: {[k.name for k in ks]} (target: at most 2)")
    if torch is not None:
        print(f"torch / gradc: {r['torch eager (CPU)'] / r['gradc']:.2f}x (target > 1)")


if __name__ == "__main__":
    main()
