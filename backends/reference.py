"""The `cpu` device: a numpy interpreter of the same kernel IR the compiled backends run. It is the oracle for the
generated code: it walks each kernel's fused tree with every primitive's numpy reference."""
from __future__ import annotations

import numpy as np

from gradc import dtypes as dt
from gradc.device import Backend
from gradc.ops import ELEMENTWISE, REDUCE, philox_uniform


def list_devices() -> list[str]:
    return []


def _compute(d: dt.dtype):
    return np.float32 if d is dt.float16 else d.np  # halves compute in float, as on the devices


class ReferenceBackend(Backend):
    name = "cpu"
    description = "numpy reference interpreter"
    dialect = None
    is_gpu = False

    def alloc(self, nbytes):
        return np.empty(nbytes, dtype=np.uint8)

    def free(self, handle):
        pass

    def copy_in(self, handle, array, wait=True):
        handle[: array.nbytes] = np.ascontiguousarray(array).reshape(-1).view(np.uint8)

    def copy_out(self, handle, array):
        array.reshape(-1).view(np.uint8)[:] = handle[: array.nbytes]

    def copy_buffer(self, src, dst, nbytes):
        dst[:nbytes] = src[:nbytes]

    def compile(self, kernel):
        return kernel

    def launch(self, k, args, global_size=None, local_size=None):
        n_out = 1 + len(k.outs)
        bufs = args[n_out: n_out + len(k.inputs)]
        memo = {id(n): np.asarray(b[: n.numel * n.dtype.itemsize].view(n.dtype.np)).reshape(n.shape)
                .astype(_compute(n.dtype)) for n, b in zip(k.inputs, bufs)}
        for n, v in zip(k.args, args[n_out + len(k.inputs):]):
            memo[id(n)] = np.full(n.shape, v, dtype=_compute(n.dtype))

        def ev(n):
            if id(n) in memo:
                return memo[id(n)]
            if n.op == "CONST":
                r = np.full(n.shape, n.arg, dtype=_compute(n.dtype))
            elif n.op == "VIEW":
                idx, valid = n.arg.np_index()
                src = ev(n.srcs[0]).reshape(-1)
                r = np.where(valid, src[np.where(valid, idx, 0)] if src.size else 0, 0)
            elif n.op == "CONTIGUOUS":
                r = ev(n.srcs[0])
            elif n.op == "CAST":
                r = ev(n.srcs[0]).astype(_compute(n.dtype))
            elif n.op == "RAND":
                seed, offset = (int(ev(s).reshape(-1)[0]) for s in n.srcs)
                r = philox_uniform(seed, np.uint64(offset) + np.arange(n.numel, dtype=np.uint64)).reshape(n.shape)
            elif n.op == "MATMUL":
                r = sum(np.matmul(ev(a), ev(b)) for a, b in zip(n.srcs[::2], n.srcs[1::2]))  # (pairs summed)
            elif n.op == "REDUCE":
                op, axes = n.arg
                r = REDUCE[op].np(ev(n.srcs[0]), axis=axes, keepdims=True)
            else:
                r = ELEMENTWISE[n.op].np(*[ev(s) for s in n.srcs])
            memo[id(n)] = r = np.asarray(r).astype(_compute(n.dtype)).reshape(n.shape)
            return r

        out = k.out
        try:
            self._store(k, out, ev, args, n_out)
        finally:
            ev = memo = None  # noqa: F841  (break the closure's self-reference: buffers free without the gc)

    def _store(self, k, out, ev, args, n_out):
        if k.kind == "setview":
            idx, _ = out.arg.np_index()
            res = args[0].view(out.dtype.np)
            res[idx.reshape(-1)] = ev(out.srcs[1]).astype(out.dtype.np).reshape(-1)
            return
        for node, buf in zip([out, *k.outs], args[:n_out]):
            res = ev(node).astype(node.dtype.np)
            buf[: res.nbytes] = np.ascontiguousarray(res).reshape(-1).view(np.uint8)

    def synchronize(self):
        pass


def open_device(index: int) -> ReferenceBackend:
    return ReferenceBackend()
