"""Try matmul register tiles and work-group sizes on the default device (run on a quiet machine):
prints GFLOP/s per (TM rows, TNV vectors of columns, work-group size) for 1024^3 float32."""
from __future__ import annotations

import itertools
import time

import numpy as np

import gradc


def main(n=1024):
    a, b = (np.random.default_rng(0).standard_normal((n, n), dtype=np.float32) for _ in range(2))
    x, y = gradc.tensor(a), gradc.tensor(b)
    backend = x.device.backend
    results = []
    for tm, tnv, l0 in itertools.product((4, 6, 8), (1, 2, 3), (1, 8)):
        if tm * tnv > 12:  # accumulators must fit in the vector registers
            continue
        backend.matmul_tile = (tm, tnv, l0)
        backend.__dict__.pop("_by_structure", None)  # rendered programs remember their tiles,
        gradc.schedule._plans.clear()  # and so do the plans that launch them
        gradc.realize(x @ y)
        gradc.synchronize()
        t = time.perf_counter()
        for _ in range(3):
            gradc.realize(x @ y)
        gradc.synchronize()
        gf = 3 * 2 * n**3 / (time.perf_counter() - t) / 1e9
        results.append((gf, tm, tnv, l0))
        print(f"TM={tm} TNV={tnv} local={l0}: {gf:.1f} GFLOP/s", flush=True)
    best = max(results)
    print(f"best: {best[0]:.1f} GFLOP/s at TM={best[1]} TNV={best[2]} local={best[3]}")


if __name__ == "__main__":
    main()
