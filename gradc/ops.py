"""The primitive table: each op is one row, its C expression, its numpy reference and its gradient side by side.

Everything else (sub, sigmoid, softmax, layers, losses) is composed from these in tensor.py and nn/, and gets its
kernel code and its gradient for free. Gradient rules take (g, out, *inputs) as Tensors and return one gradient per
input (None where the input is not differentiable, or does not require grad: rules of the costly binary ops skip
that work); they build lazy nodes, so backward kernels fuse like forward.
C expressions take their operands as {0}, {1}, {2} and compute halves in float (halves are converted at load/store).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Prim:
    name: str
    c: str
    np: Callable
    grad: Callable | None  # (g, out, *inputs) -> tuple of input grads; None: not differentiable
    # Where a device's builtin is slow: the float (and half) formula instead of `c`, as stages separated by ";".
    # Each stage's value joins the operands ({1}, {2}, ... after the inputs); the last stage is the result.
    # {as_int} and {as_float} name the dialect's bit casts between a float and an int of the same width.
    fast: str | None = None
    exact: str | None = None  # for integer and bool values, where a NaN test is always false (compilers warn)

    def c_for(self, d) -> str:
        return self.exact if self.exact and d.kind in "ib" else self.c


def _max_grad(g, out, a, b):
    # torch.maximum splits the gradient evenly between equal inputs
    share = (a > b).to(g.dtype) + (a == b).to(g.dtype) * 0.5
    return g * share, g * (1 - share)


def _np_div(a, b):
    if np.issubdtype(np.result_type(a, b), np.integer):  # C semantics: truncate toward zero, never trap
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.trunc(np.true_divide(a, np.where(b == 0, 1, b)))
        return q.astype(np.result_type(a, b))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.true_divide(a, b)


def _np_unary(f):
    def run(*a):
        with np.errstate(all="ignore"):
            return f(*a)
    return run


UNARY = {p.name: p for p in [
    Prim("NEG", "(-{0})", np.negative, lambda g, out, a: (-g,)),
    # Cephes' expf, vectorizable: 2**n by writing n into the exponent bits (two factors, so that n = 128 and the
    # denormals below 2**-126 come out right); within 1 ulp, 0 below -104, inf above 88.73, NaN kept. PoCL's own
    # exp costs as much as the rest of a softmax.
    Prim("EXP", "exp({0})", _np_unary(np.exp), lambda g, out, a: (g * out,),
         fast="({0} < -104.0f ? -104.0f : {0} > 88.8f ? 88.8f : {0}); "
              "{1} * 1.44269504f + 12582912.0f; "  # adding 1.5 * 2**23 rounds to an integer, n, in the low bits
              "{2} - 12582912.0f; "
              "{1} - {3} * 0.693359375f + {3} * 2.12194440e-4f; "  # r = x - n ln2, ln2 split in two for exactness
              "(((((1.9875691500e-4f * {4} + 1.3981999507e-3f) * {4} + 8.3334519073e-3f) * {4} + 4.1665795894e-2f) "
              "* {4} + 1.6666665459e-1f) * {4} + 5.0000001201e-1f) * {4} * {4} + {4} + 1.0f; "
              "{5} * {as_float}(((({as_int}({2}) - 0x4B400000) >> 1) + 127) << 23) "
              "* {as_float}((({as_int}({2}) - 0x4B400000) - (({as_int}({2}) - 0x4B400000) >> 1) + 127) << 23)"),
    Prim("LOG", "log({0})", _np_unary(np.log), lambda g, out, a: (g / a,)),
    Prim("SIN", "sin({0})", np.sin, lambda g, out, a: (g * a.cos(),)),
    Prim("COS", "cos({0})", np.cos, lambda g, out, a: (-g * a.sin(),)),
    Prim("SQRT", "sqrt({0})", _np_unary(np.sqrt), lambda g, out, a: (g * 0.5 / out,)),
    # PoCL's vector tanh costs 3x a copy of the data; Eigen's rational minimax fit on [-7.9, 7.9] is within 6 ulp
    # (3.4e-7 relative), x times the ratio so that denormal x stay exact; +-1 from |x| > 9, where float32's tanh
    # rounds to 1. NaN passes through: every comparison with it is false.
    Prim("TANH", "tanh({0})", np.tanh, lambda g, out, a: (g * (1 - out * out),),
         fast="({0} > 7.9053111f ? 7.9053111f : {0} < -7.9053111f ? -7.9053111f : {0}); {1} * {1}; "
              "{1} * (((((((-2.76076848e-16f * {2} + 2.00018790e-13f) * {2} - 8.60467152e-11f) * {2} + "
              "5.12229709e-08f) * {2} + 1.48572236e-05f) * {2} + 6.37261929e-04f) * {2} + 4.89352456e-03f) / "
              "(((1.19825839e-06f * {2} + 1.18534706e-04f) * {2} + 2.26843463e-03f) * {2} + 4.89352519e-03f)); "
              "({0} > 9.0f ? 1.0f : {0} < -9.0f ? -1.0f : {3})"),
]}

BINARY = {p.name: p for p in [
    Prim("ADD", "({0} + {1})", np.add, lambda g, out, a, b: (g, g)),
    Prim("MUL", "({0} * {1})", np.multiply,
         lambda g, out, a, b: (g * b if a.requires_grad else None, g * a if b.requires_grad else None)),
    Prim("DIV", "({0} / {1})", _np_div,
         lambda g, out, a, b: (g / b if a.requires_grad else None, -g * out / b if b.requires_grad else None)),
    # NaN from either side wins; the NaN test is on {1}, as relu's max(0, x) puts its literal first
    Prim("MAX", "({1} >= {0} || {1} != {1} ? {1} : {0})", np.maximum, _max_grad, exact="({1} >= {0} ? {1} : {0})"),
    Prim("POW", "pow({0}, {1})", _np_unary(np.power),
         lambda g, out, a, b: (g * b * a.pow(b - 1), g * out * a.log())),
    Prim("CMPLT", "({0} < {1})", np.less, None),
    Prim("CMPEQ", "({0} == {1})", np.equal, None),
]}

TERNARY = {p.name: p for p in [
    Prim("WHERE", "({0} ? {1} : {2})", np.where,
         lambda g, out, c, a, b: (None, g.where(c, 0.0), (g * 0).where(c, g))),
]}

# Reductions keep reduced dims as size 1; the Tensor layer squeezes them when keepdim=False.
REDUCE = {p.name: p for p in [
    Prim("SUM", "{acc} + {x}", np.sum, lambda g, out, a: (g.expand(a.shape),)),
    Prim("MAX", "{x} > {acc} || {x} != {x} ? {x} : {acc}", np.max, exact="{x} > {acc} ? {x} : {acc}", grad=
         # amax spreads the gradient evenly over ties, as torch does
         lambda g, out, a: ((g / (a == out).to(g.dtype).sum(_reduced(a, out), keepdim=True)).expand(a.shape)
                            * (a == out).to(g.dtype),)),
]}
REDUCE_IDENTITY = {"SUM": 0, "MAX": -math.inf}  # floats; codegen takes integer MAX from the dtype's minimum

def philox_uniform(seed: int, ctr: np.ndarray) -> np.ndarray:
    """Philox4x32-10 at counters `ctr` (uint64) under key `seed`, as floats in [0, 1): the reference of RAND."""
    m = np.uint64(0xFFFFFFFF)
    ctr = ctr.astype(np.uint64)
    c0, c1 = ctr & m, ctr >> np.uint64(32)
    c2 = c3 = np.zeros_like(c0)
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64((seed >> 32) & 0xFFFFFFFF)
    for _ in range(10):
        p0, p1 = np.uint64(0xD2511F53) * c0, np.uint64(0xCD9E8D57) * c2
        c0, c1, c2, c3 = (p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & m, (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & m
        k0, k1 = (k0 + np.uint64(0x9E3779B9)) & m, (k1 + np.uint64(0xBB67AE85)) & m
    return (c0 >> np.uint64(8)).astype(np.float32) * np.float32(2.0**-24)


# Batched matmul over equal batch shapes (the Tensor layer broadcasts them with expand views first). In the IR a
# MATMUL node may hold several (A, B) operand pairs, their products summed (schedule.sum_matmuls).
MATMUL = Prim("MATMUL", "", np.matmul,
              lambda g, out, a, b: (g @ b.transpose(-1, -2) if a.requires_grad else None,
                                    a.transpose(-1, -2) @ g if b.requires_grad else None))

ELEMENTWISE = {**UNARY, **BINARY, **TERNARY}


def _reduced(a, out):
    return tuple(i for i, (x, y) in enumerate(zip(a.shape, out.shape)) if x != y)
