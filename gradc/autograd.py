"""Define-by-run autograd: every differentiable op records a BackwardFn; backward() walks them in reverse.

Gradients are built from lazy tensors, so the whole backward pass is one DAG that the scheduler fuses, and it is
realized once at the end. User Functions (modern `ctx` style and the legacy instance style) are BackwardFns too.
"""
from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import threading

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


class _GradMode:
    mode = True

    def __init__(self, mode=None):
        if mode is not None:
            self.mode = mode

    def __enter__(self):
        self.prev = is_grad_enabled()
        _state.enabled = self.mode

    def __exit__(self, *exc):
        _state.enabled = self.prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(self.mode):
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    mode = False


class enable_grad(_GradMode):
    mode = True


class set_grad_enabled(_GradMode):
    def __init__(self, mode: bool):
        super().__init__(bool(mode))
        self.prev = is_grad_enabled()
        _state.enabled = self.mode  # torch applies it at construction, so it also works as a plain call

    def __enter__(self):
        pass


FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after they have "
         "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
         "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if "
         "you need to access saved tensors after calling backward.")


def _modified_error(t, version, saved_version, fn_name):
    owner = f", which is output {t._output_nr} of {t.grad_fn.name()}," if t.grad_fn is not None else ""
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"[{t.dtype!r} {list(t.shape)}]{owner} is at version {version}; expected version {saved_version} "
        f"instead (needed by {fn_name}). Hint: clone the tensor before modifying it in place, or do the in-place "
        "operation after backward().")


def _edge(t):
    """Where a gradient for forward input t goes, fixed when the op is recorded (as torch's next_functions): the
    grad_fn that made t and which of its outputs t is, or the leaf t itself, or nowhere."""
    if not getattr(t, "requires_grad", False):
        return None
    return (t.grad_fn, t._output_nr) if t.grad_fn is not None else t


_created = itertools.count()


_NONE = (None, None)


class BackwardFn:
    """A node of the backward graph; `edges` lead to the nodes (or leaves) of its inputs."""

    n_outputs = 1

    def __init__(self, inputs):
        self.seq = next(_created)  # creation order: backward runs the latest created of the ready functions first
        edges, shapes = [], []
        for t in inputs:  # (one loop: this runs for every recorded op)
            # the shape first: reading a view's node gives it a new grad_fn if its base changed in place
            shapes.append(t._node.shape if hasattr(t, "_lazy") else getattr(t, "shape", None))
            edges.append(_edge(t))
        self.edges, self.shapes = tuple(edges), tuple(shapes)
        self._grad_enabled = is_grad_enabled()
        self.released = False
        self.hooks: dict[int, list] = {}
        self.retained: dict[int, object] = {}

    @property
    def needs_input_grad(self) -> tuple:
        return tuple(e is not None and self._grad_enabled for e in self.edges)

    def name(self) -> str:
        return type(self).__name__

    @property
    def next_functions(self):
        return tuple(e if isinstance(e, tuple) else (None, 0) for e in self.edges)

    def apply(self, *grads):
        raise NotImplementedError

    def release(self):
        self.released = True

    def __repr__(self):
        return f"<{self.name()}>"


class PrimBackward(BackwardFn):
    """Backward of a primitive or movement op: its rule is the row's gradient, fed snapshots of the inputs."""

    def __init__(self, name, rule, inputs, out, arg=None):
        super().__init__(inputs)
        self._name, self.rule, self.arg = name, rule, arg
        self.saved = [t._snapshot() for t in inputs] + [out]
        self.versions = [(t._version_box, t._version_box[0]) for t in inputs]

    def name(self) -> str:
        return self._name

    def apply(self, g):
        if self.released:
            raise RuntimeError(FREED)
        *xs, out = self.saved
        for x in xs:
            x._used = False
        grads = self.rule(g, out, *xs)
        for x, (box, v) in zip(xs, self.versions):  # only values the rule read must be unchanged
            if x._used and box is not None and box[0] != v:
                raise _modified_error(x, box[0], v, self._name)
        return grads

    def release(self):
        super().release()
        self.saved = None


# ---------------------------------------------------------------- custom Functions


class FunctionCtx:
    def save_for_backward(self, *tensors):
        self._saved = tensors
        self._saved_versions = [getattr(t, "_version", None) for t in tensors]

    @property
    def saved_tensors(self):
        if getattr(self, "released", False) and getattr(self, "_saved", None) is None:
            raise RuntimeError(FREED)
        saved = getattr(self, "_saved", ())
        for t, v in zip(saved, self._saved_versions if saved else ()):
            if t is not None and t._version != v:
                raise _modified_error(t, t._version, v, self.name())
        return saved

    def mark_non_differentiable(self, *tensors):
        self._non_diff = {id(t) for t in tensors}

    def mark_dirty(self, *tensors):
        pass

    def set_materialize_grads(self, value: bool):
        self._materialize = value


class _FunctionBackward(FunctionCtx, BackwardFn):
    def __init__(self, cls, inputs):
        BackwardFn.__init__(self, inputs)
        self._cls = cls

    def name(self) -> str:
        return f"{self._cls.__name__}Backward"

    def apply(self, *grads):
        if self.released:
            raise RuntimeError(FREED)
        return self._cls.backward(self, *grads)

    def release(self):
        self.released = True
        self._saved = None


def _wrap_outputs(fn, args, outputs):
    """Attach `fn` as grad_fn of the outputs when any tensor input requires grad."""
    from .tensor import Tensor

    tensors = [a for a in args if isinstance(a, Tensor)]
    single = not isinstance(outputs, tuple)
    outs = (outputs,) if single else outputs
    if is_grad_enabled() and any(t.requires_grad for t in tensors):
        non_diff = getattr(fn, "_non_diff", set())
        fn.n_outputs = len(outs)
        fresh = []
        for i, o in enumerate(outs):
            if isinstance(o, Tensor) and id(o) not in non_diff and o.dtype.is_floating_point:
                o = o._shallow() if any(o is a for a in args) else o
                o.requires_grad, o.grad_fn, o._output_nr = True, fn, i
            fresh.append(o)
        outs = tuple(fresh)
    return outs[0] if single else outs


class Function(FunctionCtx):
    """Subclass with `@staticmethod forward(ctx, ...)`/`backward(ctx, ...)` and call `.apply(...)`, or, as older code
    does, with instance methods `forward(self, ...)`/`backward(self, ...)` and call `MyFunction()(...)`."""

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = _FunctionBackward(cls, tensors_or_none(args))
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        return _wrap_outputs(ctx, args, out)

    def __call__(self, *args):
        # legacy style: the instance is its own context and its own backward node
        cls = type(self)
        ctx = _LegacyBackward(self, args)
        self.needs_input_grad = ctx.needs_input_grad
        with no_grad():
            out = cls.forward(self, *args)
        return _wrap_outputs(ctx, args, out)


class _LegacyBackward(BackwardFn):
    def __init__(self, fn, inputs):
        super().__init__(tensors_or_none(inputs))
        self.fn = fn

    def name(self) -> str:
        return f"{type(self.fn).__name__}Backward"

    def apply(self, *grads):
        if self.released:
            raise RuntimeError(FREED)
        return type(self.fn).backward(self.fn, *grads)

    def release(self):
        self.released = True
        self.fn._saved = None


def tensors_or_none(args):
    from .tensor import Tensor

    return tuple(a if isinstance(a, Tensor) else _NotATensor for a in args)


class _NotATensorType:
    requires_grad = False
    grad_fn = None


_NotATensor = _NotATensorType()


# ---------------------------------------------------------------- the engine


def _topo(roots):
    """The functions reachable from roots, each after every function that feeds it a gradient; of those ready, the
    latest created first, as torch's engine runs them. So a step's weight gradient is taken as soon as that step's
    rule gives it, not after the whole chain of earlier steps: the gradients of a weight used at every time step
    stay lazy together and sum in few kernels (schedule.sum_matmuls), where the streaming realizes in between
    would have computed each step's alone."""
    users: dict[int, int] = {}
    stack, seen = list(roots), set()
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        for e in fn.edges:
            if isinstance(e, tuple):
                users[id(e[0])] = users.get(id(e[0]), 0) + 1
                stack.append(e[0])
    ready = list({id(fn): (-fn.seq, fn) for fn in roots if not users.get(id(fn))}.values())
    heapq.heapify(ready)
    order = []
    while ready:
        fn = heapq.heappop(ready)[1]
        order.append(fn)
        for e in fn.edges:
            if isinstance(e, tuple):
                users[id(e[0])] -= 1
                if not users[id(e[0])]:
                    heapq.heappush(ready, (-e[0].seq, e[0]))
    return order


STREAM_EVERY = 32  # rules applied between realizes of the pending gradients (an RNN's backward is ~200 rules)


def run_backward(outputs, grad_outputs, retain_graph=False, create_graph=False, inputs=None, accumulate=True):
    """Propagate grad_outputs from outputs. Accumulates into .grad of leaves, or returns the grads of `inputs`."""
    from . import schedule
    from .node import prod
    from .tensor import Tensor

    pending: dict = {}  # (id(fn), output_nr) -> grad
    leaf_grads: dict = {}  # id(leaf) -> [leaf, grad]
    want = {id(t) for t in inputs} if inputs is not None else None

    def add(store, key, g, owner=None):
        if key in store:
            prev = store[key][1]
            store[key][1] = g if prev is None else prev if g is None else prev + g
        else:
            store[key] = [owner, g]

    # a scalar loss goes to the device first: the backward and the update queue behind it, and loss.item() (which
    # reads it without waiting for them) returns while they run. (Before the roots are taken: reading the node of a
    # view whose base changed in place gives the view its new grad_fn.)
    schedule.realize(*[t._node for t in outputs if not t._node.shape and not t._node.realized])
    roots = []
    for t, g in zip(outputs, grad_outputs):
        if t.grad_fn is None:
            add(leaf_grads, id(t), g, t)
        else:
            add(pending, (id(t.grad_fn), t._output_nr), g)
            roots.append(t.grad_fn)
    order = _topo(roots)
    with set_grad_enabled_ctx(create_graph):
        for step, fn in enumerate(order):
            if step and step % STREAM_EVERY == 0:
                # the device computes the gradients known so far while the host records the rest
                schedule.realize(*[g._node for _, g in pending.values() if g is not None and not g._node.realized])
            n_out = fn.n_outputs
            grads = [pending.pop((id(fn), i), _NONE)[1] for i in range(n_out)]
            if all(g is None for g in grads):
                continue
            if fn.hooks or fn.retained:
                for i, g in enumerate(grads):
                    for hook in fn.hooks.get(i, []):
                        r = hook(g) if g is not None else None
                        g = r if r is not None else g
                    grads[i] = g
                    ref = fn.retained.get(i)
                    t = ref() if ref is not None else None
                    if t is not None and g is not None:
                        t.grad = g if create_graph else g.detach()
                    if want is not None and t is not None and id(t) in want:
                        add(leaf_grads, id(t), g, t)
            if isinstance(fn, PrimBackward) or n_out == 1:
                if grads[0] is None:
                    continue
            else:
                grads = [g if g is not None else None for g in grads]
            in_grads = fn.apply(*grads)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            for e, shape, g in zip(fn.edges, fn.shapes, in_grads):
                if g is None or e is None:
                    continue
                if not isinstance(g, Tensor):
                    raise TypeError(f"{fn.name()}.backward returned {type(g).__name__} where a Tensor or None was "
                                    "expected")
                if g._node.shape != shape and tuple(g.shape) != tuple(shape):
                    if g.numel() == prod(shape):
                        g = g.reshape(shape)
                    else:
                        raise RuntimeError(f"Function {fn.name()} returned an invalid gradient - got {list(g.shape)} "
                                           f"but expected shape compatible with {list(shape)}")
                if isinstance(e, tuple):
                    add(pending, (id(e[0]), e[1]), g)
                else:
                    leaf = getattr(e, "_leaf", None)
                    e = e if leaf is None else leaf  # a saved snapshot of a leaf accumulates into the leaf
                    add(leaf_grads, id(e), g, e)
            if not retain_graph:
                fn.release()
    results = []
    for leaf, g in leaf_grads.values():
        for hook in getattr(leaf, "_hooks", []):
            out = hook(g)
            g = out if out is not None else g
        if want is not None:
            continue
        if accumulate and leaf.requires_grad:
            g = g if create_graph else g.detach()
            leaf.grad = g if leaf.grad is None else leaf.grad + g
            results.append(leaf.grad)
    if want is not None:
        found = {k: v[1] for k, v in leaf_grads.items()}
        return [found.get(id(t)) for t in inputs]
    schedule.realize(*[t._node for t in results if not t._node.realized])
    return None


@contextlib.contextmanager
def set_grad_enabled_ctx(mode):
    prev = is_grad_enabled()
    _state.enabled = bool(mode)
    try:
        yield
    finally:
        _state.enabled = prev


def Variable(tensor, requires_grad=False, volatile=False):
    """Old PyTorch's Variable: today just the tensor itself, with requires_grad set."""
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    from .tensor import Tensor, ones_like

    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    gos = []
    for o, g in zip(outputs, grad_outputs):
        if not o.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if o.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = ones_like(o)
        gos.append(g)
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        if t.grad_fn is not None:  # non-leaf inputs: collect their grad as it flows past
            t.grad_fn.retained.setdefault(t._output_nr, None)
    retain = create_graph if retain_graph is None else retain_graph
    # a non-leaf input is seen through a weak reference on its grad_fn
    import weakref

    for t in inputs:
        if t.grad_fn is not None and t.grad_fn.retained.get(t._output_nr) is None:
            t.grad_fn.retained[t._output_nr] = weakref.ref(t)
            t._grad_probe = True
    res = run_backward(outputs, gos, retain_graph=retain, create_graph=create_graph, inputs=inputs,
                       accumulate=False)
    for t in inputs:
        if getattr(t, "_grad_probe", False):
            del t.grad_fn.retained[t._output_nr]
            t.grad = None
            del t._grad_probe
    for g in res:
        if g is None and not allow_unused:
            raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                               "Set allow_unused=True if this is the desired behavior.")
    from . import schedule

    schedule.realize(*[g._node for g in res if g is not None and not g._node.realized])
    return tuple(res)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Compare analytical gradients with central differences (use float64 inputs)."""
    import numpy as np

    from .tensor import Tensor, tensor

    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    out = fn(*inputs)
    outs = (out,) if isinstance(out, Tensor) else tuple(out)
    for oi, o in enumerate(outs):
        o_np = o.detach().numpy()
        for k in range(o_np.size):
            go = np.zeros(o_np.shape, dtype=o_np.dtype)
            go.flat[k] = 1
            analytic = grad([o], [inputs[i] for i in diff], [tensor(go, device=o.device)], retain_graph=True,
                            allow_unused=True)
            for i, a in zip(diff, analytic):
                x = inputs[i]
                base = x.detach().numpy().copy()
                num = np.zeros(base.shape, dtype=np.float64)
                for j in range(base.size):
                    vals = []
                    for sgn in (1, -1):
                        pert = base.copy()
                        pert.flat[j] += sgn * eps
                        args = list(inputs)
                        args[i] = tensor(pert, device=x.device)
                        r = fn(*args)
                        r = (r,) if isinstance(r, Tensor) else tuple(r)
                        vals.append(r[oi].detach().numpy().reshape(-1)[k])
                    num.flat[j] = (vals[0] - vals[1]) / (2 * eps)
                a_np = np.zeros(base.shape) if a is None else a.numpy()
                if not np.allclose(a_np, num, atol=atol, rtol=rtol):
                    if raise_exception:
                        raise RuntimeError(f"Jacobian mismatch for output {oi} element {k} with respect to input {i},"
                                           f"\nnumerical:{num}\nanalytical:{a_np}\n")
                    return False
    return True
