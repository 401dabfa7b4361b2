"""__getitem__/__setitem__: basic indices are views; integer-tensor and mask indices compose from comparisons and
sums (a one-hot selection), so they need no primitive of their own and differentiate for free."""
from __future__ import annotations

import numpy as np

from . import dtypes as dt
from .tensor import Tensor, arange, tensor, where


def _is_adv(i) -> bool:
    return isinstance(i, (Tensor, list, np.ndarray)) and not isinstance(i, bool)


def _expand_ellipsis(x: Tensor, idx: tuple) -> tuple:
    n_real = sum(1 for i in idx if i is not None and i is not Ellipsis and not (
        isinstance(i, Tensor) and i.dtype is dt.bool_)) + sum(i.ndim for i in idx if isinstance(i, Tensor) and
                                                              i.dtype is dt.bool_)
    if sum(1 for i in idx if i is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if n_real > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
    if Ellipsis in [i for i in idx if not isinstance(i, Tensor)]:
        at = next(k for k, i in enumerate(idx) if i is Ellipsis)
        return idx[:at] + (slice(None),) * (x.ndim - n_real) + idx[at + 1:]
    return idx + (slice(None),) * (x.ndim - n_real)


def _basic(x: Tensor, idx: tuple):
    """Apply ints, slices and None; return the view and the advanced indices with the dims they now apply to."""
    starts, stops, steps, shape_after, adv = [], [], [], [], []
    d = 0
    for i in idx:
        if i is None:
            shape_after.append(("new", None))
            continue
        if isinstance(i, Tensor) and i.dtype is dt.bool_:  # a mask over i.ndim dims: its nonzero positions
            nz = np.nonzero(i._to_numpy())
            for k in range(i.ndim):
                if i.shape[k] != x.shape[d + k]:
                    raise IndexError(f"The shape of the mask {list(i.shape)} at index {k} does not match the shape "
                                     f"of the indexed tensor {list(x.shape)} at index {d + k}")
                starts.append(0), stops.append(x.shape[d + k]), steps.append(1)
                adv.append((len(shape_after), tensor(nz[k], device=x.device)))
                shape_after.append(("keep", d + k))
            d += i.ndim
            continue
        n = x.shape[d]
        if isinstance(i, (bool, np.bool_)):
            raise NotImplementedError("indexing with a Python bool is not supported by gradc")
        if isinstance(i, (int, np.integer)) or isinstance(i, Tensor) and i.ndim == 0 and i.dtype.kind == "i":
            i = int(i)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for dimension {d} with size {n}")
            i %= n
            starts.append(i), stops.append(i + 1), steps.append(1)
            shape_after.append(("drop", d))
        elif isinstance(i, slice):
            st = 1 if i.step is None else int(i.step)
            if st <= 0:
                raise ValueError("step must be greater than zero")
            b, e, _ = slice(i.start, i.stop, 1).indices(n)
            starts.append(b), stops.append(max(b, e)), steps.append(st)
            shape_after.append(("keep", d))
        elif _is_adv(i):
            t = i if isinstance(i, Tensor) else tensor(np.asarray(i), device=x.device)
            if t.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            starts.append(0), stops.append(n), steps.append(1)
            adv.append((len(shape_after), t))
            shape_after.append(("keep", d))
        else:
            raise TypeError(f"invalid index of type {type(i).__name__}: gradc indexes with ints, slices, None, "
                            "..., and integer or bool tensors")
        d += 1
    v = x
    if any((b, e, s) != (0, n, 1) for b, e, s, n in zip(starts, stops, steps, x.shape)):
        v = x._slice(tuple(starts), tuple(stops), tuple(steps))
    sliced = list(v.shape)
    new_shape, positions = [], {}
    for kind, dim in shape_after:
        if kind == "new":
            new_shape.append(1)
        elif kind == "keep":
            positions[len(positions)] = len(new_shape)
            new_shape.append(sliced[dim])
    # the advanced indices refer to their slot in shape_after; map to positions in the reshaped view
    slot_pos, k = {}, 0
    for s, (kind, _) in enumerate(shape_after):
        if kind == "new":
            k += 1
        elif kind == "keep":
            slot_pos[s] = k
            k += 1
    if tuple(new_shape) != tuple(v.shape):
        v = v.reshape(tuple(new_shape))
    return v, [(slot_pos[s], t) for s, t in adv]


def _checked(t: Tensor, n: int, dim: int) -> Tensor:
    if t._node.realized and t.numel():  # known on the host: check the range now, before anything changes
        a = t._to_numpy()
        bad = a[(a < -n) | (a >= n)]
        if bad.size:
            raise IndexError(f"index {bad.flat[0]} is out of bounds for dimension {dim} with size {n}")
    t = t.to(dt.int64)
    return where(t < 0, t + n, t)


def _one_hot(v: Tensor, advs):
    """The adjacent advanced dims of v flattened to one, with the flat index selecting along it."""
    dims = [d for d, _ in advs]
    if dims != list(range(dims[0], dims[0] + len(dims))):
        raise NotImplementedError("gradc supports advanced (tensor) indices only in adjacent dimensions")
    d0 = dims[0]
    sizes = [v.shape[d] for d in dims]
    flat = None
    for (d, t), n in zip(advs, sizes):
        t = _checked(t, n, d)
        flat = t if flat is None else flat * n + t
    n_all = int(np.prod(sizes))
    vf = v.reshape(v.shape[:d0] + (n_all,) + v.shape[d0 + len(dims):])
    return vf, d0, flat, n_all


def getitem(x: Tensor, idx):
    idx = _expand_ellipsis(x, idx if isinstance(idx, tuple) else (idx,))
    v, advs = _basic(x, idx)
    if not advs:
        return v
    vf, d0, flat, n = _one_hot(v, advs)
    # out[..., s, ...] = sum_n where(flat[s] == n, vf[..., n, ...], 0)
    rest = vf.shape[d0 + 1:]
    xv = vf.reshape(vf.shape[:d0] + (1,) * flat.ndim + (n,) + rest)
    sel = flat.unsqueeze(-1) == arange(n, device=x.device)
    sel = sel.reshape(sel.shape + (1,) * len(rest))
    return where(sel, xv, 0).sum(d0 + flat.ndim)


def setitem(x: Tensor, idx, value) -> None:
    value = value if isinstance(value, Tensor) else x._other(value, "setitem")
    if isinstance(idx, Tensor) and idx.dtype is dt.bool_ and idx.shape == x.shape:
        x._inplace(where(idx, value.to(x.dtype), x))
        return
    idx = _expand_ellipsis(x, idx if isinstance(idx, tuple) else (idx,))
    v, advs = _basic(x, idx)
    if not advs:
        if v is x:
            x._inplace(value.to(x.dtype).expand(x.shape) + 0 if x.dtype is not dt.bool_ else value.expand(x.shape))
        else:
            v._inplace(value.to(x.dtype).expand(v.shape) * 1 if x.dtype is not dt.bool_ else value.expand(v.shape))
        return
    vf, d0, flat, n = _one_hot(v, advs)
    rest = vf.shape[d0 + 1:]
    # hit[n]: some index selects n; new[..., n, ...]: the value written there
    sel = (flat.reshape(-1).unsqueeze(-1) == arange(n, device=x.device))  # (S, n)
    vals = value.to(x.dtype).expand(vf.shape[:d0] + tuple(flat.shape) + rest)
    vals = vals.reshape(vf.shape[:d0] + (flat.numel(), 1) + rest)
    selb = sel.reshape((1,) * d0 + tuple(sel.shape) + (1,) * len(rest))
    new = where(selb, vals, 0).sum(d0)
    hit = sel.any(0).reshape((n,) + (1,) * len(rest))
    out = where(hit, new, vf).reshape(v.shape)
    v._inplace(out)


# ---------------------------------------------------------------- gather / scatter: one-hot selections along a dim


def _select(index: Tensor, dim: int, n: int) -> Tensor:
    """sel[..., j, k, ...] = (index[..., j, ...] == k), the new axis of size n right after `dim`."""
    index = _checked(index, n, dim)
    ar = arange(n, device=index.device).reshape([n if i == dim + 1 else 1 for i in range(index.ndim + 1)])
    return index.unsqueeze(dim + 1) == ar


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    dim = dim % x.ndim
    if index.ndim != x.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    n = x.shape[dim]
    xs = x._slice(tuple(0 for _ in x.shape), tuple(n if i == dim else s for i, s in enumerate(index.shape)),
                  (1,) * x.ndim) if any(s != t for i, (s, t) in enumerate(zip(index.shape, x.shape)) if i != dim) \
        else x
    return where(_select(index, dim, n), xs.unsqueeze(dim), 0).sum(dim + 1)


def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    dim = dim % x.ndim
    n = x.shape[dim]
    src = src._slice((0,) * src.ndim, tuple(index.shape), (1,) * src.ndim) if src.shape != index.shape else src
    contrib = where(_select(index, dim, n), src.unsqueeze(dim + 1), 0).sum(dim)
    pads = {i: (0, x.shape[i] - contrib.shape[i]) for i in range(x.ndim) if i != dim}
    return x + contrib.pad_dims(pads).to(x.dtype)


def index_add(x: Tensor, dim: int, index: Tensor, source: Tensor, alpha=1) -> Tensor:
    dim = dim % x.ndim
    n = x.shape[dim]
    sel = _select(index.reshape(-1), 0, n).to(source.dtype)  # (m, n)
    moved = source.transpose(dim, -1) if dim != source.ndim - 1 else source
    contrib = moved @ sel
    contrib = contrib.transpose(dim, -1) if dim != source.ndim - 1 else contrib
    return x + (contrib * alpha if alpha != 1 else contrib).to(x.dtype)


def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    dim = dim % x.ndim
    return getitem(x, (slice(None),) * dim + (index.reshape(-1),))


def masked_select(x: Tensor, mask: Tensor) -> Tensor:
    return getitem(x.expand(mask.shape) if x.shape != mask.shape else x, mask.expand(x.shape))


Tensor.gather = gather
Tensor.scatter_add = scatter_add
Tensor.scatter_add_ = lambda x, dim, index, src: x._inplace(scatter_add(x, dim, index, src))
Tensor.index_add = index_add
Tensor.index_add_ = lambda x, dim, index, source, alpha=1: x._inplace(index_add(x, dim, index, source, alpha))
Tensor.index_select = index_select
Tensor.masked_select = masked_select
