"""Errors a user meets: raised when the op is recorded (not later, inside a kernel), of torch's type, with a message
that says what to change."""
import numpy as np
import pytest

import gradc

from helpers import lib, raises_like, rand

S = (2, 3)


@pytest.mark.parametrize("op", [lambda x, y: x + y, lambda x, y: x * y, lambda x, y: x.maximum(y),
                                lambda x, y: x < y, lambda x, y: lib(x).where(x > 0, x, y)])
def test_broadcast_mismatch_names_both_shapes(op, device):
    with gradc.debug.kernels() as ks:
        e = raises_like(op, rand(S), rand((4,)), device=device, match=r"size of tensor a \(3\).*tensor b \(4\)")
    assert ks == []
    assert "[2, 3]" in str(e) and "[4]" in str(e), str(e)


def test_broadcast_mismatch_in_place_and_expand(device):
    raises_like(lambda x, y: x.add_(y), rand(S), rand((4,)), device=device, match="size")
    e = raises_like(lambda x: x.expand(4, 4), rand(S), device=device, match="expanded size")
    assert "[4, 4]" in str(e) and "[2, 3]" in str(e)


TUPLE_DIMS = ("sum", "mean", "amax", "var")  # the reductions that take a tuple of dims


@pytest.mark.parametrize("op, dim", [(op, d) for op in [*TUPLE_DIMS, "softmax", "max", "argmax"]
                                     for d in [2, -3, 5, (0, 2)] if op in TUPLE_DIMS or d != (0, 2)])
def test_reduction_dim_out_of_range(op, dim, device):
    bad = dim if isinstance(dim, int) else dim[1]
    raises_like(lambda x: getattr(x, op)(dim), rand(S), device=device,
                match=rf"Dimension out of range \(expected to be in range of \[-2, 1\], but got {bad}\)")


@pytest.mark.parametrize("d0, d1", [(0, 3), (1, 2), (-3, 0), (0, 5)])
def test_transpose_dim_out_of_range(d0, d1, device):
    bad = d1 if not -2 <= d1 < 2 else d0
    raises_like(lambda x: x.transpose(d0, d1), rand(S), device=device,
                match=rf"Dimension out of range \(expected to be in range of \[-2, 1\], but got {bad}\)")


@pytest.mark.parametrize("a, b, match", [
    ((2, 3), (4, 5), r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    ((2, 3), (2, 3), r"2x3 and 2x3"),
    ((2, 2, 3), (2, 5, 6), None),
    ((3,), (4,), None),
])
def test_matmul_shape_mismatch(a, b, match, device):
    with gradc.debug.kernels() as ks:
        raises_like(lambda x, y: x @ y, rand(a), rand(b), device=device, match=match)
        raises_like(lambda x, y: x.matmul(y), rand(a), rand(b), device=device, match=match)
    assert ks == []


def test_mm_bmm_need_their_ranks(device):
    raises_like(lambda x, y: x.mm(y), rand((2, 3, 4)), rand((4, 2)), device=device)
    raises_like(lambda x, y: x.bmm(y), rand(S), rand((3, 2)), device=device, match="3D")
    raises_like(lambda x, y: x.bmm(y), rand((2, 2, 3)), rand((3, 3, 2)), device=device)


def test_kernel_build_error_carries_numbered_source_and_log(opencl):
    source = "__kernel void k( {"
    with pytest.raises(gradc.KernelBuildError) as info:
        opencl.backend.compile(source, "k")
    e = info.value
    assert isinstance(e, RuntimeError)
    assert e.source == source and e.name == "k" and e.log.strip()
    msg = str(e)
    assert "   1 | __kernel void k( {" in msg  # the source, numbered
    assert e.log.strip().splitlines()[0] in msg  # the compiler's log
    assert "GRADC_DUMP_DIR" in msg


def test_kernel_build_error_numbers_every_line(opencl):
    source = "__kernel void k(__global float* out) {\n  out[0] = 1.0f\n}\n"  # missing ';' on line 2
    with pytest.raises(gradc.KernelBuildError) as info:
        opencl.backend.compile(source, "k")
    msg = str(info.value)
    for i, line in enumerate(source.splitlines(), 1):
        assert f"{i:4d} | {line}" in msg


def test_disk_cache_serves_a_new_process_and_rebuilds_a_corrupt_entry(opencl):
    import uuid
    import warnings

    from gradc.backends.opencl import open_device

    # an integer self-comparison, as generated code has (x != x is max's NaN test): its build log is not shown
    src = f"/* {uuid.uuid4()} */ __kernel void k(__global int* o) {{ int x = o[0]; o[0] = x != x; }}"
    index = int(str(opencl).split(":")[1])
    open_device(index).compile(src, "k")  # built from source, stored on disk
    fresh = open_device(index)  # a second process, in effect: only the disk cache is shared
    stored = []
    fresh.disk.put = lambda *a: stored.append(a)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fresh.compile(src, "k") is not None
    assert stored == []  # served from the disk: nothing was built and stored again
    corrupt = open_device(index)
    corrupt.disk.put(src, b"not a program binary")
    assert corrupt.compile(src, "k") is not None
    assert corrupt.disk.get(src) != b"not a program binary"  # rebuilt and stored again


@pytest.mark.parametrize("n", [7, 1 << 15])  # below and above the size whose host copy is kept
def test_tensor_keeps_its_values_when_the_source_array_changes(n, device):
    a = np.arange(n, dtype=np.float32)
    x = gradc.tensor(a, device=device)
    y = x * 2  # a kernel queued behind the upload
    a[:] = -1  # the caller reuses its array at once
    np.testing.assert_array_equal(y.numpy(), np.arange(n, dtype=np.float32) * 2)
    np.testing.assert_array_equal(x.numpy(), np.arange(n, dtype=np.float32))


def test_float64_where_the_device_lacks_fp64(device):
    backend = gradc.device(device).backend
    if backend.supports(gradc.float64):
        pytest.skip(f"{device} has fp64: the error cannot happen here (see test_float64_refusal_message)")
    with pytest.raises(TypeError, match="float64"):
        gradc.tensor([1.0, 2.0], dtype=gradc.float64, device=device)


def test_float64_refusal_message(opencl, monkeypatch):
    """The message a device without cl_khr_fp64 gives, simulated by clearing the flag on a real OpenCL device."""
    monkeypatch.setattr(opencl.backend, "fp64", False)
    with pytest.raises(TypeError, match="float64") as info:
        gradc.tensor([1.0, 2.0], dtype=gradc.float64, device=opencl)
    assert "cl_khr_fp64" in str(info.value) and "float32" in str(info.value)
    x = gradc.tensor([1.0, 2.0], device=opencl)
    with pytest.raises(TypeError, match="float64"):
        x.double().numpy()


def test_mixed_devices_refused(opencl):
    a = gradc.tensor(rand(S), device=opencl)
    b = gradc.tensor(rand(S), device="cpu")
    with pytest.raises(RuntimeError, match="same device"):
        a + b


def test_numpy_of_tensor_requiring_grad(device):
    def f(x):
        x.requires_grad_(True)
        return x.numpy()
    raises_like(f, rand(S), device=device, match="detach")


def test_item_of_many_elements(device):
    raises_like(lambda x: x.item(), rand(S), device=device, match="6 elements")
