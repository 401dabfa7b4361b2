"""Timing helpers shared by the benchmarks: every number in a table is measured in the same run."""
from __future__ import annotations

import platform
import statistics
import time

import numpy as np


def timeit(fn, warmup=2, repeat=7) -> float:
    """Median wall time of fn() in seconds (fn must synchronize its device work)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def compare(fns: dict, rounds=15, block=1, warmup=1) -> dict:
    """Median wall time of each fn, timed in turns: per round, each fn runs `warmup` untimed times (they absorb what
    the previous fn left behind: torch's and OpenBLAS's threads spin a while after each op) and `block` timed ones.
    On a shared 2-core VM, whose speed drifts by 2x over seconds, the drift then falls on all of them alike."""
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(warmup):
                fn()
            for _ in range(block):
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def try_torch():
    try:
        import torch

        torch.set_num_threads(max(1, torch.get_num_threads()))
        return torch
    except ImportError:
        return None


def machine() -> str:
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}"


def table(rows, title):
    print(f"\n{title}")
    print(f"{'what':<44} {'time (ms)':>10} {'vs gradc':>9}")
    ref = dict(rows).get("gradc")
    for name, t in rows:
        print(f"{name:<44} {t * 1e3:>10.2f} {t / ref if ref else float('nan'):>8.2f}x")


FLOOR = "copy kernel on the same device (floor)"


def against_floor(title, x, gradc_fn, torch_fn=None, numpy_fn=None, rounds=15) -> dict:
    """Time gradc_fn() (realized, synchronized) against the bandwidth floor, a kernel that reads and writes every
    element of x once, in turns; then torch_fn and numpy_fn, each on its own (torch's OpenMP threads spin after
    each op and would slow the run that follows). Prints the table and returns the times by row name."""
    import gradc

    def realized(f):
        def run():
            gradc.realize(f())
            gradc.synchronize()
        return run

    times = compare({"gradc": realized(gradc_fn), FLOOR: realized(lambda: x + 0.0)}, rounds=rounds)
    if torch_fn is not None:
        times["torch eager (CPU)"] = timeit(torch_fn, 1, 5)
    if numpy_fn is not None:
        times["numpy"] = timeit(numpy_fn, 1, 3)
    table(list(times.items()), f"{title} on {x.device} ({x.device.backend.description}); {machine()}")
    print(f"gradc / copy floor: {times['gradc'] / times[FLOOR]:.2f} (target <= 2)")
    return times
