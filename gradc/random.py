"""Random numbers from a counter-based generator (Philox4x32-10) run on the device: element i of a draw is the
generator at (seed, position + i), so a seed gives the same numbers on every device and in the reference."""
from __future__ import annotations

import math

from . import dtypes as dt
from .node import Node
from .tensor import Tensor, _c, _dev, _fill, _shape_args

_state = {"seed": 0, "position": 0}


def manual_seed(seed: int):
    _state["seed"], _state["position"] = int(seed) & 0xFFFFFFFFFFFFFFFF, 0


def initial_seed() -> int:
    return _state["seed"]


def _uniform(shape, device) -> Tensor:
    """A RAND node: seed and stream position are kernel arguments, so new draws reuse the compiled kernel."""
    dev = _dev(device)
    n = math.prod(shape)
    pos = _state["position"]
    _state["position"] += n
    srcs = (_fill(_state["seed"] - (1 << 64) * (_state["seed"] >= 1 << 63), (), dt.int64, dev),
            _fill(pos, (), dt.int64, dev))
    return Tensor._wrap(Node("RAND", srcs, tuple(shape), dt.float32, dev))


def _finish(t: Tensor, dtype, requires_grad) -> Tensor:
    if dtype is not None and dt.to_dtype(dtype) is not dt.float32:
        t = t.to(dtype)
    return t.requires_grad_(True) if requires_grad else t


def rand(*shape, dtype=None, device=None, requires_grad=False, generator=None):
    return _finish(_uniform(_shape_args(shape), device), dtype, requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False, generator=None):
    """Box-Muller on two uniform draws, composed from primitives."""
    shape = _shape_args(shape)
    u1, u2 = _uniform(shape, device), _uniform(shape, device)
    r = ((1 - u1).log() * _c(-2.0, u1)).sqrt()  # 1 - u1 is in (0, 1]: the log stays finite
    return _finish(r * (u2 * _c(2 * math.pi, u2)).cos(), dtype, requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None, generator=None):
    if high is None:
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    size = _shape_args((size,)) if size is not None else ()
    u = _uniform(size, device).to(dt.float64 if high - low > 1 << 24 and _dev(device).backend.supports(dt.float64)
                                  else dt.float32)
    out = (u * (high - low)).to(dt.int64) + low
    return out.clamp(max=high - 1).to(dtype or dt.int64)


def randperm(n, dtype=None, device=None, generator=None):
    from .tensor import tensor

    order = rand(n, device=device).numpy().argsort(kind="stable")  # ranks of uniform draws: a uniform permutation
    return tensor(order, dtype=dtype or dt.int64, device=device)


def _fill_uniform(t: Tensor, a=0.0, b=1.0):
    return t._inplace((_uniform(tuple(t.shape), t.device) * (b - a) + a).to(t.dtype))


def _fill_normal(t: Tensor, mean=0.0, std=1.0):
    return t._inplace((randn(tuple(t.shape), device=t.device) * std + mean).to(t.dtype))


Tensor.uniform_ = _fill_uniform
Tensor.normal_ = _fill_normal
