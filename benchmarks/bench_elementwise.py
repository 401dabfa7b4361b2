"""GELU-style elementwise chain on 2**24 float32: gradc (one fused kernel) vs numpy, torch eager, and an OpenCL copy
kernel on the same device (the bandwidth floor: one read and one write of the tensor)."""
from __future__ import annotations

import numpy as np

import gradc

from common import compare, machine, table, timeit, try_torch

N = 2**24


def gelu(x):
    return x * 0.5 * (1 + (0.79788456 * (x + 0.044715 * x**3)).tanh())


def main():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(N, dtype=np.float32)
    x = gradc.tensor(a)
    dev = x.device

    def run_gradc():
        gradc.realize(gelu(x))
        gradc.synchronize()

    def run_copy():  # the floor: a kernel that only reads and writes every element
        gradc.realize(x + 0.0)
        gradc.synchronize()

    with gradc.debug.kernels() as ks:
        out = gelu(x)
        got = out.numpy()
    ref = a * 0.5 * (1 + np.tanh(0.79788456 * (a + 0.044715 * a**3)))
    assert np.allclose(got, ref, atol=1e-5), "gradc result differs from numpy"
    assert len(ks) == 1, f"expected one fused kernel, got {[k.name for k in ks]}"
    times = compare({"gradc": run_gradc, "copy kernel on the same device (floor)": run_copy}, rounds=11)
    torch = try_torch()
    if torch is not None:  # timed on its own: its OpenMP threads spin after each op and would slow the next run
        t = torch.from_numpy(a)
        times["torch eager (CPU)"] = timeit(lambda: gelu(t), 1, 5)
    times["numpy"] = timeit(lambda: a * 0.5 * (1 + np.tanh(0.79788456 * (a + 0.044715 * a**3))), 1, 3)
    rows = list(times.items())
    table(rows, f"GELU chain, 2**24 float32 on {dev} ({dev.backend.description}); {machine()}")
    r = dict(rows)
    print(f"gradc / copy floor: {r['gradc'] / r['copy kernel on the same device (floor)']:.2f} (target <= 2)")
    print(f"numpy / gradc: {r['numpy'] / r['gradc']:.1f}x (target >= 10)")
    if torch is not None:
        print(f"torch / gradc: {r['torch eager (CPU)'] / r['gradc']:.1f}x (target >= 10)")
    print(f"kernel: {ks[0].name}, global {ks[0].global_size}, local {ks[0].local_size}")


if __name__ == "__main__":
    main()
