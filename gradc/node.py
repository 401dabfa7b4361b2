"""The IR: a lazy DAG of Nodes, and Views that describe memory layouts without copying."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from .dtypes import dtype


def prod(xs) -> int:
    return math.prod(xs)


def contiguous_strides(shape) -> tuple:
    return _contiguous_strides(tuple(shape))


@functools.lru_cache(maxsize=4096)  # a handful of shapes, asked for thousands of times a training step
def _contiguous_strides(shape: tuple) -> tuple:
    strides, acc = [], 1
    for s in reversed(shape):
        strides.append(acc if s != 1 else 0)
        acc *= s
    return tuple(reversed(strides))


@dataclass(frozen=True)
class View:
    """Where element (i0, i1, ...) of a shape lives in its source's contiguous storage: offset + sum(i_k * strides_k).
    `mask` (one (lo, hi) per dim, or None) marks the valid region; elements outside it read as 0 (padding)."""

    shape: tuple
    strides: tuple
    offset: int = 0
    mask: tuple | None = None

    @staticmethod
    def contiguous(shape) -> View:
        return _contiguous_view(tuple(shape))

    @property
    def is_contiguous(self) -> bool:
        return self.offset == 0 and self.mask is None and self.strides == contiguous_strides(self.shape)

    def permute(self, order) -> View:
        shape, strides, mask = self.shape, self.strides, self.mask
        return View(tuple(shape[i] for i in order), tuple(strides[i] for i in order), self.offset,
                    mask and tuple(mask[i] for i in order))

    def expand(self, shape) -> View:
        strides = tuple(0 if s != n else st for s, n, st in zip(self.shape, shape, self.strides))
        mask = self.mask and tuple((0, n) if s != n else m for s, n, m in zip(self.shape, shape, self.mask))
        return View(tuple(shape), strides, self.offset, mask)

    def slice(self, starts, stops, steps) -> View:
        """Basic slicing with positive steps: dim k keeps starts[k], starts[k]+steps[k], ... below stops[k]."""
        shape = tuple(max(0, -(-(e - b) // st)) for b, e, st in zip(starts, stops, steps))
        offset = self.offset + sum(b * s for b, s in zip(starts, self.strides))
        strides = tuple(s * st for s, st in zip(self.strides, steps))
        mask = None
        if self.mask is not None:  # shift the valid region into the new coordinates
            mask = tuple((max(0, -(-(lo - b) // st)), max(0, min(n, -(-(hi - b) // st))))
                         for (lo, hi), b, st, n in zip(self.mask, starts, steps, shape))
        return View(shape, strides, offset, mask)

    def pad(self, pads) -> View:
        """pads: one (before, after) per dim; the new elements read as zero."""
        shape = tuple(s + lo + hi for s, (lo, hi) in zip(self.shape, pads))
        old = self.mask or tuple((0, s) for s in self.shape)
        mask = tuple((m0 + lo, m1 + lo) for (m0, m1), (lo, _) in zip(old, pads))
        offset = self.offset - sum(lo * st for (lo, _), st in zip(pads, self.strides))
        return View(shape, self.strides, offset, mask)

    def reshape(self, shape) -> View | None:
        """The same elements in row-major order under a new shape, or None when strides cannot express it
        (PyTorch's computeStride: walk chunks of dims that are contiguous with each other)."""
        shape = tuple(shape)
        if self.mask is not None:
            return None
        if prod(self.shape) <= 1:
            return View(shape, (0,) * len(shape), self.offset if prod(shape) else 0)
        old, ost = self.shape, self.strides
        new_strides = [0] * len(shape)
        view_d, base_stride = len(shape) - 1, ost[-1]
        tensor_numel = view_numel = 1
        for d in reversed(range(len(old))):
            tensor_numel *= old[d]
            if d == 0 or (old[d - 1] != 1 and ost[d - 1] != tensor_numel * base_stride):
                while view_d >= 0 and (view_numel < tensor_numel or shape[view_d] == 1):
                    new_strides[view_d] = view_numel * base_stride if shape[view_d] != 1 else 0
                    view_numel *= shape[view_d]
                    view_d -= 1
                if view_numel != tensor_numel:
                    return None
                if d > 0:
                    base_stride, tensor_numel, view_numel = ost[d - 1], 1, 1
        return View(shape, tuple(new_strides), self.offset) if view_d == -1 else None

    def compose(self, outer: View) -> View | None:
        """The single view of this view's source that `outer` (a view over this view's elements, in row-major
        order) amounts to, or None when strides cannot express it."""
        if self.mask is not None:
            return None
        cs = contiguous_strides(self.shape)
        rest, start = outer.offset, []
        for c in cs:  # where outer's first element sits, as an index into self
            start.append(rest // c if c else 0)
            rest = rest % c if c else rest
        reach = list(start)
        strides = []
        for n, st in zip(outer.shape, outer.strides):
            if n == 1 or st == 0:
                strides.append(0)
                continue
            k = next((k for k, c in enumerate(cs) if c and st % c == 0 and st // c < self.shape[k]), None)
            if k is None:
                return None
            reach[k] += (n - 1) * (st // cs[k])
            strides.append(st // cs[k] * self.strides[k])
        if any(r >= s for r, s in zip(reach, self.shape)):  # a step would carry into the next dim
            return None
        offset = self.offset + sum(i * st for i, st in zip(start, self.strides))
        return View(outer.shape, tuple(strides), offset, outer.mask)

    def np_index(self):
        """(source index, validity) arrays of this view's shape, for the numpy reference interpreter."""
        import numpy as np

        idx, valid = np.full(self.shape, self.offset, dtype=np.int64), np.ones(self.shape, dtype=bool)
        for k, (s, st) in enumerate(zip(self.shape, self.strides)):
            ar = np.arange(s).reshape([-1 if j == k else 1 for j in range(len(self.shape))])
            idx = idx + ar * st
            if self.mask is not None:
                valid = valid & (ar >= self.mask[k][0]) & (ar < self.mask[k][1])
        return idx, valid

    def dynamic(self) -> list[tuple]:
        """The values that change between otherwise identical views (where a slice starts, where padding ends):
        (kind, dim, value) for a nonzero offset and for each mask bound that cuts. Kernels take them as arguments,
        so x[t] for every time step t is one program."""
        out = [("offset", None, self.offset)] if self.offset else []
        for k, (s, m) in enumerate(zip(self.shape, self.mask or ())):
            out += [("lo", k, m[0])] if m[0] > 0 else []
            out += [("hi", k, m[1])] if m[1] < s else []
        return out

    def pattern(self) -> tuple:
        """The view with its dynamic values reduced to which of them are present (for structural cache keys)."""
        if self.mask is None:  # (the common case, asked for every view of every realize)
            return self.shape, self.strides, _OFFSET if self.offset else ()
        return self.shape, self.strides, tuple((kind, k) for kind, k, _ in self.dynamic())

    def index(self, lin: str, param=None) -> tuple[str, str | None]:
        """C expressions (index into the source, validity or None) for the element at row-major position `lin`.
        `param(kind, dim, value)` names each dynamic value (default: the literal)."""
        if self.is_contiguous:
            return lin, None
        param = param or (lambda kind, k, v: str(v))
        terms, valid = [], []
        cstrides = contiguous_strides(self.shape)
        for k, (s, st, cs) in enumerate(zip(self.shape, self.strides, cstrides)):
            m = self.mask[k] if self.mask else (0, s)
            if s == 1 and m == (0, 1):
                continue
            i = lin if cs * s >= prod(self.shape) else f"({lin} % {cs * s})"
            i = i if cs <= 1 else f"({i} / {cs})"
            if st:
                terms.append(i if st == 1 else f"{i} * {st}")
            if m[0] > 0:
                valid.append(f"{i} >= {param('lo', k, m[0])}")
            if m[1] < s:
                valid.append(f"{i} < {param('hi', k, m[1])}")
        if self.offset:
            terms.append(param("offset", None, self.offset))
        return (" + ".join(terms) or "0"), (" && ".join(f"({v})" for v in valid) or None)


_OFFSET = (("offset", None),)


@functools.lru_cache(maxsize=4096)  # views are immutable: one per shape serves every tensor of that shape
def _contiguous_view(shape: tuple) -> View:
    return View(shape, contiguous_strides(shape))


# ops whose result starts a new elementwise chain (leaves, and ops that always get their own kernel or loop)
STARTS_CHAIN = ("BUFFER", "CONST", "ARG", "RAND", "REDUCE", "MATMUL", "CONTIGUOUS", "SETVIEW")


@dataclass(eq=False)
class Node:
    """One operation in the lazy DAG. Identity is object identity; once realized it holds a buffer, not sources."""

    op: str
    srcs: tuple
    shape: tuple
    dtype: dtype
    device: Any
    arg: Any = None
    buffer: Any = None
    depth: int = 0  # elementwise ops since the last node that gets a buffer (bounds how long a lazy chain grows)
    host: Any = None  # a small leaf's values on the host: reading them (labels, indices) waits for no kernel

    def __post_init__(self):
        if self.op not in STARTS_CHAIN and self.srcs:
            self.depth = max(0 if s.buffer is not None else s.depth for s in self.srcs) + (self.op != "VIEW")

    @property
    def numel(self) -> int:
        return prod(self.shape)

    @property
    def realized(self) -> bool:
        return self.buffer is not None

    def __repr__(self) -> str:
        state = "realized" if self.realized else f"{len(self.srcs)} srcs"
        return f"<Node {self.op} {self.shape} {self.dtype.name} {state} arg={self.arg!r}>"


def view_of(src: Node, view: View) -> Node:
    """`src` seen through `view`: no node for the identity, one view of the source for a view of a view."""
    if view.is_contiguous and view.shape == src.shape:
        return src
    if src.op == "VIEW" and not src.realized:  # a view of a view is one view of the source, where strides allow
        inner = src.arg.compose(view)
        if inner is not None:
            return view_of(src.srcs[0], inner)
    if src.op in ("CONST", "ARG") and view.mask is None:  # a constant looks the same through any view
        return Node(src.op, (), view.shape, src.dtype, src.device, src.arg)
    return Node("VIEW", (src,), view.shape, src.dtype, src.device, view)
