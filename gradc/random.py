"""Random numbers from a counter-based generator (Philox), so a seed gives the same numbers on every device."""
from __future__ import annotations

import numpy as np

from . import dtypes as dt
from .tensor import _shape_args, tensor

_seed = [0]
_counter = [0]


def manual_seed(seed: int):
    _seed[0], _counter[0] = int(seed), 0


def initial_seed() -> int:
    return _seed[0]


def _gen(n: int) -> np.random.Generator:
    # each call takes the next block of the stream: (seed, counter) fully determine the numbers
    g = np.random.Generator(np.random.Philox(key=_seed[0], counter=_counter[0]))
    _counter[0] += max(1, (n + 3) // 4)
    return g


def rand(*shape, dtype=None, device=None, requires_grad=False, generator=None):
    shape = _shape_args(shape)
    a = _gen(int(np.prod(shape))).random(shape, dtype=np.float32)
    return tensor(a, dtype=dtype or dt.float32, device=device, requires_grad=requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False, generator=None):
    shape = _shape_args(shape)
    a = _gen(2 * int(np.prod(shape))).standard_normal(shape, dtype=np.float32)
    return tensor(a, dtype=dtype or dt.float32, device=device, requires_grad=requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None, generator=None):
    if high is None:
        low, high = 0, low
    size = _shape_args((size,)) if size is not None else ()
    a = _gen(int(np.prod(size))).integers(low, high, size=size, dtype=np.int64)
    return tensor(a, dtype=dtype or dt.int64, device=device)


def randperm(n, dtype=None, device=None, generator=None):
    return tensor(_gen(n).permutation(n), dtype=dtype or dt.int64, device=device)
