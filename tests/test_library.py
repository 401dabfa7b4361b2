"""The tensor library beyond elementwise ops: reductions, matmul, shape ops, indexing, gather/scatter and random
numbers, forward and backward against torch on every device; and the fusions they rely on."""
import numpy as np
import pytest

import gradc

from helpers import check, lib, rand

ODD = [(1, 7), (33, 1), (7, 257)]


@pytest.mark.parametrize("shape", ODD + [(3, 0)], ids=str)
def test_reductions(shape, device):
    check(lambda x: (x.sum(), x.sum(1), x.sum(-2, keepdim=True), x.sum((0, 1)), x.mean(0)), shape, device=device)
    if 0 not in shape:
        check(lambda x: (x.amax(1), x.amin(0, keepdim=True), x.max(), x.min(-1)[0], x.var(1), x.std(0),
                         x.logsumexp(1), x.softmax(1), x.log_softmax(0), x.prod(1)), shape, device=device)


def test_reductions_of_zero_d_and_ints(device):
    check(lambda x: (x.sum(), x.amax(), x.mean()), np.array(1.5, dtype=np.float32), device=device)
    check(lambda x: (x.sum(1), x.amax(0), x.argmax(1), x.argmin(0), x.max(1)[1]), rand((4, 5), "int64", 0, 9),
          device=device, grad=False)


def test_argmax_takes_the_first_of_ties(device):
    x = gradc.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], device=device)
    assert x.argmax(1).tolist() == [1, 0] and x.argmin(1).tolist() == [0, 2]


def test_stable_softmax_and_logsumexp_at_large_magnitude(device):
    check(lambda x: (x.softmax(1), x.log_softmax(1), x.logsumexp(1)), rand((4, 9), lo=-1e4, hi=1e4), device=device)


@pytest.mark.parametrize("n,k,m", [(1, 1, 1), (7, 33, 5), (33, 8, 65), (16, 24, 16)], ids=str)
def test_matmul_shapes(n, k, m, device):
    check(lambda a, b: (a @ b, a @ b[:, :1], lib(a).mm(a, b)), (n, k), (k, m), device=device)
    check(lambda a, b: a @ b.t(), (n, k), (m, k), device=device)  # both operands contiguous along k


@pytest.mark.parametrize("transposed", [False, True])
def test_large_matmuls_read_packed_operands(transposed, opencl, monkeypatch):
    # packing pays from 2**30 flops; lowered here so small shapes take the same path
    monkeypatch.setattr(gradc.schedule, "PACK_MIN_FLOP", 0)
    a, b = rand((24, 40)), rand((40, 16))
    x, y = gradc.tensor(a.T.copy() if transposed else a, device=opencl), gradc.tensor(b, device=opencl)
    x = x.t() if transposed else x  # x^T @ y: both operands need packing
    with gradc.debug.kernels() as ks:
        got = (x @ y * 2).numpy()
    assert [k.name.startswith("E_contiguous") for k in ks] == [True] * (1 + transposed) + [False], [k.name for k in ks]
    w = getattr(opencl.backend, "vector_width", 1)
    if w > 1:  # both operands now stream along k: the dot-product layout
        assert f"float{w} xa0 = " in ks[-1].source and f"float{w} xb0 = " in ks[-1].source, ks[-1].source
    np.testing.assert_allclose(got, a @ b * 2, rtol=1e-5, atol=1e-5)
    check(lambda p, q: p @ q, a, b, device=str(opencl))


def test_matmul_of_a_realized_view(device):
    y = (gradc.tensor(rand((4, 6)), device=device) * 2).reshape(6, 4)
    y.numpy()  # realized: the view node now has a buffer of its own
    w = gradc.tensor(rand((4, 3)), device=device)
    np.testing.assert_allclose((y @ w).numpy(), y.numpy() @ w.numpy(), rtol=1e-5, atol=1e-5)


def test_matmul_broadcasting_and_vectors(device):
    check(lambda a, b: (a @ b, lib(a).bmm(a, b.expand(2, 5, 3)), a[0] @ b[0], a[0, 0] @ b[0]), (2, 4, 5), (1, 5, 3),
          device=device)
    check(lambda a, b: a @ b, (3, 1, 4, 5), (2, 5, 2), device=device)


def test_linear_epilogue_is_one_kernel(device):
    x = gradc.tensor(rand((8, 16)), device=device)
    w = gradc.tensor(rand((4, 16)), device=device)
    b = gradc.tensor(rand((4,)), device=device)
    gradc.realize(x, w, b)
    with gradc.debug.kernels() as ks:
        y = (x @ w.t() + b).relu().numpy()
    assert len(ks) == 1, [k.name for k in ks]
    np.testing.assert_allclose(y, np.maximum(x.numpy() @ w.numpy().T + b.numpy(), 0), rtol=1e-5, atol=1e-5)


def test_softmax_and_layer_norm_are_one_kernel(device):
    x = gradc.tensor(rand((6, 32)), device=device)
    for f in (lambda t: t.softmax(1), lambda t: t.log_softmax(-1),
              lambda t: (t - t.mean(1, keepdim=True)) / (t.var(1, keepdim=True) + 1e-5).sqrt()):
        with gradc.debug.kernels() as ks:
            f(x).numpy()
        assert len(ks) == 1, [k.name for k in ks]


def test_row_kernels_propagate_nan_and_inf(device):
    # rows of 32 floats run on vectors on CPU devices: the lanes' max and the fold across lanes must keep NaN
    a = rand((4, 32))
    a[1, 5], a[2, 17], a[3, :] = np.nan, np.inf, -np.inf
    x = gradc.tensor(a, device=device)
    check(lambda t: (t.softmax(1), t - t.amax(1, keepdim=True), t.log_softmax(1)), a, device=device, grad=False,
          ref=lambda t: (_np_softmax(t), t - t.max(1, keepdims=True), np.log(_np_softmax(t))))
    assert np.isnan(x.softmax(1).numpy()[1]).all() and np.isnan(x.amax(1).numpy()[1])


def test_column_reductions_run_on_vectors(device):
    """Sums and maxes over leading axes (a bias gradient's shape) compute 8 neighbouring outputs per thread on CPU
    devices; NaN and the epilogue survive the vectors, and shapes whose rows do not split into vectors still work."""
    a = rand((6, 3, 16))
    a[2, 1, 5] = np.nan
    check(lambda t: (t.sum(0) * 2, t.amax((0, 1)), t.mean(0), t[:, :, :12].sum(0)), a, device=device, grad=False,
          ref=lambda t: (t.sum(0) * 2, t.max((0, 1)), t.mean(0), t[:, :, :12].sum(0)))
    check(lambda t: t.sum(0), (5, 12), device=device)
    x = gradc.tensor(a, device=device)
    with gradc.debug.kernels() as ks:
        x.sum(0).numpy()
    if getattr(x.device.backend, "vector_width", 1) == 8 and x.device.backend.dialect.vectors:
        assert ks[0].global_size == (6,), ks  # 48 outputs, 8 to a thread


def _np_softmax(a):
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.exp(a - a.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)


def test_reduction_epilogue_is_one_kernel(device):
    x = gradc.tensor(rand((8, 16)), device=device)
    with gradc.debug.kernels() as ks:
        y = ((x * x).sum(1) * 2 + 1).numpy()
    assert len(ks) == 1
    np.testing.assert_allclose(y, (x.numpy() ** 2).sum(1) * 2 + 1, rtol=1e-5)


def test_shape_ops(device):
    check(lambda x: (x.reshape(4, 6), x.view(2, 12), x.transpose(0, 2), x.permute(2, 0, 1), x.flatten(1),
                     x.unflatten(2, (2, 2)), x.unsqueeze(1).squeeze(), x[:, :1].expand(2, 3, 4), x.narrow(2, 1, 2),
                     *x.split(2, 2), *x.chunk(3, 1), x.contiguous(), x.t() if x.ndim <= 2 else x[0].t()),
          (2, 3, 4), device=device)
    check(lambda a, b: (lib(a).cat([a, b], 1), lib(a).stack([a, a], 0), lib(a).cat([a, b.sum(1, keepdim=True)], 1)),
          (3, 2), (3, 5), device=device)


def test_indexing(device):
    check(lambda x: (x[1], x[-1, ::2], x[None, 1:3, ..., 1], x[:, [2, 0, 2]], x[[0, 2], 1:], x[x[:, 0] > 0]),
          (3, 5), device=device)


def test_gather_scatter_index_add(device):
    idx = rand((3, 4), "int64", 0, 4)
    check(lambda x, i: (x.gather(1, i), x.scatter_add(1, i, x[:, :4] * 2)), (3, 5), idx, device=device)
    check(lambda x, i: (x.index_add(0, i, x[:3] + 1), x.index_select(1, i)), (4, 6), np.array([3, 0, 3]),
          device=device)


def test_setitem_and_inplace_keep_views_consistent(device):
    x = gradc.zeros(3, 4, device=device)
    row = x[1]
    x[1] = 5.0
    row.add_(1)
    x[:, 2] = gradc.tensor([7.0, 8.0, 9.0], device=device)
    expected = np.zeros((3, 4), np.float32)
    expected[1] = 6
    expected[:, 2] = [7, 8, 9]
    np.testing.assert_array_equal(x.numpy(), expected)
    np.testing.assert_array_equal(row.numpy(), expected[1])


def test_random_numbers_are_the_same_on_every_device():
    draws = []
    for dev in [str(d) for d, _ in gradc.devices()]:
        gradc.manual_seed(7)
        draws.append((gradc.rand(5, 3, device=dev).numpy(), gradc.randn(1000, device=dev).numpy(),
                      gradc.randint(0, 10, (20,), device=dev).numpy()))
    for d in draws[1:]:
        np.testing.assert_allclose(d[0], draws[0][0], rtol=1e-6)
        np.testing.assert_allclose(d[1], draws[0][1], rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(d[2], draws[0][2])
    u, n, i = draws[0]
    assert 0 <= u.min() and u.max() < 1 and abs(n.mean()) < 0.1 and abs(n.std() - 1) < 0.1
    assert i.min() >= 0 and i.max() <= 9
    gradc.manual_seed(7)
    assert np.array_equal(gradc.rand(5, 3).numpy(), draws[0][0])  # the same seed, the same numbers


def test_creation(device):
    for got, want in [(gradc.arange(5, device=device), np.arange(5)), (gradc.arange(1, 2, 0.25), np.arange(1, 2, 0.25)),
                      (gradc.linspace(0, 1, 5), np.linspace(0, 1, 5)), (gradc.eye(3, 4), np.eye(3, 4)),
                      (gradc.full((2, 2), 3.5), np.full((2, 2), 3.5)), (gradc.Tensor(2, 3), np.zeros((2, 3)))]:
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    assert gradc.arange(5).dtype == gradc.int64 and gradc.arange(1.0).dtype == gradc.float32


def test_bad_input_names_the_values_and_changes_nothing(device):
    x = gradc.tensor(rand((3, 4)), device=device)
    before = x.numpy().copy()
    for bad, match in [(lambda: x @ x, r"3x4 and 3x4"), (lambda: x.reshape(5, 3), r"\[5, 3\].*12"),
                       (lambda: x.t().view(12), "view size is not compatible"),
                       (lambda: x[gradc.tensor([0, 7], device=device)], "index 7 is out of bounds.*size 3"),
                       (lambda: x.sum(2), "Dimension out of range"),
                       (lambda: gradc.cat([x, x[:, :2].t()], 0), "Sizes of tensors must match"),
                       (lambda: x[gradc.tensor([0.5], device=device)], "must be long, int"),
                       (lambda: x[:, ::-1], "step must be greater than zero")]:
        with pytest.raises((RuntimeError, IndexError, ValueError), match=match):
            bad()
    np.testing.assert_array_equal(x.numpy(), before)
