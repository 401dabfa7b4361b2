"""nn.Parameter: a Tensor that a Module registers as one of its parameters (requires_grad defaults to True)."""
from __future__ import annotations

from ..autograd import no_grad
from ..tensor import Tensor, tensor, zeros


def _typename(o) -> str:
    """torch.typename: 'torch.FloatTensor'-like for tensors, the qualified class name otherwise."""
    if isinstance(o, Tensor):
        return f"gradc.{type(o).__name__}"
    t = type(o)
    mod = t.__module__
    return t.__qualname__ if mod in ("builtins", "__builtin__", None) else f"{mod}.{t.__qualname__}"


class Parameter(Tensor):
    """`Parameter(data=None, requires_grad=True)`: wraps `data`'s value (no copy: nodes are immutable) as a leaf.

    Ops on a Parameter return plain Tensors, as in PyTorch. `p.data` is a detached alias of `p`: in-place writes
    through it (`p.data.add_(...)`, `p.data -= ...`, as older code does) change `p` itself.
    """

    def __new__(cls, data=None, requires_grad=True):
        return Tensor.__new__(cls)

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = zeros(0)
        elif not isinstance(data, Tensor):
            data = tensor(data)
        self._init(data._node)
        if requires_grad:
            self.requires_grad_(True)  # raises torch's message for integer dtypes

    @property
    def data(self) -> Tensor:
        # an identity view of self, detached: it follows self's value and writes through to it (see Tensor.__setitem__)
        with no_grad():
            self.realize()  # (writes through a view of a lazy base fail in the scheduler today)
            return self.unsqueeze(0)[0].detach()

    @data.setter
    def data(self, other: Tensor):
        Tensor.data.fset(self, other)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        with no_grad():
            out = Parameter(self.detach().clone(), self.requires_grad)
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, proto):
        raise TypeError("gradc tensors are not pickled: save state dicts with gradc.save (safetensors)")


class Buffer(Tensor):
    """torch.nn.Buffer: marks a tensor to be registered as a buffer when assigned to a Module attribute."""

    def __new__(cls, data=None, *, persistent=True):
        return Tensor.__new__(cls)

    def __init__(self, data=None, *, persistent=True):
        data = zeros(0) if data is None else data if isinstance(data, Tensor) else tensor(data)
        self._init(data._node)
        self.persistent = persistent
