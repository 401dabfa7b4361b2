"""The CUDA backend.

Without a GPU: the CUDA dialect, CUDA rendering, launch geometry, the disk-cache ident, the error `cuda` gives where
pycuda or a driver is missing, and nvcc (where installed) compiling CUDA C++ rendered from kernels. Every kernel the
whole test suite schedules is recorded (this module wraps gradc.schedule.run when pytest imports it, so before any
test runs) and test_zz_every_suite_kernel_compiles_with_nvcc compiles each one's CUDA rendering at the end of the
session (tests/conftest.py moves test_zz_* tests last). With a GPU: the backend itself, and the whole suite under
GRADC_DEVICE=cuda (benchmarks/gpu_check.sh).
"""
from __future__ import annotations

import bisect
import os
import re
import subprocess
import sys
import tempfile
import traceback
import types
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import gradc
from gradc import schedule
from gradc.backends import cuda as cuda_backend
from gradc.codegen import CUDA, DIALECTS, OPENCL, lower, render
from gradc.schedule import boundaries

NVCC = cuda_backend.find_nvcc()
ARCH = os.environ.get("GRADC_NVCC_ARCH", "sm_80")
JOBS = int(os.environ.get("GRADC_NVCC_JOBS", "2"))
BATCH = int(os.environ.get("GRADC_NVCC_BATCH", "64"))
GPU = types.SimpleNamespace(is_gpu=True)  # renders as on the CUDA backend (a GPU): reductions use a whole block
HAVE_GPU = bool(cuda_backend.list_devices())
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA toolkit) is not installed")
needs_gpu = pytest.mark.skipif(not HAVE_GPU, reason="no CUDA GPU (pycuda, an NVIDIA driver and a GPU are needed)")

# ---------------------------------------------------------------- recording every kernel the suite schedules

SUITE_KERNELS: dict[str, str] = {}  # CUDA source -> kernel name, from every kernel gradc.schedule.run launched
RENDER_FAILURES: dict[str, str] = {}  # kernel name -> traceback, where CUDA fails to render and OpenCL does not


def _record(kernels) -> None:
    for k in kernels:
        if not k.out.numel:  # run() launches nothing for an empty output
            continue
        for backend in (None, GPU):  # the reduction layouts of a CPU-like and of a GPU device
            try:
                SUITE_KERNELS.setdefault(render(k, CUDA, backend)[0], k.name)
            except Exception:
                try:  # a kind no template renders yet fails in every dialect: not a CUDA problem
                    render(k, OPENCL, backend)
                except Exception:
                    continue
                RENDER_FAILURES.setdefault(k.name, traceback.format_exc())


def install_recorder() -> None:
    """Wrap gradc.schedule.run (where every kernel launches) so each kernel is rendered as CUDA before it runs:
    run() drops the sources of the nodes it realizes, so afterwards the kernel can't be rendered."""
    if getattr(schedule.run, "records_cuda", False):
        return
    original = schedule.run

    def run(kernels):
        try:
            _record(kernels)
        except Exception:  # recording must never change what the suite does
            pass
        return original(kernels)

    run.records_cuda = True
    schedule.run = run


install_recorder()


# ---------------------------------------------------------------- helpers


def kernels_of(t) -> list:
    order, bound = boundaries([t._node])
    return [lower(n, bound) for n in order if id(n) in bound and n.op != "BUFFER"]


def reduce_kernel(t):
    (k,) = [k for k in kernels_of(t) if k.kind == "reduce"]
    return k


def numbered(source: str) -> str:
    return "\n".join(f"{i:4d} | {line}" for i, line in enumerate(source.splitlines(), 1))


def _split_prelude(src: str) -> tuple[str, str]:
    """The leading preprocessor lines (the dialect's preamble) and the rest."""
    lines = src.splitlines(keepends=True)
    i = 0
    while i < len(lines) and (lines[i].startswith("#") or not lines[i].strip()):
        i += 1
    return "".join(lines[:i]), "".join(lines[i:])


def _nvcc(path: str, text: str, entries, arch: str) -> str | None:
    """Compile one file to PTX; None when it built and has every entry point, else the log."""
    ptx = path[:-3] + ".ptx"
    with open(path, "w") as f:
        f.write(text)
    try:
        p = subprocess.run([NVCC, "--ptx", f"-arch={arch}", "-x", "cu", path, "-o", ptx],
                           capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return "nvcc ran over 600 s"
    if p.returncode:
        return p.stderr + p.stdout
    with open(ptx) as f:
        out = f.read()
    missing = [e for e in entries if f".entry {e}(" not in out]
    return f"the PTX lacks the entry points {missing}: is each kernel extern \"C\"?" if missing else None


def nvcc_failures(sources: dict[str, str], arch: str = ARCH, jobs: int = JOBS,
                  batch: int = BATCH) -> list[tuple[str, str, str]]:
    """Compile every source to PTX and return (kernel name, source, nvcc's log) per failure.

    nvcc costs about a second a file, mostly start-up and cuda_fp16.h, so kernels are compiled `batch` to a file:
    the shared preamble once, then each kernel in a namespace of its own (names and helper functions repeat across
    kernels) with its entry point renamed apart. `jobs` files compile at once. A file that fails is split: the
    kernels its errors point at compile alone, each in its own file as the backend would build it (that is the log
    reported), and the others compile again as a batch. A source whose name the renaming can't find compiles alone.
    """
    with tempfile.TemporaryDirectory(prefix="gradc-nvcc-") as tmp:
        count = iter(range(10**9))

        def alone(src, name):
            log = _nvcc(os.path.join(tmp, f"k{next(count)}.cu"), src, [name], arch)
            return [] if log is None else [(name, src, re.sub(r"\S*k\d+\.cu", f"{name}.cu", log))]

        def together(prelude, group):  # group: [(src, name, body)]
            if len(group) == 1:
                return alone(group[0][0], group[0][1])
            parts, starts, entries = [prelude], [], []
            line = prelude.count("\n") + 1
            for i, (_, name, body) in enumerate(group):
                entries.append(f"{name}__b{i}")
                block = f"namespace gradc_b{i} {{\n" + body.replace(f" {name}(", f" {entries[-1]}(", 1) + "\n}\n"
                starts.append(line)
                parts.append(block)
                line += block.count("\n")
            log = _nvcc(os.path.join(tmp, f"b{next(count)}.cu"), "".join(parts), entries, arch)
            if log is None:
                return []
            lines = [int(m) for m in re.findall(r"\((\d+)\): (?:catastrophic )?error", log)]
            blamed = {bisect.bisect_right(starts, n) - 1 for n in lines} - {-1}
            if not blamed or len(blamed) == len(group) or any(n < starts[0] for n in lines):
                blamed = set(range(len(group)))
            failed = [f for i in sorted(blamed) for f in alone(group[i][0], group[i][1])]
            rest = [g for i, g in enumerate(group) if i not in blamed]
            return failed + (together(prelude, rest) if rest else [])

        groups: dict[str, list] = {}
        singles = []
        for src, name in sources.items():
            prelude, body = _split_prelude(src)
            if body.count(f" {name}(") == 1:
                groups.setdefault(prelude, []).append((src, name, body))
            else:
                singles.append((src, name))
        work = [(lambda p=p, c=g[i:i + batch]: together(p, c)) for p, g in groups.items()
                for i in range(0, len(g), max(1, batch))]
        work += [(lambda s=s, n=n: alone(s, n)) for s, n in singles]
        with ThreadPoolExecutor(max(1, jobs)) as pool:
            return [f for fs in pool.map(lambda w: w(), work) for f in fs]


def assert_compiles(sources: dict[str, str]) -> None:
    failed = nvcc_failures(sources)
    report = "\n\n".join(f"=== {name} ===\n{log.strip()}\n--- source ---\n{numbered(src)}"
                         for name, src, log in failed[:10])
    assert not failed, (f"nvcc --ptx -arch={ARCH} rejected {len(failed)} of {len(sources)} CUDA kernels"
                        f"{' (the first 10 below)' if len(failed) > 10 else ''}:\n\n{report}")


def sample():
    """A few tensors whose kernels cover each template path and storage type (the suite covers the rest)."""
    x = gradc.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]], device="cpu")
    big = gradc.tensor(np.linspace(-1, 1, 4096 * 2, dtype=np.float32).reshape(2, 4096), device="cpu")
    return {
        "elementwise": ((x * 2 + 1).exp().sqrt()),
        "reduce_sum": (x * 2).exp().sum(1),
        "reduce_max": x.amax(0),
        "reduce_block": big.sum(1),  # a long reduction: a block of threads per output on a GPU
        "half": gradc.tensor([[1.0, -2.0], [0.5, 4.0]], dtype=gradc.float16, device="cpu") * 3,
        "to_half": x.to(gradc.float16) + 1,
        "double": x.to(gradc.float64).tanh(),
        "int64": gradc.tensor([[1, 2], [3, 4]], dtype=gradc.int64, device="cpu") * 7,
        "int32_max": gradc.tensor([1, -5, 3], dtype=gradc.int32, device="cpu").amax(0),
        "bool": (x > 0) & (x < 4),
        "where": gradc.where(x > 0, x, x * 0.5),
        "pad": x[:, 1:],
    }


# ---------------------------------------------------------------- the dialect and rendering


def test_dialect_strings():
    assert DIALECTS["cuda"] is CUDA and CUDA.name == "cuda"
    assert CUDA.kernel == 'extern "C" __global__'  # unmangled names: the backend looks kernels up by name
    assert CUDA.glob == "" and CUDA.local == "__shared__ "
    assert CUDA.gid == "(blockIdx.x * blockDim.x + threadIdx.x)"
    assert (CUDA.lid, CUDA.group, CUDA.barrier) == ("threadIdx.x", "blockIdx.x", "__syncthreads()")
    assert CUDA.storage == ("unsigned char", "long long", "__half") and CUDA.long == "long long"
    assert "cuda_fp16.h" in CUDA.preamble
    assert CUDA.load_half.format(p="in0", i="i1") == "__half2float(in0[i1])"
    assert CUDA.store_half.format(p="out", i="gid", v="v2") == "out[gid] = __float2half(v2)"
    assert CUDA.inf == "__int_as_float(0x7f800000)" and CUDA.nan == "__int_as_float(0x7fffffff)"


OPENCL_ONLY = ["__kernel", "__global ", "__local ", "get_global_id", "get_local_id", "get_group_id", "barrier(",
               "vload_half", "vstore_half", "#pragma OPENCL", "CLK_LOCAL_MEM_FENCE"]


def test_render_elementwise_cuda():
    t = sample()["elementwise"]
    (k,) = kernels_of(t)
    src, gsize, lsize = render(k, CUDA, GPU)
    assert f'extern "C" __global__ void {k.name}(' in src
    assert "int gid = (blockIdx.x * blockDim.x + threadIdx.x);" in src and "if (gid >= 6) return;" in src
    assert "__int_as_float(" in src and "sqrt(" in src  # exp is written out (ops.py), in CUDA's bit casts
    assert not [s for s in OPENCL_ONLY if s in src], src
    assert gsize[0] % lsize[0] == 0 and gsize[0] >= 6


def test_render_reduce_cuda_thread_per_output():
    k = reduce_kernel(sample()["reduce_sum"])
    src, gsize, lsize = render(k, CUDA, GPU)
    assert lsize == (1,) and gsize == (2,)  # 3 elements each: one thread per output
    assert "__shared__" not in src and "__syncthreads" not in src
    assert not [s for s in OPENCL_ONLY if s in src], src


def test_render_reduce_cuda_block_per_output():
    k = reduce_kernel(sample()["reduce_block"])
    src, gsize, lsize = render(k, CUDA, GPU)
    assert lsize == (256,) and gsize == (2 * 256,)  # one block of 256 threads per output
    assert "__shared__ float part[256];" in src and "__syncthreads();" in src
    assert "int gid = blockIdx.x;" in src and "int lid = threadIdx.x;" in src
    assert not [s for s in OPENCL_ONLY if s in src], src


def test_render_half_int64_bool_cuda():
    half = render(kernels_of(sample()["half"])[0], CUDA, GPU)[0]
    assert "__half2float(" in half and "__float2half(" in half and "__half*" in half
    i64 = render(kernels_of(sample()["int64"])[0], CUDA, GPU)[0]
    assert "long long*" in i64 and "long" not in i64.replace("long long", "")
    b = render(kernels_of(sample()["bool"])[-1], CUDA, GPU)[0]
    assert "unsigned char*" in b and "uchar" not in b


def test_cuda_and_opencl_renderings_differ_only_in_dialect_strings():
    for name, t in sample().items():
        for k in kernels_of(t):
            cu, cu_g, cu_l = render(k, CUDA, GPU)
            cl, cl_g, cl_l = render(k, OPENCL, GPU)
            assert (cu_g, cu_l) == (cl_g, cl_l), name
            assert cu.count("\n") - CUDA.preamble.count("\n") == cl.count("\n") - OPENCL.preamble.count("\n"), name


# ---------------------------------------------------------------- launch geometry, arguments, the cache ident


@pytest.mark.parametrize("n", [1, 2, 63, 64, 65, 1000, 4096, 100_003])
def test_elementwise_launch_geometry(n):
    t = gradc.ones(n, device="cpu") * 2
    (k,) = kernels_of(t)
    _, gsize, lsize = render(k, CUDA, GPU)
    grid, block = cuda_backend.launch_geometry(gsize, lsize)
    assert gsize[0] % lsize[0] == 0 and grid[0] * block[0] == gsize[0] >= n > gsize[0] - lsize[0]


@pytest.mark.parametrize("rows, cols", [(1, 1), (3, 5), (2, 63), (2, 64), (1, 4096), (7, 5000), (1000, 3)])
def test_reduce_launch_geometry(rows, cols):
    k = reduce_kernel(gradc.ones(rows, cols, device="cpu").sum(1))
    for backend in (None, GPU):
        _, gsize, lsize = render(k, CUDA, backend)
        grid, block = cuda_backend.launch_geometry(gsize, lsize)
        assert block[0] <= cuda_backend.MAX_BLOCK and grid[0] * block[0] == gsize[0] == rows * lsize[0]


def test_launch_geometry_rejects_bad_sizes():
    assert cuda_backend.launch_geometry((512,), (256,)) == ((2, 1, 1), (256, 1, 1))
    assert cuda_backend.launch_geometry((32, 5, 3), (16, 1, 1)) == ((2, 5, 3), (16, 1, 1))
    for g, l in [((100,), (64,)), ((0,), (64,)), ((2048,), (2048,)), ((64,), (0,)), ((64, 2), (64,)),
                 ((64, 2), (32, 64)), ((16, 70000, 1), (16, 1, 1)), ((1, 1, 1, 1), (1, 1, 1, 1))]:
        with pytest.raises(ValueError):
            cuda_backend.launch_geometry(g, l)


@pytest.mark.parametrize("n, k, m, batch", [(1, 1, 1, ()), (5, 7, 3, ()), (64, 32, 48, ()), (33, 17, 65, (3,))])
def test_matmul_launch_geometry(n, k, m, batch):
    a = gradc.ones(*batch, n, k, device="cpu")
    b = gradc.ones(*batch, k, m, device="cpu")
    (mk,) = [x for x in kernels_of(a @ b) if x.kind == "matmul"]
    src, gsize, lsize = render(mk, CUDA, GPU)
    grid, block = cuda_backend.launch_geometry(gsize, lsize)
    assert all(g == gr * bl for g, gr, bl in zip(gsize, grid, block)) and grid[2] == max(1, int(np.prod(batch)))
    assert "blockIdx.y" in src and not [s for s in OPENCL_ONLY if s in src], src


def test_kernel_args_pass_numpy_scalars_as_c_types():
    handle = object()
    args = cuda_backend.kernel_args([handle, np.float32(2), np.int64(3), np.bool_(True)])
    assert args[0] is handle and type(args[1]) is np.float32 and type(args[2]) is np.int64
    assert type(args[3]) is np.uint8 and args[3] == 1


def test_cache_ident_includes_compute_capability():
    base = dict(driver_version=13000, nvcc_ver="Build cuda_13.0.r13.0/compiler.36424714_0", options=["--fmad=true"],
                pycuda_version="2026.1")
    a, b = cuda_backend.cache_ident((8, 0), **base), cuda_backend.cache_ident((9, 0), **base)
    assert a != b and a == cuda_backend.cache_ident((8, 0), **base) and len(a) == 16
    assert "sm_90" in cuda_backend.cache_ident_parts((9, 0), **base)
    assert cuda_backend.cache_ident((8, 6), **base) != cuda_backend.cache_ident((8, 0), **base)
    for key, other in [("driver_version", 12040), ("nvcc_ver", "Build cuda_12.4.r12.4/compiler.1_0"),
                       ("options", []), ("pycuda_version", "2025.1")]:
        assert cuda_backend.cache_ident((8, 0), **{**base, key: other}) != a, key
    assert cuda_backend.cache_ident((8, 0), **base, gradc_version="0.0.1") != a


@needs_nvcc
def test_nvcc_version_names_the_build():
    v = cuda_backend.nvcc_version(NVCC)
    assert v and "unknown" not in v


# ---------------------------------------------------------------- without pycuda or a driver


@pytest.mark.skipif(HAVE_GPU, reason="this machine has a CUDA GPU")
def test_cuda_device_without_driver_says_what_to_do():
    assert cuda_backend.list_devices() == []
    with pytest.raises(RuntimeError, match=r"gradc\[cuda\]|driver|GPU") as e:
        _ = gradc.device("cuda").backend
    assert "GRADC_DEVICE" in str(e.value)
    assert "cuda:0" not in gradc.device._backends  # nothing half-open is cached
    with pytest.raises(RuntimeError):
        gradc.tensor([1.0], device="cuda")


def test_gradc_imports_without_pycuda():
    code = ("import sys; sys.modules['pycuda'] = None; sys.modules['pycuda.driver'] = None\n"
            "import gradc, gradc.backends.cuda as c\n"
            "assert c.list_devices() == []\n"
            "assert not [d for d, _ in gradc.devices() if d.type == 'cuda']\n"
            "try:\n    gradc.device('cuda').backend\nexcept RuntimeError as e:\n    print(e)\n"
            "else:\n    raise SystemExit('no error')\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "pip install gradc[cuda]" in p.stdout


# ---------------------------------------------------------------- the backend's plumbing, on a stand-in driver


class FakeDriver:
    """A numpy stand-in for pycuda.driver (two sm_90 devices), enough to drive CUDABackend without a GPU: buffers
    are byte arrays, kernels are recorded, not run. The real driver is exercised by the GPU tests below."""

    class Error(Exception):
        pass

    class MemoryError(Error):  # noqa: A001 - pycuda's name
        pass

    class CompileError(Error):
        def __init__(self, msg, command_line, stdout=None, stderr=None):
            super().__init__(msg)
            self.stdout, self.stderr = stdout, stderr

    device_attribute = types.SimpleNamespace(MULTIPROCESSOR_COUNT="MULTIPROCESSOR_COUNT")

    def __init__(self):
        self.stack, self.launches, self.modules, self.failing_allocs = [], [], [], 0
        drv = self

        class Context:
            def __init__(self, dev):
                self.dev = dev

            def push(self):
                drv.stack.append(self)

            @staticmethod
            def pop():
                drv.stack.pop()

            @staticmethod
            def synchronize():
                assert drv.stack, "no current context"

        class Device:
            def __init__(self, i):
                self.i = i

            @staticmethod
            def count():
                return 2

            def name(self):
                return f"Fake H200 #{self.i}"

            def compute_capability(self):
                return (9, 0)

            def total_memory(self):
                return 141 * 2**30

            def get_attribute(self, a):
                return 132

            def retain_primary_context(self):
                return Context(self)

        self.Device, self.Context = Device, Context

    def init(self):
        pass

    def get_driver_version(self):
        return 13000

    def current(self):
        return self.stack[-1].dev.i if self.stack else None

    def mem_alloc(self, n):
        if self.failing_allocs:
            self.failing_allocs -= 1
            raise self.MemoryError("out of memory")
        buf = np.zeros(n, np.uint8)
        return types.SimpleNamespace(mem=buf, free=lambda: None, ctx=self.current())

    def memcpy_htod(self, dst, src):
        dst.mem[: src.nbytes] = np.frombuffer(src.tobytes(), np.uint8)

    def memcpy_dtoh(self, dst, src):
        dst.reshape(-1).view(np.uint8)[:] = src.mem[: dst.nbytes]

    def memcpy_dtod(self, dst, src, n):
        dst.mem[:n] = src.mem[:n]

    def module_from_buffer(self, cubin):
        assert self.stack and cubin.startswith(b"CUBIN "), cubin
        self.modules.append(cubin)
        drv = self

        def get_function(name):
            def launch(*args, block, grid):
                drv.launches.append((name, args, block, grid, drv.current()))
            return launch

        return types.SimpleNamespace(get_function=get_function)


@pytest.fixture
def fake_cuda(monkeypatch, tmp_path):
    drv = FakeDriver()
    builds = []

    def nvcc_compile(source, nvcc, options, no_extern_c, arch, cache_dir):
        assert no_extern_c and cache_dir is False and arch == "sm_90" and "--fmad=true" in options
        builds.append(source)
        if "#error" in source:
            raise drv.CompileError("nvcc failed", [nvcc], stderr="kernel.cu(1): error: bad kernel")
        return b"CUBIN " + source.encode()

    pycuda = types.ModuleType("pycuda")
    pycuda.VERSION_TEXT = "2026.1"
    monkeypatch.setitem(sys.modules, "pycuda", pycuda)
    monkeypatch.setitem(sys.modules, "pycuda.compiler", types.SimpleNamespace(compile=nvcc_compile))
    monkeypatch.setattr(cuda_backend, "_driver", lambda: drv)
    monkeypatch.setattr(cuda_backend, "find_nvcc", lambda: "/fake/nvcc")
    monkeypatch.setattr(cuda_backend, "nvcc_version", lambda nvcc: "Build cuda_13.0.r13.0/compiler.1_0")
    monkeypatch.setattr(cuda_backend, "_open", [])
    monkeypatch.setattr(cuda_backend, "_current", [None])
    monkeypatch.setenv("GRADC_CACHE_DIR", str(tmp_path))
    drv.builds = builds
    yield drv
    cuda_backend._shutdown()
    assert drv.stack == [], "the exit hook leaves no context pushed"


def test_backend_plumbing_on_a_stand_in_driver(fake_cuda):
    drv = fake_cuda
    b = cuda_backend.open_device(1)
    assert (b.name, b.arch, b.compute_units, b.is_gpu) == ("cuda:1", "sm_90", 132, True)
    assert "Fake H200 #1" in b.description and "sm_90" in b.description and drv.current() == 1
    a = np.arange(10, dtype=np.float64)
    h, h2 = b.alloc(a.nbytes), b.alloc(a.nbytes)
    b.copy_in(h, a)
    b.copy_buffer(h, h2, a.nbytes)
    out = np.empty_like(a)
    b.copy_out(h2, out)
    np.testing.assert_array_equal(out, a)
    drv.failing_allocs = 1  # out of memory once: the pool is emptied and the allocation retried
    assert b.alloc(8).mem.nbytes == 8

    src = render(kernels_of(sample()["reduce_block"])[0], CUDA, b)[0]
    fn = b.compile(src, "R_sum_2x4096")
    b.launch(fn, [h, h2, np.float32(2), np.bool_(True)], (512,), (256,))
    name, args, block, grid, ctx = drv.launches[-1]
    assert (name, block, grid, ctx) == ("R_sum_2x4096", (256, 1, 1), (2, 1, 1), 1)
    assert args[:3] == (h, h2, np.float32(2)) and type(args[3]) is np.uint8
    b.synchronize()

    b2 = cuda_backend.open_device(1)  # a fresh process, in effect: the cubin comes from the disk cache
    b2.compile(src, "R_sum_2x4096")
    assert len(drv.builds) == 1 and drv.modules[-1] == b"CUBIN " + src.encode()
    b.disk.put(src, b"corrupt")  # a corrupt entry is rebuilt
    real_load = drv.module_from_buffer

    def load(cubin):
        if cubin == b"corrupt":
            raise drv.Error("bad cubin")
        return real_load(cubin)

    drv.module_from_buffer = load
    b2.compile(src, "R_sum_2x4096")
    assert len(drv.builds) == 2 and b.disk.get(src) == b"CUBIN " + src.encode()

    with pytest.raises(gradc.KernelBuildError, match="bad kernel") as e:
        b.compile(src.replace("{", "{\n#error x\n", 1), "R_sum_2x4096")
    assert "Fake H200" in str(e.value)


def test_backend_switches_contexts_between_devices(fake_cuda):
    drv = fake_cuda
    b0, b1 = cuda_backend.open_device(0), cuda_backend.open_device(1)
    b0.alloc(4)
    assert drv.current() == 0 and len(drv.stack) == 1  # one context pushed at a time
    b1.synchronize()
    assert drv.current() == 1 and len(drv.stack) == 1
    with pytest.raises(RuntimeError, match=r"cuda:2 does not exist.*2 CUDA device"):
        cuda_backend.open_device(2)


# ---------------------------------------------------------------- nvcc, without a GPU


@needs_nvcc
def test_sample_kernels_compile_with_nvcc():
    sources = {}
    for t in sample().values():
        for k in kernels_of(t):
            for backend in (None, GPU):
                sources.setdefault(render(k, CUDA, backend)[0], k.name)
    assert_compiles(sources)


# ---------------------------------------------------------------- on a GPU


@needs_gpu
def test_backend_buffers_and_a_kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADC_CACHE_DIR", str(tmp_path))
    b = cuda_backend.CUDABackend(0)
    assert b.is_gpu and b.name == "cuda:0" and b.arch.startswith("sm_") and b.compute_units > 0
    a = np.arange(1000, dtype=np.float32)
    h1, h2 = b.alloc(a.nbytes), b.alloc(a.nbytes)
    b.copy_in(h1, a)
    b.copy_buffer(h1, h2, a.nbytes)
    out = np.empty_like(a)
    b.copy_out(h2, out)
    np.testing.assert_array_equal(out, a)
    src = (CUDA.preamble + 'extern "C" __global__ void axpb(float* __restrict__ out, const float* __restrict__ in0, '
           "float a0, int n) { int gid = " + CUDA.gid + "; if (gid < n) out[gid] = in0[gid] * a0 + 1.0f; }")
    fn = b.compile(src, "axpb")
    b.launch(fn, [h2, h1, np.float32(3), np.int32(1000)], (1024,), (256,))
    b.synchronize()
    b.copy_out(h2, out)
    np.testing.assert_allclose(out, a * 3 + 1)
    assert b.disk.get(src)  # the cubin went to the disk cache
    b.compile(src, "axpb")  # and loads from it
    b.free(h1)
    b.free(h2)


@needs_gpu
def test_tensors_on_cuda_match_numpy():
    x = np.random.default_rng(0).standard_normal((37, 300)).astype(np.float32)
    t = gradc.tensor(x, device="cuda")
    np.testing.assert_allclose((t * 2).exp().sum(1).numpy(), np.exp(x * 2).sum(1), rtol=1e-4)
    np.testing.assert_allclose(t.amax(0).numpy(), x.max(0))
    np.testing.assert_allclose(t.to(gradc.float16).numpy(), x.astype(np.float16))
    assert gradc.device("cuda").backend.description in dict((str(d), s) for d, s in gradc.devices()).values()


# ---------------------------------------------------------------- last: every kernel the suite scheduled


@needs_nvcc
def test_zz_every_suite_kernel_compiles_with_nvcc():
    """Runs after every other test (tests/conftest.py sorts test_zz_* last), over the CUDA rendering of each
    distinct kernel the session scheduled, whatever device the suite ran on."""
    assert not RENDER_FAILURES, "CUDA rendering failed where OpenCL's did not:\n" + "\n".join(
        f"=== {name} ===\n{tb}" for name, tb in RENDER_FAILURES.items())
    if not SUITE_KERNELS:
        pytest.skip("no kernel was scheduled in this session: run the whole suite (pytest tests)")
    assert_compiles(dict(SUITE_KERNELS))
