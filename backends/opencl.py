"""OpenCL runtime through pyopencl: any OpenCL device (CPUs through PoCL, Intel/AMD/NVIDIA GPUs)."""
from __future__ import annotations

import hashlib
import os
import warnings

import numpy as np

from gradc import __version__
from gradc.cache import DiskCache
from gradc.codegen import OPENCL
from gradc.device import Backend
from gradc.errors import KernelBuildError

try:
    import pyopencl as cl
except ImportError as e:  # pragma: no cover - pyopencl is a runtime dependency
    raise RuntimeError("the OpenCL backend needs pyopencl: pip install pyopencl (or gradc[pocl])") from e


def _all_devices():
    found = []
    for p in cl.get_platforms():
        try:
            found += p.get_devices()
        except cl.Error:  # a platform with no devices raises instead of returning []
            pass
    ctx_env = os.environ.get("PYOPENCL_CTX")
    if ctx_env and found:  # honour pyopencl's own selection: its device comes first, as opencl:0
        try:
            pick = cl.create_some_context(interactive=False).devices[0]
            found = [pick] + [d for d in found if d.int_ptr != pick.int_ptr]
        except Exception:
            pass
    return found


def _describe(d) -> str:
    kind = "GPU" if d.type & cl.device_type.GPU else "CPU" if d.type & cl.device_type.CPU else "accelerator"
    return f"{d.name.strip()} ({kind}, {d.platform.name.strip()}, {d.version.strip()})"


def list_devices() -> list[str]:
    return [_describe(d) for d in _all_devices()]


class OpenCLBackend(Backend):
    dialect = OPENCL

    def __init__(self, index: int):
        devs = _all_devices()
        if not devs:
            raise RuntimeError("no OpenCL device found. Install one with `pip install gradc[pocl]` (an OpenCL CPU "
                               "device from pip) or your GPU vendor's OpenCL driver, or use GRADC_DEVICE=cpu.")
        if index >= len(devs):
            raise RuntimeError(f"opencl:{index} does not exist: this machine has {len(devs)} OpenCL device(s): "
                               + "; ".join(f"opencl:{i} {_describe(d)}" for i, d in enumerate(devs)))
        self.cl_device = d = devs[index]
        self.name = f"opencl:{index}"
        self.description = _describe(d)
        self.is_gpu = bool(d.type & cl.device_type.GPU)
        self.compute_units = d.max_compute_units
        self.vector_width = 1 if self.is_gpu else max(1, d.preferred_vector_width_float)
        # PoCL compiles with clang, whose __builtin_prefetch row kernels use; OpenCL's own prefetch() is a no-op there
        self.prefetch = "Portable Computing Language" in d.platform.name
        self.ctx = cl.Context([d])
        self.queue = cl.CommandQueue(self.ctx)
        # reads go through a queue of their own and wait for the last command that touched the buffer, not for every
        # kernel queued since: loss.item() returns once the loss is computed, while the backward and the update run on
        # and the host records the next step
        self.read_queue = cl.CommandQueue(self.ctx)
        self._touched = {}  # buffer -> the event of the last command on self.queue that used it
        self.fp64 = "cl_khr_fp64" in d.extensions
        self.options = ["-cl-mad-enable"]
        ident = "|".join([d.platform.name, d.platform.version, d.name, d.version, d.driver_version,
                          cl.VERSION_TEXT, __version__, " ".join(self.options)])
        self.disk = DiskCache("opencl", hashlib.sha256(ident.encode()).hexdigest()[:16])

    def supports(self, dtype) -> bool:
        return dtype.name != "float64" or self.fp64

    def alloc(self, nbytes):
        return cl.Buffer(self.ctx, cl.mem_flags.READ_WRITE, nbytes)

    def free(self, handle):
        self._touched.pop(handle, None)
        handle.release()

    def copy_in(self, handle, array, wait=True):
        # a blocking write waits for every kernel queued before it; a private array can go in the background (the
        # event keeps it alive and, when dropped, waits for the copy: it is kept until the queue is drained)
        event = self._touched[handle] = cl.enqueue_copy(self.queue, handle, np.ascontiguousarray(array),
                                                        is_blocking=wait)
        if not wait:
            self._pending = [e for e in getattr(self, "_pending", [])[-64:]
                             if e.command_execution_status != cl.command_execution_status.COMPLETE] + [event]

    def copy_out(self, handle, array):
        event = self._touched.get(handle)
        self.queue.flush()  # a wait across queues needs the awaited command submitted
        cl.enqueue_copy(self.read_queue, array, handle, is_blocking=True, wait_for=None if event is None else [event])

    def copy_buffer(self, src, dst, nbytes):
        self._touched[src] = self._touched[dst] = cl.enqueue_copy(self.queue, dst, src, byte_count=nbytes)

    def compile(self, source: str, name: str):
        with warnings.catch_warnings():  # the compiler's notes on generated code are not the user's concern
            warnings.simplefilter("ignore", cl.CompilerWarning)
            binary = self.disk.get(source)
            if binary is not None:
                try:
                    prog = cl.Program(self.ctx, [self.cl_device], [binary]).build(options=self.options)
                    return getattr(prog, name)
                except Exception:  # a stale or corrupt cache entry is rebuilt, not fatal
                    self.disk.drop(source)
            try:
                prog = cl.Program(self.ctx, source).build(options=self.options)
            except cl.Error as e:
                raise KernelBuildError(name, source, str(e), self.description) from None
        self.disk.put(source, prog.get_info(cl.program_info.BINARIES)[0])
        return getattr(prog, name)

    def launch(self, kernel, args, global_size, local_size):
        # scalars arrive as the numpy type of their C parameter. Told those types once, pyopencl's generated invoker
        # packs them itself; untold, it takes a generic path per call (measured on PoCL: a launch with three float
        # scalars costs 57 us of host time untold, 4 us told)
        if not getattr(kernel, "_typed", False):
            kernel.set_scalar_arg_dtypes([None if isinstance(a, cl.MemoryObject) else a.dtype for a in args])
            kernel._typed = True
        event = kernel(self.queue, global_size, local_size, *args)
        for a in args:  # outputs are not told apart: a read of an input waits for this kernel too (safe, if needless)
            if type(a) is cl.Buffer:
                self._touched[a] = event

    def synchronize(self):
        self.queue.finish()
        self._pending, self._touched = [], {}


def open_device(index: int) -> OpenCLBackend:
    return OpenCLBackend(index)
