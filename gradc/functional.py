"""Module-level functions that mirror Tensor methods (gradc.exp(x), gradc.matmul(a, b), ...), plus cat and stack."""
from __future__ import annotations

import builtins

from .tensor import Tensor, _norm_dim

_METHODS = ("exp log log2 exp2 sqrt rsqrt sin cos tanh sigmoid relu abs neg negative sign reciprocal square "
            "pow clamp clip maximum minimum logical_not eq ne lt le gt ge add sub mul div true_divide "
            "sum mean prod amax amin argmax argmin var std logsumexp softmax log_softmax all any "
            "matmul mm bmm dot t transpose permute reshape flatten unflatten squeeze unsqueeze narrow split chunk "
            "unbind expand_as masked_fill clone detach numel "
            "gather scatter_add index_add index_select masked_select").split()


def _method(name):
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = name
    fn.__doc__ = f"gradc.{name}(input, ...) is input.{name}(...)."
    return fn


for _n in _METHODS:
    globals()[_n] = _method(_n)


def max(input, dim=None, keepdim=False):  # noqa: A001
    return input.max(dim, keepdim) if not isinstance(dim, Tensor) else input.maximum(dim)


def min(input, dim=None, keepdim=False):  # noqa: A001
    return input.min(dim, keepdim) if not isinstance(dim, Tensor) else input.minimum(dim)


def cat(tensors, dim=0) -> Tensor:
    """Each piece is zero-padded to the full extent along `dim` and the pieces are added: one elementwise kernel
    of masked loads, and the gradient (pad's: a slice) comes for free."""
    # torch skips 1-D empty tensors in cat
    tensors = [t for t in tensors if not (t.ndim == 1 and t.numel() == 0)] or list(tensors)[:1]
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    ref = tensors[0]
    dim = _norm_dim(dim, ref.ndim)
    for i, t in enumerate(tensors):
        if t.ndim != ref.ndim or builtins.any(a != b for k, (a, b) in enumerate(zip(t.shape, ref.shape)) if k != dim):
            raise RuntimeError(f"Sizes of tensors must match except in dimension {dim}. Expected size "
                               f"{ref.shape[1 - dim if ref.ndim > 1 else 0]} but got size "
                               f"{t.shape[1 - dim if t.ndim > 1 else 0]} for tensor number {i} in the list "
                               f"(shapes {[list(x.shape) for x in tensors]}).")
    total = builtins.sum(t.shape[dim] for t in tensors)
    out, at = None, 0
    for t in tensors:
        n = t.shape[dim]
        piece = t.pad_dims({dim: (at, total - at - n)})
        out = piece if out is None else out + piece
        at += n
    return out


concat = concatenate = cat


def stack(tensors, dim=0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} at "
                               f"entry 0 and {list(t.shape)} at entry {i}")
    dim = _norm_dim(dim, tensors[0].ndim + 1)
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def clamp_(t, min=None, max=None):  # noqa: A002
    return t.clamp_(min, max)


__all__ = [*_METHODS, "max", "min", "cat", "concat", "concatenate", "stack"]
