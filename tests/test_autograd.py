"""Autograd: gradcheck of every differentiable op in float64, custom Functions in both styles, the engine's
errors, fusion of backward kernels, and the graph being freed."""
import gc
import weakref

import numpy as np
import pytest

import gradc
from gradc.autograd import Function, gradcheck

DEVICES = ["cpu"] + (["opencl"] if any(d.type == "opencl" for d, _ in gradc.devices()) else [])
R = np.random.default_rng(0)


def f64(shape, device, low=-1.0, high=1.0, requires_grad=True):
    return gradc.tensor(R.uniform(low, high, shape), dtype=gradc.float64, device=device, requires_grad=requires_grad)


# (name, function of the inputs, input shapes, value range): every differentiable op of the contract
OPS = [
    ("add", lambda a, b: a + b, [(2, 3), (3,)], (-1, 1)),
    ("sub", lambda a, b: a - b, [(2, 3), (2, 1)], (-1, 1)),
    ("mul", lambda a, b: a * b, [(2, 3), (2, 3)], (-1, 1)),
    ("div", lambda a, b: a / b, [(2, 3), (2, 3)], (0.5, 2)),
    ("rsub_rdiv", lambda a: 2 - 3 / a, [(4,)], (0.5, 2)),
    ("pow_scalar", lambda a: a**3 + a**2.5, [(4,)], (0.5, 2)),
    ("pow_tensor", lambda a, b: a**b, [(4,), (4,)], (0.5, 2)),
    ("rpow", lambda a: 2**a, [(4,)], (-1, 1)),
    ("neg_abs", lambda a: (-a).abs(), [(5,)], (0.1, 1)),
    ("exp_log", lambda a: a.exp() + a.log() + a.log2() + a.exp2(), [(5,)], (0.5, 2)),
    ("sqrt_rsqrt", lambda a: a.sqrt() + a.rsqrt(), [(5,)], (0.5, 2)),
    ("trig", lambda a: a.sin() * a.cos() + a.tanh(), [(5,)], (-2, 2)),
    ("sigmoid_relu", lambda a: a.sigmoid() + a.relu(), [(6,)], (0.1, 1)),
    ("clamp", lambda a: a.clamp(-0.5, 0.5), [(6,)], (-1, 1)),
    ("max_min", lambda a, b: a.maximum(b) + a.minimum(b) * 2, [(6,), (6,)], (-1, 1)),
    ("where", lambda a, b: gradc.where(a > 0, a, b), [(6,), (6,)], (-1, 1)),
    ("sum_mean", lambda a: a.sum(1) + a.mean(0).sum() + a.sum((0, 1), keepdim=True), [(2, 3)], (-1, 1)),
    ("amax_amin", lambda a: a.amax(1) + a.amin(0).sum(), [(2, 3)], (-1, 1)),
    ("max_dim", lambda a: a.max(1)[0] + a.min(0).values.sum(), [(2, 3)], (-1, 1)),
    ("var_std", lambda a: a.var(1) + a.std(0).sum(), [(3, 4)], (-1, 1)),
    ("prod", lambda a: a.prod(1), [(2, 3)], (0.5, 2)),
    ("logsumexp", lambda a: a.logsumexp(1), [(2, 3)], (-1, 1)),
    ("softmax", lambda a: a.softmax(1) * gradc.arange(3, device=a.device), [(2, 3)], (-1, 1)),
    ("log_softmax", lambda a: a.log_softmax(0), [(2, 3)], (-1, 1)),
    ("matmul", lambda a, b: a @ b, [(2, 3), (3, 4)], (-1, 1)),
    ("matmul_t", lambda a, b: a @ b.t(), [(2, 3), (4, 3)], (-1, 1)),
    ("bmm_broadcast", lambda a, b: a @ b, [(2, 2, 3), (3, 2)], (-1, 1)),
    ("matvec", lambda a, b: a @ b, [(2, 3), (3,)], (-1, 1)),
    ("movement", lambda a: a.reshape(3, 2).t().permute(1, 0).expand(2, 3, 2).flatten(), [(2, 3)], (-1, 1)),
    ("slicing", lambda a: a[1:, ::2] * 2 + a[0, None, 1:3].sum(), [(3, 5)], (-1, 1)),
    ("narrow_split", lambda a: a.narrow(1, 1, 2) + a.split(2, 1)[0] * a.chunk(2, 1)[0], [(2, 4)], (-1, 1)),
    ("squeeze_unsqueeze", lambda a: a.unsqueeze(0).squeeze(0).unflatten(1, (2, 2)), [(2, 4)], (-1, 1)),
    ("cat_stack", lambda a, b: gradc.cat([a, b], 1) + gradc.stack([a, b], 0).sum(0).repeat_cols(), [(2, 2), (2, 2)],
     (-1, 1)),
    ("index_gather", lambda a: a[gradc.tensor([2, 0, 2], device=a.device)] + a.gather(
        1, gradc.tensor([[0, 1], [1, 1], [0, 0]], device=a.device)).sum(), [(3, 2)], (-1, 1)),
]


def _repeat_cols(t):
    return gradc.cat([t, t], 1)


gradc.Tensor.repeat_cols = _repeat_cols


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,fn,shapes,bounds", OPS, ids=[o[0] for o in OPS])
def test_gradcheck(device, name, fn, shapes, bounds):
    xs = [f64(s, device, *bounds) for s in shapes]
    # a random weighting of the outputs checks a vector-Jacobian product with one backward
    w = gradc.tensor(R.standard_normal(fn(*xs).shape), dtype=gradc.float64, device=device)
    assert gradcheck(lambda *a: (fn(*a) * w).sum(), xs, eps=1e-6, atol=1e-5, rtol=1e-3)


def test_gradcheck_fails_on_a_wrong_gradient():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = f64((3,), "cpu")
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        gradcheck(lambda a: Wrong.apply(a).sum(), [x])


# ---------------------------------------------------------------- custom Functions


class MulConst(Function):
    @staticmethod
    def forward(ctx, x, k, y):
        ctx.save_for_backward(x, y)
        ctx.k = k
        return x * y * k

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = g * y * ctx.k if ctx.needs_input_grad[0] else None
        gy = g * x * ctx.k if ctx.needs_input_grad[2] else None
        return gx, None, gy


@pytest.mark.parametrize("device", DEVICES)
def test_modern_function(device):
    x, y = f64((3,), device), f64((3,), device, requires_grad=False)
    out = MulConst.apply(x, 2.5, y)
    assert out.grad_fn is not None and "MulConst" in out.grad_fn.name()
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.5 * y.numpy())
    assert y.grad is None
    assert gradcheck(lambda a, b: MulConst.apply(a, 2.5, b).sum(), [f64((3,), device), f64((3,), device)])


def test_needs_input_grad_and_unneeded_gradients_launch_nothing():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            seen["needs"] = ctx.needs_input_grad
            return g, g

    a = gradc.ones(4, requires_grad=True)
    b = gradc.ones(4)
    Probe.apply(a, b).sum().backward()
    assert seen["needs"] == (True, False)

    x = gradc.tensor(R.standard_normal((8, 8)).astype(np.float32), requires_grad=True)
    w = gradc.tensor(R.standard_normal((8, 8)).astype(np.float32))  # needs no gradient
    loss = (x @ w).sum()
    gradc.realize(loss)
    with gradc.debug.kernels() as ks:
        loss.backward()
    # only x's gradient is computed: one matmul kernel, none for w
    assert sum(k.name.startswith("MM") for k in ks) == 1, [k.name for k in ks]


def test_mark_non_differentiable():
    class SortLike(Function):
        @staticmethod
        def forward(ctx, x):
            idx = x.argmax(0)
            ctx.mark_non_differentiable(idx)
            return x * 2, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            assert g_idx is None
            return g * 2

    x = gradc.ones(3, requires_grad=True)
    out, idx = SortLike.apply(x)
    assert not idx.requires_grad and out.requires_grad
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 2, 2])


class ReLUF(Function):
    """The founding article's legacy style: instance methods, self as the context."""

    def forward(self, input):
        self.save_for_backward(input)
        return input.clamp(min=0)

    def backward(self, grad_output):
        (input,) = self.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


@pytest.mark.parametrize("device", DEVICES)
def test_legacy_function(device):
    x = gradc.autograd.Variable(gradc.tensor([-1.0, 2.0, -3.0, 4.0], device=device), requires_grad=True)
    y = ReLUF()(x)
    np.testing.assert_allclose(y.detach().numpy(), [0, 2, 0, 4])
    (y * gradc.tensor([1.0, 2.0, 3.0, 4.0], device=device)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 2, 0, 4])


# ---------------------------------------------------------------- grad modes, hooks, higher order


def test_grad_modes():
    x = gradc.ones(2, requires_grad=True)
    with gradc.no_grad():
        assert not (x * 2).requires_grad
        with gradc.enable_grad():
            assert (x * 2).requires_grad
    assert (x * 2).requires_grad

    @gradc.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    gradc.set_grad_enabled(False)
    assert not gradc.is_grad_enabled()
    gradc.set_grad_enabled(True)
    with gradc.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert gradc.is_grad_enabled()
    assert not (x * 2).detach().requires_grad


def test_hooks_and_retain_grad():
    x = gradc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 10)
    x.register_hook(lambda g: g + 1)
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [60, 120])  # retained after the hook, as torch does
    np.testing.assert_allclose(x.grad.numpy(), [181, 361])


def test_higher_order_and_autograd_grad():
    x = gradc.tensor([1.0, 2.0], requires_grad=True)
    (g,) = gradc.autograd.grad((x**3).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [3, 12])
    (gg,) = gradc.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), [6, 12])
    assert x.grad is None  # autograd.grad does not accumulate
    a, b = gradc.ones(2, requires_grad=True), gradc.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="appears to not have been used"):
        gradc.autograd.grad((a * 2).sum(), [a, b])
    ga, gb = gradc.autograd.grad((a * 2).sum(), [a, b], allow_unused=True)
    assert gb is None and ga.tolist() == [2, 2]


def test_cast_backward_returns_the_input_dtype():
    x = gradc.tensor([1.0, 2.0], dtype=gradc.float64, requires_grad=True)
    (x.float() * 2).sum().backward()
    assert x.grad.dtype == gradc.float64 and x.grad.tolist() == [2, 2]


def test_gradients_accumulate():
    x = gradc.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5, 5, 5])


# ---------------------------------------------------------------- errors, as PyTorch raises them


@pytest.mark.parametrize("op", ["exp", "tanh", "sqrt", "div"])
def test_second_derivatives_of_rules_that_read_their_output(op):
    # exp's gradient is g * out: out must stand for the op's result, with its history, not for a leaf
    xs = np.array([0.5, 1.5])
    x = gradc.tensor(xs, dtype=gradc.float64, requires_grad=True)
    f = {"exp": lambda t: t.exp(), "tanh": lambda t: t.tanh(), "sqrt": lambda t: t.sqrt(), "div": lambda t: 1 / t}[op]
    (g,) = gradc.autograd.grad(f(x).sum(), x, create_graph=True)
    (gg,) = gradc.autograd.grad(g.sum(), x)
    t = np.tanh(xs)
    want = {"exp": np.exp(xs), "tanh": -2 * t * (1 - t * t), "sqrt": -0.25 * xs**-1.5, "div": 2 / xs**3}[op]
    np.testing.assert_allclose(gg.numpy(), want, rtol=1e-10)


def test_second_backward_through_freed_graph():
    x = gradc.ones(3, requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 2 * np.e * np.ones(3), rtol=1e-6)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_modified_saved_tensor_names_op_shape_and_versions():
    x = gradc.ones(3, 4, requires_grad=True)
    y = x * 2
    z = y * y  # saves y
    y.add_(1)
    with pytest.raises(RuntimeError) as e:
        z.sum().backward()
    msg = str(e.value)
    assert "modified by an inplace operation" in msg and "[3, 4]" in msg
    assert "is at version 1; expected version 0" in msg and "MulBackward0" in msg


def test_inplace_on_unsaved_tensor_is_fine():
    x = gradc.ones(3, requires_grad=True)
    y = x * 2
    z = y + 1  # add saves nothing it needs
    y.add_(1)
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 2, 2])


def test_backward_errors():
    x = gradc.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        gradc.ones(3).sum().backward()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    (x * 2).backward(gradc.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2, 4, 6])


# ---------------------------------------------------------------- fusion and memory


@pytest.mark.skipif("opencl" not in DEVICES, reason="needs an OpenCL device")
def test_backward_of_elementwise_chain_is_one_kernel():
    x = gradc.tensor(R.standard_normal(1000).astype(np.float32), device="opencl", requires_grad=True)
    y = ((x * 2 + 1).tanh() * x).exp().sum()
    gradc.realize(y)
    with gradc.debug.kernels() as ks:
        y.backward()
    assert len(ks) == 1, [k.name for k in ks]
    xt = x.detach().numpy().astype(np.float64)
    t = np.tanh(2 * xt + 1)
    ref = np.exp(t * xt) * ((1 - t * t) * 2 * xt + t)
    np.testing.assert_allclose(x.grad.numpy(), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_graph_and_saved_buffers_are_freed(device):
    x = gradc.tensor(R.standard_normal(64).astype(np.float32), device=device, requires_grad=True)
    y = x.exp() * x
    fn = weakref.ref(y.grad_fn)
    saved = weakref.ref(y.grad_fn.saved[0]._node)
    loss = y.sum()
    loss.backward()
    assert y.grad_fn.saved is None  # released by backward
    del y, loss
    assert fn() is None and saved() is None or saved().realized  # the graph is gone without the gc's help
    backend = gradc.device(device).backend
    for _ in range(20):
        (x.exp() * x).sum().backward()
    start = backend.live
    for _ in range(1000):
        (x.exp() * x).sum().backward()
    assert backend.live <= start, (start, backend.live)
    gc.collect()


def test_a_long_backward_starts_the_device_early_and_matches_torch(device, monkeypatch):
    """A backward of more than STREAM_EVERY rules realizes its pending gradients on the way: same values."""
    from gradc.autograd import STREAM_EVERY

    from helpers import check

    def rnn(x, w, u):
        h = x[0] @ w
        for t in range(1, x.shape[0]):
            h = (x[t] @ w + h @ u).tanh()
        return h

    steps = STREAM_EVERY // 4 + 2  # four rules a step: past one streaming point
    check(rnn, (steps, 3, 4), (4, 5), (5, 5), device=device, fusion=(True,))
    calls = []
    real = gradc.schedule.realize
    monkeypatch.setattr(gradc.schedule, "realize", lambda *ns: calls.append(len(ns)) or real(*ns))
    w = gradc.randn(4, 5, device=device, requires_grad=True)
    rnn(gradc.randn(steps, 3, 4, device=device), w, gradc.randn(5, 5, device=device)).sum().backward()
    assert len(calls) >= 2, calls  # one streaming realize, then the gradients'


def _through_views(x, w):
    """Writes through views, and views used after a write (theirs or a sibling's): every gradient reaches x."""
    y = x * 1
    y[0:2, 1:3] += x[0:2, 2:4] * 2.0  # get a view, add in place, set it back
    t = y[1]
    t2 = t[2:4]
    t2 *= 3  # through a view of a view, then t is read
    u = y[:, 1]
    u += 1
    z = u * 2
    u.mul_(x[:, 2])  # the product's own saved u is its old value
    return (t * w[1]).sum() + (z * w[:, 0]).sum() + (y * w).sum()


def test_gradients_through_writes_to_views_and_views_read_after(device):
    from helpers import check

    check(_through_views, (6, 5, 4), (6, 5, 4), device=device)


def test_a_scalar_loss_is_computed_before_its_backward(device):
    """backward() sends the loss to the device first, so reading it later waits for no gradient kernel."""
    from helpers import rand

    x = gradc.tensor(rand((8, 5)), device=device, requires_grad=True)
    loss = (x.exp() * 2).sum()
    with gradc.debug.kernels() as ks:
        loss.backward()
    assert loss._node.realized and len(ks) >= 2, [k.name for k in ks]
    assert ks[0].name.startswith("R_")  # the loss's reduction, then the gradient
    np.testing.assert_allclose(loss.item(), (np.exp(x.detach().numpy()) * 2).sum(), rtol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), np.exp(x.detach().numpy()) * 2, rtol=1e-5)


def test_backward_from_a_view_whose_base_changed_in_place(device):
    x = gradc.tensor(np.ones((2, 3), np.float32), device=device, requires_grad=True)
    y = x * 1
    first = y[0, 0]
    y.mul_(2)  # first now reads 2, and its gradient goes through the product
    first.backward(gradc.tensor(1.0, device=device))
    assert first.item() == 2.0 and x.grad.numpy()[0, 0] == 2.0


def test_custom_function_of_a_view_whose_base_changed_in_place(device):
    """A Function's inputs are read before their edges are taken: a view whose base was written in place passes its
    gradient through the write, as in torch."""
    from helpers import check, lib

    def fn(x):
        mul = _mul_function(lib(x))
        y = x * 1
        v = y[:2]
        y.mul_(3)
        return mul.apply(v, v) + mul.apply(v, y[2:4] * 0 + 1)

    check(fn, (5,), device=device)


def _mul_function(lib):
    class Mul(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g * b, g * a

    return Mul
