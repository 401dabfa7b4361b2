"""Devices, the small interface every backend fills, and device-buffer lifetime with reuse."""
from __future__ import annotations

import importlib
import os
from collections import defaultdict
from dataclasses import dataclass


class Backend:
    """What a device runtime provides. A missing piece fails loudly with its name, never silently."""

    name = "?"
    dialect = None  # codegen.Dialect, or None for the reference interpreter

    def _missing(self, what):
        raise NotImplementedError(f"the {self.name} backend does not implement {what}()")

    def alloc(self, nbytes):
        self._missing("alloc")

    def free(self, handle):
        self._missing("free")

    def copy_in(self, handle, array, wait=True):
        """wait=False: the copy may finish later (array is private and never changes); by default the caller may
        reuse array as soon as this returns."""
        self._missing("copy_in")

    def copy_out(self, handle, array):
        self._missing("copy_out")

    def compile(self, kernel):
        self._missing("compile")

    def launch(self, program, args, global_size, local_size):
        self._missing("launch")

    def synchronize(self):
        self._missing("synchronize")

    def supports(self, dtype) -> bool:
        return True

    def copy_buffer(self, src, dst):
        self._missing("copy_buffer")

    def compiled(self, kernel) -> Program:
        """Render (for the device's dialect) and compile a kernel, once per distinct source."""
        from . import debug
        from .codegen import render, structure

        if self.dialect is None:  # the reference interpreter runs the kernel IR itself
            return Program(kernel.name, None, self.compile(kernel), (kernel.out.numel,), (1,))
        key = structure(kernel)
        known = self.__dict__.setdefault("_by_structure", {})
        if key in known:
            return known[key]
        for n in [kernel.out, *kernel.inputs, *kernel.fused]:
            self.check_dtype(n.dtype)
        progs = self.__dict__.setdefault("_programs", {})
        source, gsize, lsize = render(kernel, self.dialect, self)
        if source not in progs:
            debug.built(kernel.name, source)
            progs[source] = self.compile(source, kernel.name)
        known[key] = prog = Program(kernel.name, source, progs[source], gsize, lsize)
        return prog

    def check_dtype(self, d):
        if not self.supports(d):
            raise TypeError(f"{d.name} is not supported on {self.name} ({self.description}): the device lacks "
                            f"{'cl_khr_fp64' if d.name == 'float64' else d.name} support. Use float32, or run on "
                            "another device (GRADC_DEVICE=cpu is the numpy reference interpreter).")

    # Buffers are pooled by size: freeing one returns it to the pool, and the next alloc of that size takes it back.
    def buffer(self, nbytes) -> Buffer:
        pool = self.__dict__.setdefault("_pool", defaultdict(list))
        self.__dict__.setdefault("live", 0)
        self.live += 1
        nbytes = max(nbytes, 1)
        return Buffer(self, nbytes, pool[nbytes].pop() if pool[nbytes] else self.alloc(nbytes))

    def _release(self, buf):
        self.live -= 1
        self._pool[buf.nbytes].append(buf.handle)

    def empty_pool(self):
        for handles in self.__dict__.get("_pool", {}).values():
            for h in handles:
                self.free(h)
            handles.clear()


@dataclass
class Program:
    name: str
    source: str | None
    handle: object
    global_size: tuple
    local_size: tuple


class Buffer:
    __slots__ = ("backend", "nbytes", "handle", "__weakref__")

    def __init__(self, backend, nbytes, handle):
        self.backend, self.nbytes, self.handle = backend, nbytes, handle

    def __del__(self):
        try:
            self.backend._release(self)
        except Exception:  # interpreter shutdown: the pool may already be gone
            pass


class device:
    """`gradc.device("opencl")`, `"opencl:1"`, `"cuda:0"`, `"cpu"`; compares equal to its string form."""

    _backends: dict = {}

    def __init__(self, spec="opencl", index=None):
        if isinstance(spec, device):
            spec, index = spec.type, spec.index
        spec = str(spec)
        if ":" in spec:
            spec, idx = spec.split(":", 1)
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{spec}:{idx}'")
            index = int(idx)
        if spec not in ("opencl", "cuda", "cpu"):
            raise RuntimeError(f"Expected one of cpu, opencl, cuda device type at start of device string: {spec}")
        self.type = spec
        self.index = 0 if index is None and spec != "cpu" else index

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}'" + ("" if self.index is None else f", index={self.index}") + ")"

    def __eq__(self, other):
        if isinstance(other, device):
            return self.type == other.type and self.index == other.index
        try:
            return str(self) == str(device(other))
        except (RuntimeError, TypeError):
            return False

    def __hash__(self):
        return hash(str(self))

    @property
    def backend(self) -> Backend:
        key = str(self)
        if key not in device._backends:
            module = "reference" if self.type == "cpu" else self.type
            mod = importlib.import_module(f"gradc.backends.{module}")
            device._backends[key] = mod.open_device(self.index or 0)
        return device._backends[key]


_default = None


def _probe(kind):
    try:
        return importlib.import_module(f"gradc.backends.{kind}").list_devices()
    except Exception:  # a missing runtime (no pycuda, no OpenCL ICD) just means no such device here
        return []


def devices() -> list[tuple[device, str]]:
    """Every device present, as (device, description) pairs; the reference interpreter `cpu` is always there."""
    found = []
    for kind in ("opencl", "cuda"):
        found += [(device(kind, i), desc) for i, desc in enumerate(_probe(kind))]
    return found + [(device("cpu"), "numpy reference interpreter")]


def default_device() -> device:
    """GRADC_DEVICE, else the first OpenCL GPU, else CUDA, else the first OpenCL CPU device."""
    global _default
    if _default is None:
        env = os.environ.get("GRADC_DEVICE")
        if env:
            _default = device(env)
        else:
            cl = _probe("opencl")
            gpus = [i for i, desc in enumerate(cl) if "GPU" in desc]
            if gpus:
                _default = device("opencl", gpus[0])
            elif _probe("cuda"):
                _default = device("cuda", 0)
            elif cl:
                _default = device("opencl", 0)
            else:
                raise RuntimeError(
                    "gradc found no OpenCL or CUDA device. Install an OpenCL CPU runtime with "
                    "`pip install gradc[pocl]` (or your vendor's OpenCL driver, or `gradc[cuda]` on an NVIDIA GPU), "
                    "or run on the numpy reference interpreter with GRADC_DEVICE=cpu.")
    return _default


def set_default_device(d) -> None:
    global _default
    _default = device(d)
