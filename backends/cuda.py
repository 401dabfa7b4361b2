"""CUDA runtime through pycuda: NVIDIA GPUs. Kernels are the CUDA dialect's C++, built by nvcc into cubins.

Importing this module never needs pycuda (gradc probes every backend when it picks a default device, and the
tests check the pure parts below without a GPU): pycuda is imported when a device is listed or opened.
"""
from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import shutil
import subprocess
from functools import cache
from math import prod

import numpy as np

from gradc import __version__
from gradc.cache import DiskCache
from gradc.codegen import CUDA
from gradc.device import Backend
from gradc.errors import KernelBuildError

INSTALL = "pip install gradc[cuda]"
MAX_BLOCK = 1024  # threads in a block, on every compute capability CUDA 12 and later support
MAX_GRID = (2**31 - 1, 65535, 65535)  # blocks in a grid, per dimension


def _driver():
    """pycuda.driver, initialised; a RuntimeError that says what to do when pycuda or a usable driver is missing."""
    try:
        import pycuda.driver as drv
    except ImportError as e:  # pycuda missing, or installed but libcuda.so.1 (the NVIDIA driver) is not there
        if importlib.util.find_spec("pycuda") is None:
            raise RuntimeError(f"the CUDA backend needs pycuda: {INSTALL} (on a machine with an NVIDIA GPU, its "
                               "driver and the CUDA toolkit's nvcc), or use GRADC_DEVICE=opencl or cpu.") from e
        raise RuntimeError(f"pycuda is installed but cannot load the CUDA driver ({e}): this machine has no NVIDIA "
                           "driver. Use GRADC_DEVICE=opencl or GRADC_DEVICE=cpu.") from e
    try:
        drv.init()
    except Exception as e:  # pycuda._driver.Error: cuInit failed: no CUDA-capable device is detected, ...
        raise RuntimeError(f"the CUDA driver found no usable GPU ({e}). Use GRADC_DEVICE=opencl or "
                           "GRADC_DEVICE=cpu.") from e
    return drv


def _describe(dev, drv) -> str:
    major, minor = dev.compute_capability()
    v = drv.get_driver_version()
    return (f"{dev.name().strip()} (GPU, sm_{major}{minor}, {dev.total_memory() / 2**30:.0f} GiB, "
            f"CUDA driver {v // 1000}.{v % 1000 // 10})")


def list_devices() -> list[str]:
    """One description per CUDA GPU; [] when pycuda, the driver or a GPU is missing (this never raises)."""
    try:
        drv = _driver()
        return [_describe(drv.Device(i), drv) for i in range(drv.Device.count())]
    except Exception:
        return []


# ---------------------------------------------------------------- the pure parts: no pycuda, no GPU needed


def find_nvcc() -> str | None:
    """GRADC_NVCC, else nvcc on PATH, else the bin/ of CUDA_HOME, CUDA_PATH, CUDA_ROOT or /usr/local/cuda."""
    if os.environ.get("GRADC_NVCC"):
        return os.environ["GRADC_NVCC"]
    found = shutil.which("nvcc")
    if found:
        return found
    for root in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), os.environ.get("CUDA_ROOT"),
                 "/usr/local/cuda"):
        if root and os.access(os.path.join(root, "bin", "nvcc"), os.X_OK):
            return os.path.join(root, "bin", "nvcc")
    return None


@cache
def nvcc_version(nvcc: str) -> str:
    """The last line of `nvcc --version` ('Build cuda_13.0.r13.0/compiler.36424714_0'): names the exact build."""
    try:
        out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return "nvcc: unknown version"
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    return lines[-1] if lines else "nvcc: unknown version"


def cache_ident_parts(compute_capability, driver_version, nvcc_ver: str, options, pycuda_version: str = "",
                      gradc_version: str = __version__) -> list[str]:
    """Everything that changes a cubin besides the source: the target architecture, the compiler build and its
    options, plus the driver and pycuda versions (a driver update is rare; rebuilding then is cheap insurance)."""
    major, minor = compute_capability
    return [f"sm_{major}{minor}", f"driver {driver_version}", nvcc_ver.strip(), f"pycuda {pycuda_version}",
            f"gradc {gradc_version}", " ".join(options)]


def cache_ident(compute_capability, driver_version, nvcc_ver: str, options, pycuda_version: str = "",
                gradc_version: str = __version__) -> str:
    parts = cache_ident_parts(compute_capability, driver_version, nvcc_ver, options, pycuda_version, gradc_version)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def launch_geometry(global_size, local_size) -> tuple[tuple, tuple]:
    """(grid, block) for pycuda from gradc's OpenCL-style sizes (1 to 3 dimensions): a global size counts threads,
    not blocks, and is a multiple of the local size in each dimension."""
    g, l = tuple(global_size), tuple(local_size)
    if not 1 <= len(g) == len(l) <= 3:
        raise ValueError(f"global size {g} and local size {l} need the same 1 to 3 dimensions")
    if min(l) < 1 or prod(l) > MAX_BLOCK:
        raise ValueError(f"a CUDA block holds 1 to {MAX_BLOCK} threads, not {l}")
    if min(g) < 1 or any(a % b for a, b in zip(g, l)):
        raise ValueError(f"the global size {g} is not a positive multiple of the local size {l}")
    grid = tuple(a // b for a, b in zip(g, l)) + (1,) * (3 - len(g))
    if grid[0] > MAX_GRID[0] or grid[1] > MAX_GRID[1] or grid[2] > MAX_GRID[2]:
        raise ValueError(f"a CUDA grid holds at most {MAX_GRID} blocks, not {grid}")
    return grid, l + (1,) * (3 - len(l))


def kernel_args(args) -> list:
    """Buffers pass as device pointers; scalars pass as the numpy type of their C parameter. pycuda packs only
    np.number scalars, so a numpy bool goes as the one byte a C++ bool is."""
    return [np.uint8(a) if isinstance(a, np.bool_) else a for a in args]


# ---------------------------------------------------------------- the backend

_open: list = []  # every CUDABackend opened, for the exit hook
_current: list = [None]  # the backend whose context this process pushed last


def _activate(b) -> None:
    """Make b's context current. Only one context is pushed at a time, so switching devices pops the last one."""
    if _current[0] is b:
        return
    if _current[0] is not None:
        b.drv.Context.pop()
    b.ctx.push()
    _current[0] = b


@atexit.register
def _shutdown():
    """Free pooled buffers and pop the context: pycuda aborts the interpreter if its context stack is not empty."""
    for b in _open:
        try:
            _activate(b)
            b.drv.Context.synchronize()
            b.empty_pool()
        except Exception:
            pass
    if _current[0] is not None:
        try:
            _current[0].drv.Context.pop()
        except Exception:
            pass
        _current[0] = None


class CUDABackend(Backend):
    dialect = CUDA
    is_gpu = True

    def __init__(self, index: int):
        drv = self.drv = _driver()
        n = drv.Device.count()
        if n == 0:
            raise RuntimeError("no CUDA GPU found: the driver loaded but lists no device. Use GRADC_DEVICE=opencl or "
                               "GRADC_DEVICE=cpu.")
        if index >= n:
            raise RuntimeError(f"cuda:{index} does not exist: this machine has {n} CUDA device(s): "
                               + "; ".join(f"cuda:{i} {_describe(drv.Device(i), drv)}" for i in range(n)))
        self.nvcc = find_nvcc()
        if self.nvcc is None:
            raise RuntimeError("the CUDA backend builds kernels with nvcc, which was not found: install the CUDA "
                               "toolkit, put its bin/ on PATH, or set CUDA_HOME or GRADC_NVCC.")
        self.cu_device = dev = drv.Device(index)
        self.name = f"cuda:{index}"
        self.description = _describe(dev, drv)
        self.compute_capability = dev.compute_capability()
        self.arch = "sm_{}{}".format(*self.compute_capability)
        self.compute_units = dev.get_attribute(drv.device_attribute.MULTIPROCESSOR_COUNT)
        self.ctx = dev.retain_primary_context()  # the context the CUDA runtime (and PyTorch, CuPy) also use
        _activate(self)
        _open.append(self)
        self.options = ["--fmad=true"]  # nvcc's default, named so the cache ident records it (OpenCL: mad-enable)
        import pycuda

        ident = cache_ident(self.compute_capability, drv.get_driver_version(), nvcc_version(self.nvcc),
                            self.options, getattr(pycuda, "VERSION_TEXT", "?"))
        self.disk = DiskCache("cuda", ident)

    def supports(self, dtype) -> bool:
        return True  # float64 is native; float16 is stored as __half and computed in float on every architecture

    def alloc(self, nbytes):
        _activate(self)
        try:
            return self.drv.mem_alloc(nbytes)
        except self.drv.MemoryError:  # pooled buffers of other sizes may be holding the memory: free them, retry
            self.empty_pool()
            return self.drv.mem_alloc(nbytes)

    def free(self, handle):
        _activate(self)
        handle.free()

    def copy_in(self, handle, array, wait=True):
        _activate(self)
        self.drv.memcpy_htod(handle, np.ascontiguousarray(array))

    def copy_out(self, handle, array):
        _activate(self)
        self.drv.memcpy_dtoh(array, handle)  # waits for the kernels before it on the default stream

    def copy_buffer(self, src, dst, nbytes):
        _activate(self)
        self.drv.memcpy_dtod(dst, src, nbytes)

    def compile(self, source: str, name: str):
        _activate(self)
        cubin = self.disk.get(source)
        if cubin is not None:
            try:
                return self.drv.module_from_buffer(cubin).get_function(name)
            except Exception:  # a stale or corrupt cache entry is rebuilt, not fatal
                self.disk.drop(source)
        # pycuda.compiler.compile is what SourceModule(source, no_extern_c=True, ...) runs; SourceModule keeps no
        # cubin, and the disk cache wants it. cache_dir=False: gradc's cache replaces pycuda's.
        from pycuda.compiler import compile as nvcc_compile

        try:
            cubin = nvcc_compile(source, nvcc=self.nvcc, options=list(self.options), no_extern_c=True,
                                 arch=self.arch, cache_dir=False)
        except self.drv.CompileError as e:
            raise KernelBuildError(name, source, (e.stderr or "") + (e.stdout or "") or str(e),
                                   self.description) from None
        module = self.drv.module_from_buffer(cubin)
        self.disk.put(source, cubin)
        return module.get_function(name)

    def launch(self, kernel, args, global_size, local_size):
        _activate(self)
        grid, block = launch_geometry(global_size, local_size)
        kernel(*kernel_args(args), block=block, grid=grid)  # asynchronous, on the default stream

    def synchronize(self):
        _activate(self)
        self.ctx.synchronize()


def open_device(index: int) -> CUDABackend:
    return CUDABackend(index)
