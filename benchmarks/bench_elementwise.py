"""GELU-style elementwise chain on 2**24 float32: gradc (one fused kernel) vs numpy, torch eager, and an OpenCL copy
kernel on the same device (the bandwidth floor: one read and one write of the tensor)."""
from __future__ import annotations

import numpy as np

import gradc

from common import against_floor, try_torch

N = 2**24


def gelu(x):
    return x * 0.5 * (1 + (0.79788456 * (x + 0.044715 * x**3)).tanh())


def main():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(N, dtype=np.float32)
    x = gradc.tensor(a)
    with gradc.debug.kernels() as ks:
        got = gelu(x).numpy()
    ref = a * 0.5 * (1 + np.tanh(0.79788456 * (a + 0.044715 * a**3)))
    assert np.allclose(got, ref, atol=1e-5), "gradc result differs from numpy"
    assert len(ks) == 1, f"expected one fused kernel, got {[k.name for k in ks]}"
    torch = try_torch()
    t = torch.from_numpy(a) if torch is not None else None
    r = against_floor("GELU chain, 2**24 float32", x, lambda: gelu(x), torch and (lambda: gelu(t)),
                      lambda: a * 0.5 * (1 + np.tanh(0.79788456 * (a + 0.044715 * a**3))), rounds=11)
    print(f"numpy / gradc: {r['numpy'] / r['gradc']:.1f}x (target >= 10)")
    if torch is not None:
        print(f"torch / gradc: {r['torch eager (CPU)'] / r['gradc']:.1f}x (target >= 10)")
    print(f"kernel: {ks[0].name}, global {ks[0].global_size}, local {ks[0].local_size}")


if __name__ == "__main__":
    main()
