"""The Tensor: records nodes of the lazy DAG, composes everything from the primitives in ops.py, and realizes on
demand (numpy(), item(), backward(), realize())."""
from __future__ import annotations

import math
import weakref

import numpy as np

from . import dtypes as dt
from . import schedule
from .autograd import PrimBackward, is_grad_enabled, no_grad, run_backward
from .device import default_device, device
from .node import Node, View, prod, view_of
from .ops import BINARY, MATMUL, REDUCE, TERNARY, UNARY

LOG2E, LN2 = 1.0 / math.log(2.0), math.log(2.0)
HOST_COPY_MAX_BYTES = 1 << 16


def _dev(d) -> device:
    return default_device() if d is None else d if isinstance(d, device) else device(d)


def _leaf(array: np.ndarray, dtype: dt.dtype, dev: device) -> Node:
    """A node holding a buffer with `array`'s values copied to the device."""
    backend = dev.backend
    backend.check_dtype(dtype)
    array = np.asarray(array, dtype=dtype.np)
    if not array.flags.c_contiguous:  # (np.ascontiguousarray would turn a 0-d array into shape (1,))
        array = array.copy()
    buf = backend.buffer(array.nbytes)
    # buffers are never written after this, so a copy of small data answers later reads without a device sync
    host = array.copy() if array.nbytes <= HOST_COPY_MAX_BYTES else None
    if array.nbytes:  # a private copy goes in the background; the caller's own array is read before we return
        backend.copy_in(buf.handle, array if host is None else host, wait=host is None)
    return Node("BUFFER", (), tuple(array.shape), dtype, dev, buffer=buf, host=host)


def _fill(value, shape, dtype: dt.dtype, dev: device, baked=False) -> Node:
    """Every element equals `value`. User scalars become kernel arguments (changing them recompiles nothing);
    structural constants (baked=True, and bools) are written into the source."""
    shape = tuple(int(s) for s in shape)
    value = bool(value) if dtype is dt.bool_ else int(value) if dtype.kind == "i" else float(value)
    return Node("CONST" if baked or dtype is dt.bool_ else "ARG", (), shape, dtype, dev, value)


def _broadcast_shape(a, b, op="") -> tuple:
    if a == b:
        return tuple(a)
    out = []
    for i, (x, y) in enumerate(zip(((1,) * (len(b) - len(a)) + tuple(a)), ((1,) * (len(a) - len(b)) + tuple(b)))):
        if x != y and x != 1 and y != 1:
            n = max(len(a), len(b))
            raise RuntimeError(f"{op}: The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                               f"non-singleton dimension {i} (shapes {list(a)} and {list(b)}, broadcast to {n} dims)")
        out.append(y if x == 1 else x)
    return tuple(out)


def _norm_dim(d, ndim, op="") -> int:
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"{op}Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return d % n


def _norm_dims(dim, ndim) -> tuple:
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(sorted({_norm_dim(d, ndim) for d in dims}))


class Tensor:
    __array_priority__ = 1000  # numpy scalars on the left defer to our reflected operators

    def __init__(self, *sizes, dtype=None, device=None):
        # gradc.Tensor(2, 3) as old tutorials use it: an uninitialized (here: zero) float tensor
        if len(sizes) == 1 and isinstance(sizes[0], (list, tuple, np.ndarray)):
            data = np.asarray(sizes[0])
            self._init(_leaf(data, dt.from_numpy(data.dtype) if dtype is None else dt.to_dtype(dtype), _dev(device)))
            return
        self._init(_fill(0, sizes, dt.to_dtype(dtype or dt.float32), _dev(device), baked=True))

    def _init(self, node, requires_grad=False):
        self._lazy, self._base, self._view, self._base_node = node, None, None, None
        self.requires_grad, self.grad, self.grad_fn = requires_grad, None, None
        self._output_nr, self._version_box = 0, [0]
        return self

    @classmethod
    def _wrap(cls, node) -> Tensor:
        return cls.__new__(cls)._init(node)

    # ------------------------------------------------------------ the node, through views of a base
    @property
    def _node(self) -> Node:
        if self._base is not None and self._base._node is not self._base_node:  # the base changed in place
            self._follow_base()
        return self._lazy

    def _follow_base(self):
        """Read the base's new value. A view in the graph also takes a new grad_fn on the base's new history (torch
        regenerates a view's grad_fn too): its old one would skip what was written through it or a sibling view."""
        base = self._base
        self._base_node = base._node
        self._lazy = view_of(self._base_node, self._view)
        if self.requires_grad and base.grad_fn is not None and is_grad_enabled():
            view, full = self._view, base._node.shape
            seen = base._record(Tensor._wrap(self._lazy), "AsStridedBackward0", lambda g, out, b: (Tensor._wrap(Node(
                "SETVIEW", (_fill(0, full, g.dtype, g.device, True), g._node), full, g.dtype, g.device, view)),),
                [base])
            self.grad_fn, self._output_nr = seen.grad_fn, 0

    @property
    def _version(self) -> int:
        return self._version_box[0]

    def _snapshot(self) -> Tensor:
        """A detached tensor that keeps today's value whatever happens to self later (for saved tensors)."""
        t = _Saved.__new__(_Saved)
        fn = self.grad_fn
        # it stands for self in the backward graph, so higher-order gradients reach self's history and leaves.
        # (_init's attributes, set at once: this runs for every input of every recorded op)
        t.__dict__.update(_lazy=self._node, _base=None, _view=None, _base_node=None, requires_grad=self.requires_grad,
                          grad=None, _grad_fn=fn, _output_nr=self._output_nr, _version_box=[0],
                          _leaf=self if fn is None else None)
        return t

    def _shallow(self) -> Tensor:
        t = Tensor._wrap(self._node)
        t._version_box = self._version_box
        return t

    # ------------------------------------------------------------ attributes
    @property
    def shape(self):
        return Size(self._node.shape)

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[_norm_dim(dim, self.ndim)]

    def dim(self) -> int:
        return len(self._node.shape)

    ndim = property(dim)

    def numel(self) -> int:
        return prod(self._node.shape)

    nelement = numel

    def element_size(self) -> int:
        return self.dtype.itemsize

    @property
    def dtype(self) -> dt.dtype:
        return self._node.dtype

    @property
    def device(self) -> device:
        return self._node.device

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def data(self) -> Tensor:
        """The same values without history; in-place ops on it change self too (p.data.add_(...), as in torch)."""
        base = self._base if self._base is not None else self
        t = Tensor._wrap(self._node)
        t._base, t._view, t._base_node = base, self._view or View.contiguous(self.shape), base._node
        t._version_box = self._version_box
        return t

    @data.setter
    def data(self, other: Tensor):
        self._set_node(other._node, bump=False)

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __hash__(self):
        return id(self)

    # ------------------------------------------------------------ realization
    def realize(self) -> Tensor:
        schedule.realize(self._node)
        return self

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        return self._to_numpy()

    def _to_numpy(self) -> np.ndarray:
        node = self._node
        if node.host is not None:
            return node.host.copy()
        schedule.realize(node)
        out = np.empty(node.shape, dtype=node.dtype.np)
        if out.nbytes:
            node.device.backend.copy_out(node.buffer.handle, out)
        return out

    def __array__(self, dtype=None, copy=None):
        a = self._to_numpy()
        return a if dtype is None else a.astype(dtype)

    def item(self):
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to Scalar")
        return self._to_numpy().reshape(()).item()

    def tolist(self):
        return self._to_numpy().tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.numel()} values is ambiguous")
        return bool(self.item())

    def __index__(self):
        if self.dtype.kind == "f" or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __repr__(self):
        a = self._to_numpy()
        if a.dtype == np.float16:
            a = a.astype(np.float32)
        body = np.array2string(a, separator=", ", precision=4, prefix="tensor(",
                               formatter={"bool": lambda x: "True" if x else "False"}) if a.size else "[]"
        extra = []
        if self.device != default_device():
            extra.append(f"device='{self.device}'")
        if self.dtype not in (dt.float32, dt.int64, dt.bool_) or a.size == 0 and self.dtype is not dt.float32:
            extra.append(f"dtype={self.dtype!r}")
        if self.grad_fn is not None:
            extra.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return f"tensor({body}{''.join(', ' + e for e in extra)})"

    __str__ = __repr__

    # ------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if gradient is None:
            if self.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            gradient = ones_like(self)
        elif not isinstance(gradient, Tensor):
            gradient = tensor(gradient, dtype=self.dtype, device=self.device)
        retain = create_graph if retain_graph is None else retain_graph
        run_backward([self], [gradient], retain_graph=retain, create_graph=create_graph)

    def detach(self) -> Tensor:
        t = Tensor._wrap(self._node)
        t._version_box = self._version_box
        if self._base is not None:
            t._base, t._view, t._base_node = self._base, self._view, self._base_node
        return t

    def detach_(self) -> Tensor:
        self.grad_fn, self.requires_grad = None, False
        return self

    def requires_grad_(self, requires_grad=True) -> Tensor:
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self.requires_grad = requires_grad
        return self

    def register_hook(self, hook):
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            self.__dict__.setdefault("_hooks", []).append(hook)
        else:
            self.grad_fn.hooks.setdefault(self._output_nr, []).append(hook)
        return _HookHandle(self, hook)

    def retain_grad(self):
        if self.grad_fn is not None:
            self.grad_fn.retained[self._output_nr] = weakref.ref(self)

    def _record(self, out: Tensor, name, rule, inputs, arg=None) -> Tensor:
        if rule is None or not is_grad_enabled():
            return out
        for t in inputs:
            if t.requires_grad:
                break
        else:
            return out
        out.requires_grad = True
        out.grad_fn = fn = PrimBackward(name, rule, inputs, None, arg)
        # the rule's `out` stands for out, made by fn: higher-order gradients through it reach fn's inputs.
        # It links back to fn weakly, or the node and its saved output would keep each other alive.
        saved = out._snapshot()
        saved.__dict__.update(_grad_fn=None, _fn_ref=weakref.ref(fn))
        fn.saved[-1] = saved
        return out

    # ------------------------------------------------------------ elementwise
    def _other(self, x, op) -> Tensor:
        if isinstance(x, Tensor):
            if x.device != self.device:
                raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                                   f"{self.device} and {x.device}! (when checking argument for {op})")
            return x
        if isinstance(x, (np.ndarray, list, tuple)):
            return tensor(x, device=self.device)
        if not isinstance(x, (int, float, bool, np.number, np.bool_)):
            raise TypeError(f"{op}(): unsupported operand type {type(x).__name__}")
        d = dt.result_type(self.dtype, x)
        return Tensor._wrap(_fill(x, (), d, self.device))

    def _binary(self, op, other, reverse=False, out_dtype=None, name=None) -> Tensor:
        node = self._node
        if type(other) in (float, int) and node.dtype.is_floating_point:  # x * 2.0: the common case, made short
            d = node.dtype
            s = Tensor._wrap(_fill(other, node.shape, d, node.device))  # a kernel argument, at x's shape
            srcs = (s, self) if reverse else (self, s)
            return _prim(op, BINARY[op], srcs, out_dtype or (dt.bool_ if op.startswith("CMP") else d))
        if isinstance(other, Tensor):  # the same shape, dtype and device: nothing to promote, broadcast or check
            on = other._node
            if on.shape == node.shape and on.dtype is node.dtype and on.device is node.device and (
                    op != "DIV" or node.dtype.kind == "f"):
                srcs = (other, self) if reverse else (self, other)
                return _prim(op, BINARY[op], srcs, out_dtype or (dt.bool_ if op.startswith("CMP") else on.dtype))
        name = name or op.lower()
        other = self._other(other, name)
        a, b = (other, self) if reverse else (self, other)
        d = _result_dtype(a, b)
        if op == "DIV" and d.kind != "f":
            d = dt.float32
        a, b = a.to(d), b.to(d)
        if a._node.shape != b._node.shape:
            shape = _broadcast_shape(a._node.shape, b._node.shape, name)
            a, b = a._broadcast(shape), b._broadcast(shape)
        return _prim(op, BINARY[op], (a, b), out_dtype or (dt.bool_ if op.startswith("CMP") else d))

    def __add__(self, o):
        return self._binary("ADD", o, name="add")

    def __radd__(self, o):
        return self._binary("ADD", o, True, name="add")

    def _no_bool_sub(self, o):
        if self.dtype is dt.bool_ or o.dtype is dt.bool_:
            raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
                               "to invert a mask, use the `~` or `logical_not()` operator instead.")

    def __sub__(self, o):
        o = self._other(o, "sub")
        self._no_bool_sub(o)
        if o.ndim and o.shape != self.shape:  # broadcast first, so a row value is negated where it is used
            o = o.expand(_broadcast_shape(self.shape, o.shape, "sub"))
        return self + (-o)

    def __rsub__(self, o):
        o = self._other(o, "sub")
        self._no_bool_sub(o)
        return o + (-self)

    def __mul__(self, o):
        return self._binary("MUL", o, name="mul")

    def __rmul__(self, o):
        return self._binary("MUL", o, True, name="mul")

    def __truediv__(self, o):
        return self._binary("DIV", o, name="div")

    def __rtruediv__(self, o):
        return self._binary("DIV", o, True, name="div")

    def __neg__(self):
        if self.dtype is dt.bool_:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                               "invert a mask, use the `~` or `logical_not()` operator instead.")
        return _prim("NEG", UNARY["NEG"], (self,), self.dtype)

    def __pow__(self, o):
        return self.pow(o)

    def __rpow__(self, o):
        return self._other(o, "pow").pow(self)

    def __matmul__(self, o):
        return self.matmul(o)

    def __rmatmul__(self, o):
        return self._other(o, "matmul").matmul(self)

    def __lt__(self, o):
        return self._binary("CMPLT", o, name="lt")

    def __gt__(self, o):
        return self._binary("CMPLT", o, True, name="gt")

    def __le__(self, o):  # not "not >": NaN <= x is False
        return (self < o)._binary("MAX", self == o)

    def __ge__(self, o):
        return (self > o)._binary("MAX", self == o)

    def __eq__(self, o):
        return self._binary("CMPEQ", o, name="eq")

    def __ne__(self, o):
        return (self == o).logical_not()

    def __invert__(self):
        if self.dtype is not dt.bool_:
            raise NotImplementedError("bitwise_not is implemented for bool tensors only in gradc")
        return self.logical_not()

    def __and__(self, o):
        return (self.to(dt.bool_).to(dt.int32) * self._other(o, "and").to(dt.int32)).to(dt.bool_)

    def __or__(self, o):
        return (self.to(dt.bool_).to(dt.int32) + self._other(o, "or").to(dt.int32)).to(dt.bool_)

    add = lambda self, o, alpha=1: self + (o * alpha if alpha != 1 else o)
    sub = lambda self, o, alpha=1: self - (o * alpha if alpha != 1 else o)
    mul = __mul__
    div = __truediv__
    true_divide = __truediv__
    neg = __neg__
    negative = __neg__
    lt, gt, le, ge, eq, ne = __lt__, __gt__, __le__, __ge__, __eq__, __ne__
    less, greater, less_equal, greater_equal, not_equal = lt, gt, le, ge, ne

    def logical_not(self):
        return _prim("CMPEQ", BINARY["CMPEQ"], (self, Tensor._wrap(_fill(0, self.shape, self.dtype, self.device,
                                                                             True))), dt.bool_)

    def _unary(self, op) -> Tensor:
        x = self if self.dtype.is_floating_point else self.to(dt.float32)
        return _prim(op, UNARY[op], (x,), x.dtype)

    def exp(self):
        return self._unary("EXP")

    def log(self):
        return self._unary("LOG")

    def sin(self):
        return self._unary("SIN")

    def cos(self):
        return self._unary("COS")

    def sqrt(self):
        return self._unary("SQRT")

    def tanh(self):
        return self._unary("TANH")

    def log2(self):
        return self.log() * _c(LOG2E, self)

    def exp2(self):
        return (self * _c(LN2, self)).exp()

    def rsqrt(self):
        return 1 / self.sqrt()

    def reciprocal(self):
        return 1 / self

    def square(self):
        return self * self

    def sigmoid(self):
        return 1 / (1 + (-self).exp())

    def relu(self):
        n = self._node
        if n.dtype.is_floating_point:  # max(0, x): NaN and -0.0 come through, as in torch
            out = Tensor._wrap(Node("MAX", (_fill(0, n.shape, n.dtype, n.device, True), n), n.shape, n.dtype, n.device))
        else:
            with no_grad():
                out = _c(0, self)._binary("MAX", self)
        # the gradient reads the output, as torch's does: the input need not outlive the forward (it can stay
        # inside a matmul's epilogue). out <= 0 is out == 0 for an output that is >= 0 or NaN: one compare
        return self._record(Tensor._wrap(out._node), "ReluBackward0", lambda g, out, a: (where(out == 0, 0.0, g),),
                            [self])

    def abs(self):
        return self.maximum(-self)

    def sign(self):
        return (self > 0).to(self.dtype) - (self < 0).to(self.dtype)

    def where(self, condition, other):
        """x.where(condition, y): x where condition holds, else y (torch's argument order)."""
        return where(condition, self, other)

    def maximum(self, o):
        return self._binary("MAX", o, name="maximum")

    def minimum(self, o):
        return -((-self).maximum(-self._other(o, "minimum")))

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        bounds = [self._other(b, "clamp") for b in (min, max) if b is not None]
        d = self.dtype
        for b in bounds:
            d = _result_dtype(Tensor._wrap(Node("CONST", (), self._node.shape, d, self.device, 0)), b)
        x = self.to(d)
        if min is not None:  # where() passes the gradient for elements inside [min, max], as torch does
            x = where(x < min, self._other(min, "clamp").to(d), x)
        if max is not None:
            x = where(x > max, self._other(max, "clamp").to(d), x)
        return x

    clip = clamp

    def pow(self, e):
        e_t = e if isinstance(e, Tensor) else None
        if self.dtype is dt.bool_ and (isinstance(e, bool) or e_t is not None and e_t.dtype is dt.bool_):
            raise NotImplementedError("pow of a bool tensor to a bool power is not implemented (as in torch)")
        if self.dtype is dt.bool_ and isinstance(e, int):
            return self.to(dt.int64).pow(e)
        if isinstance(e, bool):
            e = int(e)
        if self.dtype.kind != "f" and (e_t is None and not isinstance(e, float) or e_t is not None and
                                       e_t.dtype.kind != "f"):
            if isinstance(e, int) and e < 0:
                raise RuntimeError("Integers to negative integer powers are not allowed.")
            if e_t is not None or not 1 <= e <= 4:
                # integer powers in floating point (exact below 2**53): C has no pow() for integers
                out_dt = _result_dtype(self, e_t) if e_t is not None else self.dtype
                f = dt.float64 if self.device.backend.supports(dt.float64) else dt.float32
                r = self.to(f).pow(e_t.to(f) if e_t is not None else float(e))
                # round to the nearest integer; fractions (a negative exponent) truncate to 0, as integer math does
                return (r + where(r.abs() >= 1, where(r < 0, -0.5, 0.5), 0.0)).to(out_dt)
        if isinstance(e, (int, float)) and not isinstance(e, bool):
            if e == int(e) and 1 <= e <= 4:  # small integer powers as products: exact, and far cheaper than pow()
                out = self
                for _ in range(int(e) - 1):
                    out = out * self
                return out if e > 1 else self * 1
            if e == 0.5:
                return self.sqrt()
            if e == -1:
                return 1 / self
        return self._binary("POW", e, name="pow")

    def to(self, *args, **kwargs) -> Tensor:
        if len(args) == 1 and not kwargs and args[0] is self._node.dtype:  # the common no-op in binary ops
            return self
        target_dev, target_dt = kwargs.get("device"), kwargs.get("dtype")
        for a in args:
            if isinstance(a, Tensor):
                target_dev, target_dt = a.device, a.dtype
            elif isinstance(a, (dt.dtype, type)) or (not isinstance(a, (str, device)) and a is not None):
                target_dt = a
            elif a is not None:
                target_dev = a
        x = self
        if target_dt is not None and dt.to_dtype(target_dt) is not x.dtype:
            d = dt.to_dtype(target_dt)
            src = x
            x = Tensor._wrap(Node("CAST", (x._node,), x._node.shape, d, x.device))
            if d.is_floating_point:
                x = src._record(x, "ToCopyBackward0", lambda g, out, a: (g.to(a.dtype),), [src])
        if target_dev is not None and device(target_dev) != x.device:
            src = x
            x = Tensor._wrap(_leaf(x._to_numpy(), x.dtype, device(target_dev)))
            x = src._record(x, "ToCopyBackward0", lambda g, out, a: (g.to(a.device),), [src])
        return x

    def type(self, d=None):
        return str(self.dtype) if d is None else self.to(d)

    float = lambda self: self.to(dt.float32)
    double = lambda self: self.to(dt.float64)
    half = lambda self: self.to(dt.float16)
    long = lambda self: self.to(dt.int64)
    int = lambda self: self.to(dt.int32)
    bool = lambda self: self.to(dt.bool_)
    cpu = lambda self: self.to("cpu")

    def cuda(self, index=None):
        return self.to(device("cuda", index))

    def clone(self, memory_format=None) -> Tensor:
        # nodes are immutable and in-place ops replace a tensor's node, so a lazy copy is enough
        return self + _c(0, self) if self.dtype is not dt.bool_ else self.to(dt.int32).to(dt.bool_)

    def contiguous(self, memory_format=None) -> Tensor:
        if self._base is None:
            return self
        node = Node("CONTIGUOUS", (self._node,), self._node.shape, self.dtype, self.device)
        return self._record(Tensor._wrap(node), "CloneBackward0", lambda g, out, a: (g,), [self])

    def is_contiguous(self, memory_format=None) -> bool:
        return self._base is None or self._view.is_contiguous

    def stride(self, dim=None):
        v = self._view or View.contiguous(self.shape)
        s = tuple(st if st or n != 1 else 1 for st, n in zip(v.strides, v.shape))
        return s if dim is None else s[_norm_dim(dim, self.ndim)]

    # ------------------------------------------------------------ movement: views over the base's storage
    def _movement(self, view_fn, name, rule) -> Tensor:
        base = self._base if self._base is not None else self
        cur = self._view if self._base is not None else View.contiguous(self.shape)
        new = view_fn(cur)
        if new is None:  # strides cannot express it: copy to contiguous storage first, as reshape does
            return self.contiguous()._movement(view_fn, name, rule)
        out = Tensor.__new__(Tensor)._init(view_of(base._node, new))
        out._base, out._view, out._base_node, out._version_box = base, new, base._node, base._version_box
        return self._record(out, name, rule, [self])

    def reshape(self, *shape) -> Tensor:
        shape = _infer_shape(self.numel(), _shape_args(shape))
        if shape == tuple(self.shape):
            return self
        src = tuple(self.shape)
        return self._movement(lambda v: v.reshape(shape), "ViewBackward0", lambda g, out, a: (g.reshape(src),))

    def view(self, *shape) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (dt.dtype, type)):
            raise NotImplementedError("Tensor.view(dtype) is not supported by gradc")
        shape = _infer_shape(self.numel(), _shape_args(shape))
        cur = self._view if self._base is not None else View.contiguous(self.shape)
        if cur.reshape(shape) is None:
            raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                               "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
        return self.reshape(shape)

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def permute(self, *dims) -> Tensor:
        n = self._node
        nd = len(n.shape)
        dims = tuple(_norm_dim(d, nd) for d in _shape_args(dims))
        if sorted(dims) != list(range(nd)):
            raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                               f"length of the desired ordering of dimensions i.e. input.dim() = {nd} is not "
                               f"equal to len(dims) = {len(dims)}" if len(dims) != nd else
                               f"permute(): duplicate dims are not allowed: {list(dims)}")
        return self._permute(dims)

    def _permute(self, dims) -> Tensor:
        n, nd = self._node, len(dims)
        if dims == tuple(range(nd)):
            return self
        if n.op == "MATMUL" and len(n.srcs) == 2 and not n.realized and self._base is None and \
                not self.requires_grad and dims == (*range(nd - 2), nd - 1, nd - 2):
            # (a @ b)^T = b^T @ a^T: a weight gradient comes out in the layout it is stored in, with no copy
            def t(s):  # s transposed: a view's own strides permuted, where s is a view (no view of a view)
                if s.op == "VIEW" and s.buffer is None:
                    return view_of(s.srcs[0], s.arg.permute(dims))
                return view_of(s, View.contiguous(s.shape).permute(dims))

            a, b = n.srcs
            return Tensor._wrap(Node("MATMUL", (t(b), t(a)), tuple(n.shape[d] for d in dims), n.dtype, n.device))
        inv = dims if dims == (1, 0) else tuple(sorted(range(nd), key=dims.__getitem__))
        return self._movement(lambda v: v.permute(dims), "PermuteBackward0", lambda g, out, a: (g._permute(inv),))

    def transpose(self, d0, d1) -> Tensor:
        nd = len(self._node.shape)
        if nd == 2 and -2 <= d0 < 2 and -2 <= d1 < 2 and d0 % 2 != d1 % 2:  # a matrix's (one per matmul rule)
            return self._permute((1, 0))
        order = list(range(nd))
        d0, d1 = _norm_dim(d0, nd), _norm_dim(d1, nd)
        order[d0], order[d1] = order[d1], order[d0]
        return self._permute(tuple(order))

    swapaxes = transpose

    def t(self) -> Tensor:
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self.transpose(0, 1) if self.ndim == 2 else self

    def expand(self, *shape) -> Tensor:
        if len(shape) == 1 and shape[0] == self._node.shape:  # the common no-op in broadcasting binary ops
            return self
        shape = _shape_args(shape)
        src = tuple(self._node.shape)
        if len(shape) < len(src):
            raise RuntimeError(f"expand: the number of sizes provided ({len(shape)}) must be greater or equal to the "
                               f"number of dimensions in the tensor ({len(src)})")
        full = (1,) * (len(shape) - len(src)) + src  # new leading dims first, then one view: no node in between
        shape = tuple(s if n == -1 else n for s, n in zip(full, shape))
        for i, (s, n) in enumerate(zip(full, shape)):
            if s != n and s != 1:
                raise RuntimeError(f"The expanded size of the tensor ({n}) must match the existing size ({s}) at "
                                   f"non-singleton dimension {i}.  Target sizes: {list(shape)}.  Tensor sizes: "
                                   f"{list(src)}")
        if shape == src:
            return self
        axes = tuple(i for i, (s, n) in enumerate(zip(full, shape)) if s != n)

        def view_fn(v):
            v = v.reshape(full) if full != src else v  # (a padded view cannot reshape, but needs no new dims)
            return v and v.expand(shape)

        return self._movement(view_fn, "ExpandBackward0", lambda g, out, a: (g.sum(axes, keepdim=True).reshape(src),))

    def _broadcast(self, shape) -> Tensor:
        """expand for an operand that an op reads at once: a constant becomes a new constant node of that shape
        (the user never sees it, so it need not stay a view of the original)."""
        node = self._node
        if node.op in ("CONST", "ARG") and node.shape != shape and self._base is None and not self.requires_grad:
            return Tensor._wrap(Node(node.op, (), shape, node.dtype, node.device, node.arg))
        return self.expand(shape)

    def expand_as(self, other):
        return self.expand(other.shape)

    def squeeze(self, dim=None) -> Tensor:
        dims = _norm_dims(dim, self.ndim) if self.ndim else ()
        return self.reshape(tuple(s for i, s in enumerate(self.shape) if not (i in dims and s == 1)))

    def unsqueeze(self, dim) -> Tensor:
        dim = _norm_dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def flatten(self, start_dim=0, end_dim=-1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        s, e = _norm_dim(start_dim, self.ndim), _norm_dim(end_dim, self.ndim)
        return self.reshape(self.shape[:s] + (prod(self.shape[s:e + 1]),) + self.shape[e + 1:])

    def unflatten(self, dim, sizes) -> Tensor:
        dim = _norm_dim(dim, self.ndim)
        sizes = _infer_shape(self.shape[dim], tuple(sizes))
        return self.reshape(self.shape[:dim] + sizes + self.shape[dim + 1:])

    def _slice(self, starts, stops, steps) -> Tensor:
        shape = tuple(self.shape)

        def back(g, out, a):
            # place g back at its positions: interleave zeros for the steps, then pad to the source's extent
            for d, (b, st) in enumerate(zip(starts, steps)):
                if st > 1:
                    n = g.shape[d]
                    g = g.unsqueeze(d + 1).pad_dims({d + 1: (0, st - 1)}).flatten(d, d + 1)
                    g = g.narrow(d, 0, min(n * st, shape[d] - b))
                g = g.pad_dims({d: (b, shape[d] - b - g.shape[d])})
            return (g,)

        return self._movement(lambda v: v.slice(starts, stops, steps), "SliceBackward0", back)

    def pad_dims(self, pads: dict) -> Tensor:
        """Zero-pad: pads maps a dim to its (before, after) widths."""
        full = tuple(pads.get(i, (0, 0)) for i in range(self.ndim))
        if all(p == (0, 0) for p in full):
            return self
        shape = tuple(self.shape)
        starts = tuple(lo for lo, _ in full)
        stops = tuple(lo + s for (lo, _), s in zip(full, shape))
        return self._movement(lambda v: v.pad(full), "ConstantPadNdBackward0",
                              lambda g, out, a: (g._slice(starts, stops, (1,) * len(shape)),))

    def narrow(self, dim, start, length) -> Tensor:
        dim = _norm_dim(dim, self.ndim)
        start = start + self.shape[dim] if start < 0 else start
        if start < 0 or start + length > self.shape[dim] or length < 0:
            raise IndexError(f"start ({start}) + length ({length}) exceeds dimension size ({self.shape[dim]}).")
        starts = tuple(start if i == dim else 0 for i in range(self.ndim))
        stops = tuple(start + length if i == dim else s for i, s in enumerate(self.shape))
        return self._slice(starts, stops, (1,) * self.ndim)

    def split(self, size, dim=0):
        dim = _norm_dim(dim, self.ndim)
        n = self.shape[dim]
        sizes = [min(size, n - i) for i in range(0, n, size)] if isinstance(size, int) else list(size)
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                               f"dimension {dim}), but got split_sizes={sizes}")
        out, at = [], 0
        for s in sizes:
            out.append(self.narrow(dim, at, s))
            at += s
        return tuple(out)

    def chunk(self, chunks, dim=0):
        n = self.shape[_norm_dim(dim, self.ndim)]
        return self.split(max(1, -(-n // chunks)), dim)

    def unbind(self, dim=0):
        return tuple(t.squeeze(dim) for t in self.split(1, dim))

    # ------------------------------------------------------------ reductions
    def _reduce(self, op, dim=None, keepdim=False) -> Tensor:
        axes = _norm_dims(dim, self.ndim)
        x = self
        if op == "SUM" and x.dtype.kind != "f":
            x = x.to(dt.int64)
        if not axes:
            out = x if op != "SUM" or x is not self else x * 1
            return out
        shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
        if x.numel() == 0 and op == "MAX":
            raise RuntimeError("max(): Expected reduction dim to be specified for input.numel() == 0.")
        out = _prim("REDUCE", REDUCE[op], (x,), x.dtype, shape=shape, arg=(op, axes), name=f"{op.title()}Backward0")
        return out if keepdim else out.reshape(tuple(s for i, s in enumerate(x.shape) if i not in axes))

    def sum(self, dim=None, keepdim=False, dtype=None):
        x = self if dtype is None else self.to(dtype)
        return x._reduce("SUM", dim, keepdim)

    def mean(self, dim=None, keepdim=False, dtype=None):
        if not self.dtype.is_floating_point and dtype is None:
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point "
                               f"or complex dtype. Got: {self.dtype.name.capitalize()}")
        axes = _norm_dims(dim, self.ndim)
        n = prod(self.shape[a] for a in axes)
        return self.sum(dim, keepdim, dtype) / n if n else self.sum(dim, keepdim, dtype) * float("nan")

    def amax(self, dim=None, keepdim=False):
        return self._reduce("MAX", dim if dim != () else None, keepdim)

    def amin(self, dim=None, keepdim=False):
        return -((-self).amax(dim, keepdim)) if self.dtype is not dt.bool_ else \
            self.logical_not().amax(dim, keepdim).logical_not()

    def _arg(self, dim, keepdim, largest) -> Tensor:
        x = self if largest else -self
        if dim is None:
            x, dim = x.reshape(-1), 0
        dim = _norm_dim(dim, x.ndim)
        n = x.shape[dim]
        m = x.amax(dim, keepdim=True)
        # the first index holding the extreme: max over (n - i) where x == m
        rev = arange(n, 0, -1, device=x.device).reshape([n if i == dim else 1 for i in range(x.ndim)])
        hit = where((x == m) | (x != x), rev, 0).amax(dim, keepdim=keepdim)
        return n - hit

    def argmax(self, dim=None, keepdim=False):
        return self._arg(dim, keepdim, True)

    def argmin(self, dim=None, keepdim=False):
        return self._arg(dim, keepdim, False)

    def max(self, dim=None, keepdim=False):
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        if dim is None:
            return self.amax()
        return MinMax(self.amax(dim, keepdim), self.argmax(dim, keepdim))

    def min(self, dim=None, keepdim=False):
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        if dim is None:
            return self.amin()
        return MinMax(self.amin(dim, keepdim), self.argmin(dim, keepdim))

    def prod(self, dim=None, keepdim=False):
        # composed from sums: magnitude exp(sum(log|x|)), sign cos(pi * #negatives), zeros counted apart.
        # (the gradient at an exact zero is 0 here, where torch gives the product of the others)
        x = self if self.dtype.is_floating_point else self.to(dt.float64 if self.device.backend.supports(
            dt.float64) else dt.float32)
        zero = (x == 0).any(dim, keepdim)
        mag = where(x == 0, 1.0, x.abs()).log().sum(dim, keepdim).exp()
        sign = ((x < 0).to(x.dtype).sum(dim, keepdim) * _c(math.pi, x)).cos()
        out = where(zero, 0.0, sign * mag)
        return out if self.dtype.is_floating_point else (out + where(out < 0, -0.5, 0.5)).to(self.dtype)

    def var(self, dim=None, unbiased=True, keepdim=False, correction=None):
        c = (1 if unbiased else 0) if correction is None else correction
        axes = _norm_dims(dim, self.ndim)
        n = prod(self.shape[a] for a in axes)
        d = self - self.mean(axes, keepdim=True)
        return (d * d).sum(axes, keepdim) / max(n - c, 0)

    def std(self, dim=None, unbiased=True, keepdim=False, correction=None):
        return self.var(dim, unbiased, keepdim, correction).sqrt()

    def logsumexp(self, dim, keepdim=False):
        m = self.amax(dim, keepdim=True).detach()
        m = where(m.abs() == float("inf"), 0.0, m)  # all -inf rows stay -inf instead of nan
        out = (self - m).exp().sum(dim, keepdim=True).log() + m
        return out if keepdim else out.squeeze(dim)

    def softmax(self, dim, dtype=None):
        x = self if dtype is None else self.to(dtype)
        e = (x - x.amax(dim, keepdim=True).detach()).exp()
        return e * (1 / e.sum(dim, keepdim=True))  # one division per row, not per element

    def log_softmax(self, dim, dtype=None):
        x = self if dtype is None else self.to(dtype)
        s = x - x.amax(dim, keepdim=True).detach()
        return s - s.exp().sum(dim, keepdim=True).log()

    def all(self, dim=None, keepdim=False):
        return self.to(dt.bool_).logical_not().amax(dim, keepdim).logical_not() if self.numel() else tensor(True)

    def any(self, dim=None, keepdim=False):
        return self.to(dt.bool_).amax(dim, keepdim) if self.numel() else tensor(False)

    # ------------------------------------------------------------ linear algebra
    def matmul(self, other) -> Tensor:
        a, b = self, self._other(other, "matmul")
        na, nb = a._node, b._node
        if len(na.shape) == len(nb.shape) == 2 and na.dtype is nb.dtype and na.dtype.is_floating_point and \
                na.shape[1] == nb.shape[0] != 0:  # the common case, without the general path's checks and views
            return _prim("MATMUL", MATMUL, (a, b), na.dtype, shape=(na.shape[0], nb.shape[1]), name="MmBackward0")
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                               f"{a.ndim}D and {b.ndim}D")
        va, vb = a.ndim == 1, b.ndim == 1
        a = a.unsqueeze(0) if va else a
        b = b.unsqueeze(1) if vb else b
        if a.shape[-1] != b.shape[-2]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({'x'.join(map(str, a.shape[-2:]))} and "
                               f"{'x'.join(map(str, b.shape[-2:]))})")
        d = dt.promote(a.dtype, b.dtype)
        a, b = a.to(d), b.to(d)
        batch = _broadcast_shape(a.shape[:-2], b.shape[:-2], "matmul")
        n, k, m = a.shape[-2], a.shape[-1], b.shape[-1]
        a, b = a.expand(batch + (n, k)), b.expand(batch + (k, m))
        if k == 0:
            out = zeros(batch + (n, m), dtype=d, device=a.device)
        elif d.is_floating_point:
            out = _prim("MATMUL", MATMUL, (a, b), d, shape=batch + (n, m), name="MmBackward0")
        else:  # integer matmul: a broadcast multiply reduced over k (exact, and rare enough not to need a template)
            out = (a.unsqueeze(-1) * b.unsqueeze(-3)).sum(-2)
        if va:
            out = out.squeeze(-2)
        if vb:
            out = out.squeeze(-1)
        return out

    def mm(self, other):
        if self.ndim != 2 or other.ndim != 2:
            raise RuntimeError(f"self must be a matrix (mm got {self.ndim}D and {other.ndim}D)")
        return self.matmul(other)

    def bmm(self, other):
        if self.ndim != 3 or other.ndim != 3:
            raise RuntimeError(f"batch1 must be a 3D tensor (bmm got {self.ndim}D and {other.ndim}D)")
        if self.shape[0] != other.shape[0]:
            raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {self.shape[0]} and "
                               f"{other.shape[0]}")
        return self.matmul(other)

    def dot(self, other):
        return (self * other).sum()

    # ------------------------------------------------------------ in place
    def _set_node(self, node: Node, bump=True):
        if self._base is not None and self._view.is_contiguous and self._view.shape == self._base._node.shape:
            self._base._lazy = node  # an alias of the whole base (x.data): its new value is the base's
        elif self._base is not None:  # writing through a view: the base gets a copy with the view's elements replaced
            base = self._base
            base._lazy = Node("SETVIEW", (base._node, node), base._node.shape, base.dtype, base.device, self._view)
            base._base_node = None
        else:
            self._lazy = node
        if bump:
            self._version_box[0] += 1

    def _inplace(self, result: Tensor, cast=False) -> Tensor:
        grad = is_grad_enabled()
        if grad and self.requires_grad and self.grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        if tuple(result.shape) != tuple(self.shape):
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                               f"{list(result.shape)}")
        if not cast and dt._KIND_ORDER[result.dtype.kind] > dt._KIND_ORDER[self.dtype.kind]:
            raise RuntimeError(f"result type {_TORCH_NAMES[result.dtype.name]} can't be cast to the desired output "
                               f"type {_TORCH_NAMES[self.dtype.name]}")
        base = self._base if self._base is not None and not (
            self._view.is_contiguous and self._view.shape == self._base._node.shape) else None
        if grad and base is not None and (base.requires_grad or result.requires_grad):
            # a write through a view: the base's gradient is g with the view's elements zeroed, the value's is g
            # read through the view (torch's CopySlices)
            view, old = self._view, base._shallow()
            old.grad_fn, old.requires_grad, old._output_nr = base.grad_fn, base.requires_grad, base._output_nr
            value = result.to(self.dtype)
            self._set_node(value._node)
            new = Tensor._wrap(base._node)
            new = old._record(new, "CopySlices", lambda g, out, b, v: (
                Tensor._wrap(Node("SETVIEW", (g._node, _fill(0, view.shape, g.dtype, g.device, True)), g._node.shape,
                                  g.dtype, g.device, view)), Tensor._wrap(view_of(g._node, view))), [old, value])
            base.requires_grad, base.grad_fn, base._output_nr = True, new.grad_fn, 0
            self.requires_grad = True
            self._keep_saved(result)
            return self
        if grad and self.requires_grad and not result.requires_grad:  # zero_, fill_: no gradient reaches the old
            result = self._record(Tensor._wrap(result._node), "FillBackward0", lambda g, out, a: (g * 0,), [self])
        if result.requires_grad and grad:
            self.requires_grad, self.grad_fn, self._output_nr = True, result.grad_fn, result._output_nr
        self._set_node(result.to(self.dtype)._node)
        self._keep_saved(result)
        return self

    def _keep_saved(self, result):
        if isinstance(result.grad_fn, PrimBackward):
            # the op's own snapshot of self keeps the old value (torch saves a copy of the original self here): later
            # writes to self cannot change what this backward reads
            fn = result.grad_fn
            fn.versions = [(None, v) if b is self._version_box else (b, v) for b, v in fn.versions]

    def add_(self, o, alpha=1):
        return self._inplace(self.add(o, alpha))

    def sub_(self, o, alpha=1):
        return self._inplace(self.sub(o, alpha))

    def mul_(self, o):
        return self._inplace(self * o)

    def div_(self, o):
        return self._inplace(self / o)

    def pow_(self, o):
        return self._inplace(self.pow(o))

    def clamp_(self, min=None, max=None):
        return self._inplace(self.clamp(min, max))

    def neg_(self):
        return self._inplace(-self)

    def exp_(self):
        return self._inplace(self.exp())

    def relu_(self):
        return self._inplace(self.relu())

    def sqrt_(self):
        return self._inplace(self.sqrt())

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        v = value.to(self.dtype).expand(self.shape) if isinstance(value, Tensor) else \
            Tensor._wrap(_fill(value, self.shape, self.dtype, self.device))
        return self._inplace(v)

    def copy_(self, src):
        src = self._other(src, "copy_")
        if src.device != self.device:
            src = src.to(self.device)
        return self._inplace(src.to(self.dtype).expand(self.shape) * 1 if src.dtype is not dt.bool_ else
                             src.expand(self.shape).to(self.dtype))

    def masked_fill(self, mask, value):
        return where(mask, self._other(value, "masked_fill").to(self.dtype), self)

    def masked_fill_(self, mask, value):
        return self._inplace(self.masked_fill(mask, value))

    def __iadd__(self, o):
        return self.add_(o)

    def __isub__(self, o):
        return self.sub_(o)

    def __imul__(self, o):
        return self.mul_(o)

    def __itruediv__(self, o):
        return self.div_(o)

    # ------------------------------------------------------------ indexing
    def __getitem__(self, idx):
        from .indexing import getitem

        return getitem(self, idx)

    def __setitem__(self, idx, value):
        from .indexing import setitem

        setitem(self, idx, value)


class _Saved(Tensor):
    """A snapshot handed to a gradient rule; notes whether the rule read it (for the in-place version check)."""

    _fn_ref = None

    @property
    def _node(self):
        self._used = True
        return self._lazy

    @property
    def grad_fn(self):
        return self._fn_ref() if self._fn_ref is not None else self.__dict__.get("_grad_fn")

    @grad_fn.setter
    def grad_fn(self, fn):
        self.__dict__["_grad_fn"] = fn


class Size(tuple):
    def numel(self):
        return prod(self)

    def __repr__(self):
        return f"gradc.Size({list(self)})"


class MinMax(tuple):
    """(values, indices), as torch.return_types.max."""

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])


class _HookHandle:
    def __init__(self, t, hook):
        self.t, self.hook = t, hook

    def remove(self):
        hooks = self.t.__dict__.get("_hooks") if self.t.grad_fn is None else \
            self.t.grad_fn.hooks.get(self.t._output_nr, [])
        if hooks and self.hook in hooks:
            hooks.remove(self.hook)


_TORCH_NAMES = {"bool": "Bool", "int32": "Int", "int64": "Long", "float16": "Half", "float32": "Float",
                "float64": "Double"}


def _result_dtype(a: Tensor, b: Tensor) -> dt.dtype:
    """torch's promotion: a 0-d operand (a Python scalar, or a 0-d tensor) only decides the dtype when it is of a
    higher kind than a dimensioned one."""
    if (a.ndim == 0) == (b.ndim == 0):
        return dt.promote(a.dtype, b.dtype)
    dim, zero = (b, a) if a.ndim == 0 else (a, b)
    return zero.dtype if dt._KIND_ORDER[zero.dtype.kind] > dt._KIND_ORDER[dim.dtype.kind] else dim.dtype


def _prim(op, row, srcs, out_dtype, shape=None, arg=None, name=None) -> Tensor:
    node = Node(op, tuple(s._node for s in srcs), tuple(shape or srcs[0].shape), out_dtype, srcs[0].device, arg)
    out = Tensor._wrap(node)
    if row.grad is None or not out_dtype.is_floating_point:
        return out
    return srcs[0]._record(out, name or f"{op.title()}Backward0", row.grad, list(srcs), arg)


def _c(value, like: Tensor) -> Tensor:
    """A baked constant of `like`'s dtype: structural numbers of composites, written into the kernel source."""
    return Tensor._wrap(_fill(value, (), like.dtype, like.device, baked=True))


def _shape_args(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(s if type(s) is int else int(s) for s in shape)


def _infer_shape(numel, shape) -> tuple:
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if -1 in shape:
        known = prod(s for s in shape if s != -1)
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    if prod(shape) != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


# ---------------------------------------------------------------- module-level functions


def where(cond, a, b) -> Tensor:
    cond = cond if isinstance(cond, Tensor) else tensor(cond)
    ref = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else cond
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        d = dt.promote(dt.scalar_dtype(a), dt.scalar_dtype(b))
        a, b = Tensor._wrap(_fill(a, (), d, cond.device)), Tensor._wrap(_fill(b, (), d, cond.device))
    a = a if isinstance(a, Tensor) else ref._other(a, "where")
    b = b if isinstance(b, Tensor) else ref._other(b, "where")
    d = _result_dtype(a, b)
    shape = _broadcast_shape(_broadcast_shape(cond.shape, a.shape, "where"), b.shape, "where")
    c = cond.to(dt.bool_)._broadcast(shape)
    return _prim("WHERE", TERNARY["WHERE"], (c, a.to(d)._broadcast(shape), b.to(d)._broadcast(shape)), d)


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    if isinstance(data, Tensor):
        data = data._to_numpy()
    elif isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
        data = [x.item() if isinstance(x, Tensor) else x for x in data]
    arr = np.asarray(data)
    d = dt.to_dtype(dtype) if dtype is not None else (dt.float32 if arr.dtype == np.float64 and not isinstance(
        data, np.ndarray) else dt.from_numpy(arr.dtype))
    t = Tensor._wrap(_leaf(arr, d, _dev(device)))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _flat(xs):
    for x in xs:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


def from_numpy(a: np.ndarray) -> Tensor:
    return tensor(a, dtype=dt.from_numpy(a.dtype))


def as_tensor(data, dtype=None, device=None):
    return data.to(device=device, dtype=dtype) if isinstance(data, Tensor) else tensor(data, dtype, device)


def _creation(value, shape, dtype, device, requires_grad, baked=True):
    t = Tensor._wrap(_fill(value, _shape_args(shape), dt.to_dtype(dtype) if dtype is not None else
                           dt.scalar_dtype(value) if not isinstance(value, float) else dt.float32, _dev(device),
                           baked))
    return t.requires_grad_(True) if requires_grad else t


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return _creation(0.0, shape, dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _creation(1.0, shape, dtype, device, requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False):
    return zeros(*shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    return _creation(fill_value, (tuple(size),), dtype, device, requires_grad, baked=False)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return ones(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    return zeros_like(t, dtype, device, requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    d = dt.to_dtype(dtype) if dtype is not None else dt.int64 if is_int else dt.float32
    # computed on the host: numpy decides the count exactly as torch does for these dtypes
    t = tensor(np.arange(start, end, step, dtype=np.float64 if not is_int else np.int64), dtype=d, device=device)
    return t.requires_grad_(True) if requires_grad else t


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    t = tensor(np.linspace(start, end, steps), dtype=dtype or dt.float32, device=device)
    return t.requires_grad_(True) if requires_grad else t


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    t = tensor(np.eye(n, m), dtype=dtype or dt.float32, device=device)
    return t.requires_grad_(True) if requires_grad else t


def realize(*tensors) -> None:
    """Schedule the computation of several tensors together (fused where possible); may return before the device
    finishes."""
    schedule.realize(*[t._node for t in tensors])


def synchronize(dev=None) -> None:
    devs = [device(dev)] if dev is not None else [device(k) for k in device._backends]
    for d in devs:
        d.backend.synchronize()
