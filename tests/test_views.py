"""Views: reshape/permute/expand/slicing cost no kernel until something is realized and give torch's values;
view() refuses layouts strides cannot express while reshape() copies; writes through views reach the base and every
other view of it, as in torch."""
import numpy as np

import gradc

from helpers import check, raises_like, rand

S = (3, 4)

VIEWS = {
    "reshape": lambda x: x.reshape(4, 3), "reshape_infer": lambda x: x.reshape(2, -1), "view": lambda x: x.view(12),
    "permute": lambda x: x.permute(1, 0), "t": lambda x: x.t(), "transpose": lambda x: x.transpose(0, -1),
    "expand": lambda x: x[:1].expand(5, 4), "expand_new_dim": lambda x: x.expand(2, 3, 4),
    "slice_steps": lambda x: x[::2, 1::2], "negative_index": lambda x: x[-1, -3:], "int_index": lambda x: x[1],
    "none": lambda x: x[None, :, 2], "unsqueeze_squeeze": lambda x: x.unsqueeze(1).squeeze(1),
    "flatten": lambda x: x.flatten(), "narrow": lambda x: x.narrow(1, 1, 2),
    "view_of_view": lambda x: x.t()[1:, ::2].unsqueeze(0).permute(2, 0, 1),
}


def test_views_launch_no_kernel(device):
    x = gradc.tensor(rand(S), device=device)
    y = (x * 2).realize()
    with gradc.debug.kernels() as ks:
        views = [f(t) for f in VIEWS.values() for t in (x, y)]
        views += [*x.split(2, dim=1), *x.chunk(3), y.T, x.expand_as(gradc.zeros(2, 3, 4)), x.unflatten(1, (2, 2))]
        shapes = [v.shape for v in views]
    assert ks == [], f"views launched {[k.name for k in ks]}"
    assert all(isinstance(s, gradc.Size) for s in shapes)


def test_view_values_and_gradients(device):
    check(lambda x: tuple(f(x) for f in VIEWS.values()), S, device=device)


def test_split_chunk_values(device):
    check(lambda x: (*x.split(2, dim=1), *x.split([1, 2], dim=0), *x.chunk(2)), S, device=device)


def test_views_of_lazy_results(device):
    """Views over an unrealized result: the view composes with the producer's kernel."""
    check(lambda x: ((x * 2).t().exp(), (x + 1)[::2].expand(2, 2, 4), (x.sin())[None, :, 1]), S, device=device)


def test_view_refuses_a_layout_strides_cannot_express(device):
    e = raises_like(lambda x: x.t().view(12), rand(S), device=device, match="view size is not compatible")
    assert "reshape" in str(e)
    raises_like(lambda x: x[:, :2].view(6), rand(S), device=device)
    raises_like(lambda x: x.view(5, 3), rand(S), device=device, match="invalid for input of size 12")


def test_view_accepts_what_strides_can_express(device):
    check(lambda x, y: (x.t().view(2, 2, 3), x[1:].view(8), x[:, ::2].view(6), y.transpose(0, 1).view(3, 2, 2, 2)),
          S, (2, 3, 4), device=device)


def test_reshape_copies_when_it_must(device):
    def f(x):
        r = x.t().reshape(12)  # not expressible as a view: a copy, so writes stay in it
        r[0] = 100.0
        return x, r
    check(f, S, device=device, grad=False)


def test_reshape_and_view_of_contiguous_share_storage(device):
    def f(x):
        r = x.reshape(12)
        r[0] = 100.0
        v = x.view(2, 6)
        v[1, 1] = -3.0
        return x, r, v
    check(f, S, device=device, grad=False)


def _writes(f):
    def g(x):
        out = f(x)
        return (x,) + (out if isinstance(out, tuple) else ())
    g.__name__ = f.__name__
    return g


@_writes
def _int_index(x):
    x[0] = 5.0


@_writes
def _column_iadd_seen_by_older_view(x):
    v = x[:, 1]
    x[:, 1] += 1
    return (v,)


@_writes
def _mask(x):
    x[x > 0] = 0.0


@_writes
def _through_transpose(x):
    y = x.t()
    y[0, 1] = 7.0
    return (y,)


@_writes
def _steps_and_broadcast_value(x):
    x[::2] = x[1]
    x[1:, ::2] *= 2


@_writes
def _inplace_on_view(x):
    v, other = x[1], x[1, 2:]
    v.add_(1)
    return v, other


@_writes
def _zero_through_view(x):
    x.view(2, 6)[1].zero_()


@_writes
def _base_fill_seen_by_view(x):
    v = x[0]
    x.fill_(3.0)
    return (v,)


@_writes
def _chained_index(x):
    x[0][1] = 9.0


@_writes
def _list_index(x):
    x[[0, 2]] = 1.0


@_writes
def _unsqueezed(x):
    x.unsqueeze(0)[0, 1] = 4.0


@_writes
def _tensor_value(x):
    x[:, 0] = x[:, 3] * 10


WRITES = [_int_index, _column_iadd_seen_by_older_view, _mask, _through_transpose, _steps_and_broadcast_value,
          _inplace_on_view, _zero_through_view, _base_fill_seen_by_view, _chained_index, _list_index, _unsqueezed,
          _tensor_value]


def test_writes_through_views(device):
    for i, f in enumerate(WRITES):  # unfused too for a few: writes become their own kernels there
        check(f, S, device=device, grad=False, fusion=(True, False) if i % 6 == 1 else None)


def test_view_sees_later_writes_to_its_realized_base(device):
    x = gradc.tensor(np.zeros(S, np.float32), device=device)
    v = x[1, 1:3]
    assert v.tolist() == [0.0, 0.0]
    x[1, 2] = 7.0
    assert v.tolist() == [0.0, 7.0]
    x.add_(2)
    assert v.tolist() == [2.0, 9.0]
    assert x.numpy()[1].tolist() == [2.0, 2.0, 9.0, 2.0]


def test_expand_of_a_constant_or_padded_tensor_stays_a_view(device):
    t = gradc.zeros(2, 1, device=device)
    e = t.expand(2, 3)
    t.add_(1)
    t[0] = 5
    assert e.tolist() == [[5.0] * 3, [1.0] * 3]
    x = gradc.tensor(rand((2, 4)), device=device)
    p = gradc.nn.functional.pad(x, (0, 0, 1, 0))  # rows padded: a masked view
    with gradc.debug.kernels() as ks:
        got = (p + gradc.tensor(rand((1, 4)), device=device)).numpy()
    assert len(ks) == 1 and got.shape == (3, 4), [k.name for k in ks]


def test_writes_into_a_lazy_result(device):
    """A write through a view of a tensor that is not realized yet (the base is an unevaluated expression)."""
    def f(x):
        y = x * 2
        y[0] = 5.0
        z = y.t()
        z[1:, 0] += 1
        return y, z
    check(f, S, device=device, grad=False)


def test_gradient_through_a_write_into_a_lazy_result(device):
    def f(x):
        y = x * 1
        y[0] = 5.0  # the overwritten elements get no gradient
        return y
    check(f, S, device=device)


def test_clone_and_contiguous_do_not_alias(device):
    def f(x):
        c, k = x.clone(), x.t().contiguous()
        c.numpy(), k.numpy()  # realized first: writes into unrealized results are test_writes_into_a_lazy_result's
        c[0] = 1.0
        k[0] = 2.0
        return x, c, k
    check(f, S, device=device, grad=False)


def test_ellipsis_index(device):
    check(lambda x: (x[..., 2], x[None, ..., 1:], x[..., None], x[1, ...]), (2, 3, 4), device=device)
