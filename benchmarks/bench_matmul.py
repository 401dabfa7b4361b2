"""1024x1024x1024 float32 matmul: gradc's matmul template vs numpy (OpenBLAS) and torch, in GFLOP/s."""
from __future__ import annotations

import numpy as np

import gradc

from common import compare, machine, try_torch

N = 1024


def main():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((N, N), dtype=np.float32), rng.standard_normal((N, N), dtype=np.float32)
    x, y = gradc.tensor(a), gradc.tensor(b)
    dev = x.device

    def run():
        gradc.realize(x @ y)
        gradc.synchronize()

    flop = 2 * N**3
    with gradc.debug.kernels() as ks:
        got = (x @ y).numpy()
    ref = a.astype(np.float64) @ b
    err = np.linalg.norm(got - ref) / np.linalg.norm(ref)
    assert err < 1e-5, err
    times = compare({"gradc": run, "numpy (OpenBLAS)": lambda: a @ b}, rounds=3, block=4, warmup=2)
    torch = try_torch()
    if torch is not None:  # on its own: its threads and OpenBLAS's, taking turns, slow each other down
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        times["torch (CPU)"] = compare({"torch": lambda: ta @ tb}, rounds=1, block=5)["torch"]
    rows = [(name, flop / t) for name, t in times.items()]
    print(f"\n{N}x{N}x{N} float32 matmul on {dev} ({dev.backend.description}); {machine()}")
    print(f"{'what':<24} {'GFLOP/s':>9}")
    for name, r in rows:
        print(f"{name:<24} {r / 1e9:>9.1f}")
    r = dict(rows)
    print(f"gradc / numpy: {r['gradc'] / r['numpy (OpenBLAS)']:.2f} (target >= 0.5); relative error {err:.1e}")
    print("kernels: " + "; ".join(f"{k.name}, global {k.global_size}, local {k.local_size}" for k in ks))


if __name__ == "__main__":
    main()
