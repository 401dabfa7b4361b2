"""Fusion decisions pinned by kernel counts, kernel sources and records, and the CUDA dialect's text."""
import os

import numpy as np
import pytest

import gradc
from gradc.codegen import CUDA, OPENCL, render

from helpers import check, rand

S = (3, 4)

# float exp is written out (ops.py): its range reduction multiplies by log2(e) once per exp
EXP_MARK = "* 1.44269504f"


def chain10(x):
    """Ten elementwise primitives in a row (no composite that expands into several nodes)."""
    y = x * 2
    y = y + 1
    y = y.sin()
    y = y.exp()
    y = -y
    y = y.tanh()
    y = y * x
    y = y.cos()
    y = y / 3
    return y.maximum(x)


def diamond(x):
    y = x.exp()
    return y * 2 + y * 3


def _launch(fn, x):
    with gradc.debug.kernels() as ks:
        out = fn(x)
        assert ks == [], "recording ops launched a kernel before anything was realized"
        out.realize()
        gradc.synchronize()
    return ks


def test_chain_of_ten_elementwise_ops_is_one_kernel(device):
    x = gradc.tensor(rand(S), device=device)
    ks = _launch(chain10, x)
    assert len(ks) == 1, [k.name for k in ks]
    with gradc.debug.fusion(False):
        assert len(_launch(chain10, x)) == 10  # each op its own kernel: the switch really turns fusion off


def test_chain_values_fused_and_unfused(device):
    check(chain10, S, device=device, fusion=(True, False))


def test_diamond_is_one_kernel_computing_exp_once(device):
    x = gradc.tensor(rand(S), device=device)
    ks = _launch(diamond, x)
    assert len(ks) == 1, [k.name for k in ks]
    if ks[0].source is not None:
        assert ks[0].source.count(EXP_MARK) == 1, ks[0].source
    check(diamond, S, device=device, fusion=(True, False))


def test_elementwise_producers_fuse_into_a_reduction(device):
    x = gradc.tensor(rand(S), device=device)
    ks = _launch(lambda x: (x * 2).exp().sum(1), x)
    assert len(ks) == 1 and ks[0].name.startswith("R_"), [k.name for k in ks]
    check(lambda x: ((x * 2).exp().sum(1), (x.t() + 1).sum()), S, device=device)


def test_views_inside_a_fused_kernel(device):
    x = gradc.tensor(rand(S), device=device)
    assert len(_launch(lambda x: (x.t() * 2).exp()[1:, ::2] + x[0, ::2], x)) == 1


def test_shared_subexpression_of_two_outputs_is_computed_once(device):
    """y feeds two outputs realized together: its work is done once, not once per consumer."""
    x = gradc.tensor(rand(S), device=device)
    y = x.exp().sin()
    a, b = y * 2, y + 1
    with gradc.debug.kernels() as ks:
        gradc.realize(a, b)
    if not device.startswith("cpu"):
        assert sum(k.source.count(EXP_MARK) for k in ks) == 1, [k.source for k in ks]
    ref = np.sin(np.exp(x.numpy()))
    np.testing.assert_allclose(a.numpy(), ref * 2, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b.numpy(), ref + 1, rtol=1e-5, atol=1e-5)


def test_changing_scalar_builds_no_new_program(opencl):
    x = gradc.tensor(rand(S), device=opencl)
    backend = opencl.backend
    (x * 0.5 + 0.25).realize()  # builds the program once
    n = len(backend._programs)
    sources = set()
    for lr in [0.1, 0.01, 2.0, -3.5, 1e-4]:
        with gradc.debug.kernels() as ks:
            y = x * lr + lr / 2
            got = y.numpy()
        sources |= {k.source for k in ks}
        np.testing.assert_allclose(got, x.numpy() * np.float32(lr) + np.float32(lr / 2), rtol=1e-6, atol=1e-6)
    assert len(sources) == 1
    assert len(backend._programs) == n, "a new scalar value built a new program"


def test_changing_clamp_bounds_and_integer_scalars_build_no_new_program(opencl):
    x = gradc.tensor(rand(S), device=opencl)
    i = gradc.tensor(rand(S, "int32"), device=opencl)
    backend = opencl.backend
    x.clamp(-1, 1).realize(), (i + 3).realize()
    n = len(backend._programs)
    for b in [0.5, 0.25, 1.5]:
        np.testing.assert_allclose(x.clamp(-b, b).numpy(), np.clip(x.numpy(), -b, b))
    for k in [1, -7, 100]:
        assert (i + k).tolist() == (i.numpy() + k).tolist()
    assert len(backend._programs) == n


def test_dump_dir_writes_each_new_kernel(opencl, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADC_DUMP_DIR", str(tmp_path))
    x = gradc.tensor(rand((37,)), device=opencl)  # a size no other test uses: a kernel this process never built
    with gradc.debug.kernels() as ks:
        ((x * 3 - 1).sin().abs() + x).realize()
    files = sorted(os.listdir(tmp_path))
    assert files and all(f.endswith(".cl") for f in files), files
    assert f"{ks[-1].name}.cl" in files
    assert (tmp_path / f"{ks[-1].name}.cl").read_text() == ks[-1].source


def test_kernel_records(device):
    x = gradc.tensor(rand(S), device=device)
    with gradc.debug.kernels() as ks:
        ((x + 1) * x).realize()
        x.sum(0).realize()
    assert len(ks) == 2
    for k, prefix in zip(ks, ["E_", "R_"]):
        assert k.name.startswith(prefix) and k.name.isidentifier(), k.name
        assert k.backend == str(gradc.device(device))
        assert isinstance(k.global_size, tuple) and isinstance(k.local_size, tuple)
        assert all(isinstance(n, int) and n > 0 for n in k.global_size + k.local_size)
        if k.source is not None or not device.startswith("cpu"):
            assert isinstance(k.source, str) and k.name in k.source
            assert all(g % loc == 0 for g, loc in zip(k.global_size, k.local_size))
    assert ks[0].global_size[0] >= 12  # one work item per output element at least


def test_kernels_block_records_only_inside(device):
    x = gradc.tensor(rand(S), device=device)
    with gradc.debug.kernels() as ks:
        pass
    (x * 5).realize()
    assert ks == []


def test_to_dot_shows_fused_groups():
    x = gradc.tensor(rand(S), device="cpu")
    dot = gradc.debug.to_dot(diamond(x))
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert dot.count("subgraph cluster_") == 1
    assert "EXP" in dot


def _cuda_sources(*tensors):
    kernels = gradc.schedule.schedule([t._node for t in tensors])
    return [render(k, CUDA)[0] for k in kernels], kernels


def test_cuda_dialect_renders_elementwise_and_reduce():
    x = gradc.tensor(rand(S), device="cpu")
    h = gradc.tensor(rand(S, "float16"), device="cpu")
    srcs, kernels = _cuda_sources(diamond(x), (x * 2).sum(1, keepdim=True), (h * 2).exp(), x.t()[1:, ::2] + 1)
    assert {"elementwise", "reduce"} <= {k.kind for k in kernels}
    for src, k in zip(srcs, kernels):
        assert "__global__" in src and k.name in src
        assert "__kernel" not in src and "get_global_id" not in src and "__global " not in src
        assert "blockIdx.x" in src and "threadIdx.x" in src
        assert src.count("{") == src.count("}")
    assert all(("__half" in s) == (k.out.dtype is gradc.float16) for s, k in zip(srcs, kernels))
    ocl = render(kernels[0], OPENCL)[0]
    assert "__kernel" in ocl and "__global__" not in ocl


def test_cuda_and_opencl_sources_differ_only_in_dialect_strings():
    x = gradc.tensor(rand(S), device="cpu")
    (k,) = gradc.schedule.schedule([chain10(x)._node])
    cu, ocl = render(k, CUDA)[0], render(k, OPENCL)[0]
    body = lambda s: s[s.index("{"):]  # noqa: E731
    norm = lambda s: body(s).replace(CUDA.gid, OPENCL.gid).replace(  # noqa: E731
        CUDA.as_int, OPENCL.as_int.format(w="")).replace(CUDA.as_float, OPENCL.as_float.format(w=""))
    assert norm(cu) == norm(ocl)


@pytest.mark.parametrize("fused", [True, False])
def test_backward_kernels_fuse(fused, device):
    """The gradient of the chain is lazy nodes too: fused, the whole backward of an elementwise chain is one kernel."""
    x = gradc.tensor(rand(S), device=device, requires_grad=True)
    with gradc.debug.fusion(fused):
        y = chain10(x)
        with gradc.debug.kernels() as ks:
            y.backward(gradc.ones(S, device=device))
            x.grad.realize()
    assert (len(ks) == 1) if fused else (len(ks) >= 10), [k.name for k in ks]


def test_a_repeated_dag_replays_its_plan_with_new_offsets_and_scalars(opencl, monkeypatch):
    """A DAG of a structure seen before runs the plan worked out then (no fusion pass, no rendering): new slice
    offsets, scalars and buffers still reach its kernels."""
    seq = rand((6, 5, 4))
    w = rand((4, 3))
    x, wt = gradc.tensor(seq, device=opencl), gradc.tensor(w, device=opencl)
    calls = []
    real = gradc.schedule.schedule
    monkeypatch.setattr(gradc.schedule, "schedule", lambda ts: calls.append(1) or real(ts))
    step = lambda t, s: (((x[t] * s + 1) @ wt).relu() - x[t][:, :3]).exp().sum(0)  # noqa: E731
    ref = lambda t, s: np.exp(np.maximum((seq[t] * s + 1) @ w, 0) - seq[t][:, :3]).sum(0)  # noqa: E731
    np.testing.assert_allclose(step(2, 1.5).numpy(), ref(2, 1.5), rtol=1e-5)  # (x[0] has no offset: another plan)
    first = len(calls)
    with gradc.debug.kernels() as ks:
        for t, s in [(3, -2.0), (5, 0.25), (1, 7.0)]:
            np.testing.assert_allclose(step(t, s).numpy(), ref(t, s), rtol=1e-5)
    assert first == 1 and len(calls) == first, "a DAG of a known structure was scheduled again"
    assert len(ks) == 3 * (len(ks) // 3) > 0  # replayed launches are still recorded
    step(2, 1.5)[:2].numpy()  # another structure: scheduled anew
    assert len(calls) == first + 1


def test_a_plan_keeps_no_node_alive(opencl):
    import gc
    import weakref

    x = gradc.tensor(rand(S), device=opencl)
    for _ in range(2):  # the second time replays the plan
        y = x * 2
        mid = y + 1
        ref = weakref.ref(mid._node)
        out = (mid.exp() * mid).sum()
        out.numpy()
        del y, mid, out
        gc.collect()
        assert ref() is None


def rnn_cell(x, w, h, u):
    return (x @ w.t() + h @ u.t()).relu()


def test_a_sum_of_matmuls_is_one_kernel(device):
    """x @ W.t() + h @ U.t() is one matmul over the concatenated k: one kernel walks both pairs, relu its epilogue."""
    shapes = [(5, 8), (6, 8), (5, 16), (6, 16)]
    x, w, h, u = (gradc.tensor(rand(s), device=device) for s in shapes)
    ks = _launch(lambda x: rnn_cell(x, w, h, u), x)
    assert [k.kind for k in ks] == ["matmul"], [k.name for k in ks]
    check(rnn_cell, *shapes, device=device, fusion=(True, False))
    # pairs of different layouts stay two kernels (the dot-product layout needs every pair along k); a product
    # also read alone is computed for that read; a transposed sum is the sum of the transposed pairs
    check(lambda a, b, c: a @ b + a @ c.t(), (5, 8), (8, 6), (6, 8), device=device)
    check(lambda a, b, c, d: (a @ b) * (a @ b + c @ d), (5, 8), (8, 6), (5, 3), (3, 6), device=device)
    check(lambda a, b, c, d: (a @ b + c @ d).t() * 1, (5, 8), (8, 6), (5, 3), (3, 6), device=device, grad=False)
    # a sum with other terms keeps torch's order: (1e8 + -1e8) + 1 is 1, where 1e8 + (-1e8 + 1) would be 0
    big, one = np.array([[1e8]], np.float32), np.ones((1, 1), np.float32)
    check(lambda x, a, b: (x + (-a) @ b) + b @ b, big, big, one, device=device, grad=False)


def test_a_partial_sum_read_again_is_not_recomputed(device):
    """A residual stream h = h + f(h) @ W reads each partial sum twice: those sums stay their own kernels, and no
    product is computed twice (one matmul per layer forward)."""
    layers = 6
    x = gradc.tensor(rand((4, 8)), device=device)
    ws = [gradc.tensor(rand((8, 8), lo=-0.3, hi=0.3), device=device) for _ in range(layers)]
    h = x @ ws[0]
    for w in ws[1:]:
        h = h + h.relu() @ w
    with gradc.debug.kernels() as ks:
        h.realize()
    assert sum(k.kind == "matmul" for k in ks) == layers, [k.name for k in ks]
    check(lambda x, *ws: sum_stream(x, ws), (4, 8), *[rand((8, 8), lo=-0.3, hi=0.3) for _ in range(3)],
          device=device, fusion=(True, False))


def sum_stream(x, ws):
    h = x @ ws[0]
    for w in ws[1:]:
        h = h + h.relu() @ w
    return h


def test_weight_gradients_summed_over_time_steps_take_a_kernel_per_max_pairs_steps(device):
    """The gradients of a weight used at every time step sum lazily, MAX_PAIRS products to a kernel: an RNN over 19
    steps computes dU in 3 matmul kernels. Forward and backward match torch, fused and unfused."""
    steps, pairs = 19, gradc.schedule.MAX_PAIRS

    def rnn(xs, w, u):
        h = (xs[0] @ w.t()) * 0
        for t in range(steps):
            h = rnn_cell(xs[t], w, h, u)
        return h

    small = lambda shape: rand(shape, lo=-0.5, hi=0.5)  # noqa: E731  (19 steps of [-2, 2) weights overflow)
    check(rnn, (steps, 4, 5), small((6, 5)), small((6, 6)), device=device, fusion=(True, False))
    xs, w = gradc.tensor(rand((steps, 4, 5)), device=device), gradc.tensor(rand((6, 5)), device=device)
    u = gradc.tensor(rand((6, 6)), device=device, requires_grad=True)
    out = rnn(xs, w, u).sum()
    out.realize()
    with gradc.debug.kernels() as ks:
        out.backward()
    du = [k.name for k in ks if k.kind == "matmul" and k.name.split("_")[-1].split("x")[::2] == ["6", "6"]]  # dU
    assert len(du) == -(-steps // pairs), du
    xs_, gs = rand((steps, 7, 6)), rand((steps, 7, 5))
    with gradc.debug.kernels() as ks:  # slices of one tensor: their offsets are kernel arguments of one program
        x, g = gradc.tensor(xs_, device=device), gradc.tensor(gs, device=device)
        total = x[0].t() @ g[0]
        for t in range(1, steps):
            total = total + x[t].t() @ g[t]
        np.testing.assert_allclose(total.numpy(), np.einsum("tki,tkj->ij", xs_, gs), rtol=1e-5, atol=1e-5)
    assert len(ks) == -(-steps // pairs), [k.name for k in ks]
