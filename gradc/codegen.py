"""Codegen: Python walks a kernel's fused tree and writes one line of C per node; Jinja templates lay out the loops.

OpenCL C and CUDA C differ only in the strings of a Dialect.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import jinja2
import numpy as np

from . import dtypes as dt
from .node import Node, View, contiguous_strides, prod
from .ops import ELEMENTWISE, REDUCE, REDUCE_IDENTITY
from .schedule import Kernel, _read_at_index, _row_expand


@dataclass(frozen=True)
class Dialect:
    name: str
    preamble: str
    kernel: str  # qualifier that makes a function a kernel
    glob: str  # address space of buffer arguments
    local: str  # address space of work-group shared memory
    gid: str
    gid1: str
    gid2: str
    lid: str
    group: str
    barrier: str
    storage: tuple  # (bool, int64, float16) storage type names; the rest are the same in both
    long: str  # the 64-bit integer type in expressions
    load_half: str
    store_half: str
    inf: str
    nan: str
    vectors: bool  # arithmetic on vector types (floatN) is part of the language
    u64: str  # unsigned 64-bit integer type
    device_fn: str  # qualifier of a helper function callable from kernels
    as_int: str  # bit casts float <-> int; {w} is the vector width ("" for scalars)
    as_float: str
    prefetch: str  # a cache hint for the address {p}, for compilers that have one (backend.prefetch says)


OPENCL = Dialect(
    "opencl", "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n", "__kernel", "__global ", "__local ",
    "get_global_id(0)", "get_global_id(1)", "get_global_id(2)", "get_local_id(0)", "get_group_id(0)",
    "barrier(CLK_LOCAL_MEM_FENCE)", ("uchar", "long", "half"), "long", "vload_half({i}, {p})",
    "vstore_half({v}, {i}, {p})", "INFINITY", "NAN", True, "ulong", "", "as_int{w}",
    "as_float{w}", "__builtin_prefetch({p});")

CUDA = Dialect(
    "cuda", "#include <cuda_fp16.h>\n#define restrict __restrict__\n", 'extern "C" __global__', "", "__shared__ ",
    "(blockIdx.x * blockDim.x + threadIdx.x)", "(blockIdx.y * blockDim.y + threadIdx.y)",
    "(blockIdx.z * blockDim.z + threadIdx.z)", "threadIdx.x", "blockIdx.x", "__syncthreads()",
    ("unsigned char", "long long", "__half"), "long long", "__half2float({p}[{i}])", "{p}[{i}] = __float2half({v})",
    "__int_as_float(0x7f800000)", "__int_as_float(0x7fffffff)", False,
    "unsigned long long", "__device__", "__float_as_int", "__int_as_float", "")

DIALECTS = {"opencl": OPENCL, "cuda": CUDA}


def ctype(d: dt.dtype, dialect: Dialect) -> str:
    """The C type a value of this dtype is computed in (halves compute in float)."""
    return {"bool": "bool", "int32": "int", "int64": dialect.long, "float16": "float", "float32": "float",
            "float64": "double"}[d.name]


def stype(d: dt.dtype, dialect: Dialect) -> str:
    """The C type a value of this dtype is stored in."""
    b, l, h = dialect.storage
    return {"bool": b, "int64": l, "float16": h}.get(d.name) or ctype(d, dialect)


def literal(value, d: dt.dtype, dialect: Dialect) -> str:
    """Render a constant exactly: float32 by its shortest round-trip repr, float64 by Python's."""
    if d.kind == "b":
        return "1" if value else "0"
    if d.kind == "i":
        return f"{int(value)}" if d is dt.int32 else f"(({dialect.long}){int(value)})"
    v = float(value)
    if math.isnan(v):
        return dialect.nan
    if math.isinf(v):
        return dialect.inf if v > 0 else f"(-{dialect.inf})"
    if d is dt.float64:
        return f"{v!r}"
    s = str(np.float32(v))
    return (s if ("." in s or "e" in s) else s + ".0") + "f"


def reduce_identity(op: str, d: dt.dtype, dialect: Dialect) -> str:
    if op == "MAX" and d.kind == "i":
        return literal(np.iinfo(d.np).min, d, dialect)
    if op == "MAX" and d.kind == "b":
        return "0"
    return literal(REDUCE_IDENTITY[op], d, dialect)


# ---------------------------------------------------------------- lowering: a kernel's nodes, buffers and scalars


def lower(out: Node, bound: set) -> Kernel:
    k = Kernel("setview" if out.op == "SETVIEW" else "elementwise", out)
    seen = set()

    def visit(n, root=False, expanded=False):
        if id(n) in seen:
            return
        seen.add(id(n))
        if not root and (n.realized or id(n) in bound):
            k.inputs.append(n)
        elif n.op == "ARG":
            k.args.append(n)
        else:
            if n.op in ("REDUCE", "MATMUL") and k.kind != "row":
                # read at the output index: the kernel is the op's template with the rest as its epilogue;
                # read through a broadcasting view: a row kernel, one loop per reduction, then the output loop
                k.kind, k.reduce = ("row", None) if expanded else (n.op.lower(), n)
            k.fused.append(n)
            for s in n.srcs:
                visit(s, expanded=expanded or _row_expand(n))
            if n.op == "REDUCE":
                k.reds.append(n)  # after its sources: a reduction comes after those it reads

    if k.kind == "setview":  # the base is copied into the output first; only the values written are computed here
        k.inputs.append(out.srcs[0])
        visit(out.srcs[1])
    else:
        visit(out, root=True)
    ops = [n.op.lower() if n.op != "REDUCE" else n.arg[0].lower() for n in k.fused
           if n.op not in ("VIEW", "CONST", "CAST") and not n.realized]
    ops = list(dict.fromkeys(reversed(ops)))[:4] or ["copy"]
    r = k.reduce or (k.reds[0] if k.reds else None)
    shape = r.srcs[0].shape if k.kind in ("reduce", "row") else (out.numel,) if k.kind != "matmul" else \
        (*r.shape[:-1], sum(a.shape[-1] for a in r.srcs[::2]), r.shape[-1])  # k of all its pairs
    prefix = {"matmul": "MM", "row": "X"}.get(k.kind, k.kind[0].upper())
    k.name = f"{prefix}_{'_'.join(ops)}_{'x'.join(map(str, shape))}"
    visit = None  # noqa: F841  (the recursive closure refers to itself: break the cycle so nodes free promptly)
    return k


def _static(n: Node):
    """The part of a node's argument that is written into the source (views: their pattern, not the offsets)."""
    return None if n.op == "ARG" else n.arg.pattern() if n.op == "VIEW" else n.arg


def dynamic_args(k: Kernel) -> list[tuple]:
    """(node, kind, dim, value) of every view value the kernel takes as an int argument, in parameter order."""
    views = [n for n in k.fused if n.op == "VIEW"] + ([k.out] if k.kind == "setview" else [])
    return [(n, kind, dim, v) for n in views for kind, dim, v in n.arg.dynamic()]


def structure(k: Kernel) -> tuple:
    """Everything the rendered source depends on, as a hashable value: kernels of the same structure share a
    source and a program, so a training loop renders each of its kernels once, not every step."""
    pos = {id(n): ("in", i) for i, n in enumerate(k.inputs)}
    pos.update({id(n): ("arg", i) for i, n in enumerate(k.args)})
    pos.update({id(n): i for i, n in enumerate(k.fused)})
    fused = tuple((n.op, n.shape, n.dtype.name, _static(n), tuple(pos.get(id(s)) for s in n.srcs)) for n in k.fused)
    return (k.kind, k.out.shape, k.out.dtype.name, k.out.arg.pattern() if k.kind == "setview" else None,
            tuple((n.shape, n.dtype.name) for n in k.inputs), tuple(n.dtype.name for n in k.args), fused,
            tuple(pos.get(id(o)) for o in k.outs))


# ---------------------------------------------------------------- rendering


def vector_load(p: str, i: str, w: int) -> str:
    """A W-wide load of p[i..i+W-1], spelled out: PoCL compiles vloadN to a call, which spills every register
    (measured: 30 -> 80 GFLOP/s for the matmul); LLVM merges these scalar loads into one vector load."""
    return f"(float{w})({', '.join(f'({p} + {i})[{c}]' for c in range(w))})"


def vector_store(p: str, i: str, v: str, w: int) -> str:
    return " ".join(f"({p} + {i})[{c}] = {v}.s{c:x};" for c in range(w))


class Renderer:
    """Emits one C line per node, caching each (node, index) pair so shared work is computed once."""

    def __init__(self, k: Kernel, d: Dialect):
        self.k, self.d = k, d
        self.lines: list[str] = []
        self.names: dict = {}
        self.vec = 1  # >1: each work-item computes this many contiguous float32 elements as one vector
        self.inputs = {id(n): i for i, n in enumerate(k.inputs)}
        self.accs: dict[int, str] = {}  # reductions computed earlier in this kernel -> their accumulator
        self.by_element = False  # vector loads and stores index elements, not vectors (row and column kernels)
        self.row_shape = k.reds[0].shape if k.kind == "row" else None
        self.dyn = {(id(n), kind, dim): f"d{i}" for i, (n, kind, dim, _) in enumerate(dynamic_args(k))}
        self.args = {id(n): i for i, n in enumerate(k.args)}
        self.count = 0

    def var(self, ctyp: str, expr: str, prefix="v") -> str:
        key = (ctyp, expr)
        if key in self.names:
            return self.names[key]
        name = f"{prefix}{self.count}"
        self.count += 1
        self.lines.append(f"{ctyp} {name} = {expr};")
        self.names[key] = name
        return name

    def index(self, expr: str) -> str:
        return expr if expr.isidentifier() or expr.isdigit() else self.var("int", expr, "i")

    def ct(self, d: dt.dtype, idx: str = "") -> str:
        scalar = self.vec == 1 or self.accs and idx == "gid"  # per-row values of a row kernel stay scalars
        return ctype(d, self.d) + ("" if scalar else str(self.vec))

    def load(self, n: Node, idx: str, valid: str | None = None) -> str:
        p = f"in{self.inputs[id(n)]}"
        if self.vec > 1 and self.ct(n.dtype, idx) != ctype(n.dtype, self.d):
            # elementwise kernels index vectors; row kernels index elements
            x = vector_load(p, idx if self.by_element else f"{idx} * {self.vec}", self.vec)
        elif n.dtype is dt.float16:
            x = self.d.load_half.format(p=p, i=idx)
        elif n.dtype is dt.bool_:
            x = f"({p}[{idx}] != 0)"
        else:
            x = f"{p}[{idx}]"
        if valid:
            x = f"(({valid}) ? {x} : {literal(0, n.dtype, self.d)})"
        return self.var(self.ct(n.dtype, idx), x)

    def expr(self, n: Node, idx: str, valid: str | None = None) -> str:
        key = (id(n), idx, valid)
        if key in self.names:
            return self.names[key]
        ct = self.ct(n.dtype, idx)
        if id(n) in self.inputs:
            v = self.load(n, idx, valid)
        elif n.op == "CONST":
            v = literal(n.arg, n.dtype, self.d)
        elif n.op == "ARG":
            v = f"a{self.args[id(n)]}"
        elif n.op == "VIEW" and self.accs and _row_expand(n) and n.srcs[0].shape == self.row_shape:
            # a value per row of this row kernel (a reduction over its axes, and what is computed from it)
            v = self.expr(n.srcs[0], "gid")
        elif n.op == "VIEW":
            i, ok = n.arg.index(idx, self.param(n))
            ok = f"{valid} && {ok}" if valid and ok else valid or ok
            v = self.expr(n.srcs[0], self.index(i), ok)
        elif n.op == "RAND":  # arguments: the seed and the stream position of element 0
            seed, offset = (self.expr(s, idx) for s in n.srcs)
            v = self.var(ct, f"gradc_rand(({self.d.u64}){seed}, ({self.d.u64}){offset} + {idx})")
        elif n.op == "CONTIGUOUS":  # a copy: its value is its source's
            v = self.expr(n.srcs[0], idx, valid)
        elif n.op == "CAST":
            x = self.expr(n.srcs[0], idx, valid)
            v = self.var(ct, f"({x} != 0)" if n.dtype is dt.bool_ else f"({ct}){x}")
        else:
            xs = [self.expr(s, idx, valid) for s in n.srcs]
            row = ELEMENTWISE[n.op]
            if row.fast and ctype(n.dtype, self.d) == "float":
                w = ct[len("float"):]  # the vector width, "" for scalars
                casts = dict(as_int=self.d.as_int.format(w=w), as_float=self.d.as_float.format(w=w))
                for stage in row.fast.split(";"):  # each stage's value is an operand of the next ones
                    xs.append(self.var(ct, stage.strip().format(*xs, **casts)))
                v = xs[-1]
            else:
                v = self.var(ct, row.c_for(n.dtype).format(*xs))
        if valid and n.op in ("CONST", "ARG"):
            v = self.var(ct, f"(({valid}) ? {v} : {literal(0, n.dtype, self.d)})")
        self.names[key] = v
        return v

    def param(self, n: Node):
        return lambda kind, dim, value: self.dyn[(id(n), kind, dim)]

    def store(self, n: Node, idx: str, v: str, p="out") -> str:
        if self.vec > 1:
            v = self.var(f"float{self.vec}", f"(float{self.vec})({v})")  # constants and scalars broadcast first
            return vector_store(p, idx if self.by_element else f"{idx} * {self.vec}", v, self.vec)
        if n.dtype is dt.float16:
            return self.d.store_half.format(p=p, i=idx, v=v) + ";"
        return f"{p}[{idx}] = ({stype(n.dtype, self.d)}){v};"

    def params(self) -> list[str]:
        g, d = self.d.glob, self.d
        ps = [f"{g}{stype(self.k.out.dtype, d)}* restrict out"]
        ps += [f"{g}{stype(n.dtype, d)}* restrict out{i + 1}" for i, n in enumerate(self.k.outs)]
        ps += [f"{g}const {stype(n.dtype, d)}* restrict in{i}" for i, n in enumerate(self.k.inputs)]
        ps += [f"{ctype(n.dtype, d)} a{i}" for i, n in enumerate(self.k.args)]
        ps += [f"int {name}" for name in self.dyn.values()]
        return ps


def _operand(r: Renderer, x: Node) -> tuple[str, View, object]:
    """A matmul operand's buffer parameter, the strided view it is read through, and how to name its offset."""
    if id(x) in r.inputs:
        return f"in{r.inputs[id(x)]}", View.contiguous(x.shape), None
    return f"in{r.inputs[id(x.srcs[0])]}", x.arg, r.param(x)


@cache
def _env() -> jinja2.Environment:
    loader = jinja2.FunctionLoader(lambda name: resources.files("gradc.templates").joinpath(name).read_text())
    return jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def local_size_for(n_out: int, reduce_len: int, backend) -> int:
    """Threads that cooperate on one reduction output: many on GPUs, one per output when outputs fill the device."""
    if backend is None or not getattr(backend, "is_gpu", False):
        return 1 if n_out >= 8 or reduce_len < 4096 else 64
    return 1 if reduce_len < 64 else min(256, 1 << (reduce_len - 1).bit_length())


VECTOR_OPS = {"ADD", "MUL", "DIV", "NEG", "EXP", "LOG", "SIN", "COS", "SQRT", "TANH", "CONST", "ARG"}


def vector_width(k: Kernel, d: Dialect, backend) -> int:
    """Contiguous float32 kernels of plain arithmetic run on vectors where the device prefers them (PoCL's CPU
    device only vectorizes math functions given vector types: tanh on float8 is ~5x faster than on floats)."""
    w = getattr(backend, "vector_width", 1) if d.vectors else 1
    ok = w > 1 and k.out.numel % w == 0 and all(o.dtype is dt.float32 for o in k.outs) and all(
        n.dtype is dt.float32 and n.op in VECTOR_OPS for n in k.fused) and all(
        n.dtype is dt.float32 and n.shape == k.out.shape for n in k.inputs)
    return w if ok else 1


def row_vector_width(k: Kernel, d: Dialect, backend, inner: str, R: int) -> int:
    """Row kernels over contiguous rows of float32 run their loops on vectors, like elementwise kernels."""
    w = getattr(backend, "vector_width", 1) if d.vectors else 1
    row = k.reds[0].shape
    plain = all(n.dtype is dt.float32 and (n.op in VECTOR_OPS or n.op == "REDUCE" or n.op == "VIEW" and
                                           _row_expand(n) and n.srcs[0].shape == row) for n in k.fused)
    ok = w > 1 and inner == "r" and R % w == 0 and plain and all(
        n.dtype is dt.float32 and n.shape in (k.out.shape, row) for n in k.inputs)
    return w if ok else 1


def reduce_vector_width(k: Kernel, d: Dialect, backend) -> int:
    """A float32 reduction over leading axes of a buffer (a bias gradient's column sums) computes W neighbouring
    outputs as one vector, loading W contiguous elements per step (on PoCL 3x faster than an output per thread,
    each walking a column)."""
    w = getattr(backend, "vector_width", 1) if d.vectors else 1
    red, out = k.reduce, k.out
    src = red.srcs[0]
    plain = all(n is red or n.dtype is dt.float32 and n.shape == out.shape and (
        n.op in VECTOR_OPS or n.op == "VIEW" and n.srcs[0] is red and n.arg.is_contiguous) for n in k.fused)
    ok = w > 1 and red.dtype is dt.float32 and out.dtype is dt.float32 and not k.outs and plain and \
        len(src.shape) - 1 not in red.arg[1] and src.shape[-1] % w == 0 and any(n is src for n in k.inputs) and \
        all(n is src or n.shape == out.shape and n.dtype is dt.float32 for n in k.inputs)
    return w if ok else 1


def render(k: Kernel, d: Dialect, backend=None) -> tuple[str, tuple, tuple]:
    """(source, global size, local size) of a kernel in a dialect."""
    r = Renderer(k, d)
    out = k.out
    tmpl = _env().get_template(f"{k.kind if k.kind != 'setview' else 'elementwise'}.j2")
    common = dict(d=d, name=k.name, params=r.params(), rand=any(n.op == "RAND" for n in k.fused))
    if k.kind == "elementwise":
        r.vec = vector_width(k, d, backend)
        v = r.expr(out, "gid")
        stores = [r.store(out, "gid", v)] + [r.store(o, "gid", r.expr(o, "gid"), f"out{i + 1}")
                                             for i, o in enumerate(k.outs)]
        lines = r.lines + stores
        n, local = out.numel // r.vec, 64
        src = tmpl.render(**common, n=n, lines=lines)
        return src, (-(-n // local) * local,), (local,)
    if k.kind == "setview":
        src_node = out.srcs[1]
        v = r.expr(src_node, "gid")
        i, _ = out.arg.index("gid", r.param(out))
        lines = r.lines + [r.store(out, r.index(i), v)]
        n, local = src_node.numel, 64
        return tmpl.render(**common, n=n, lines=lines), (-(-n // local) * local,), (local,)
    if k.kind == "reduce":
        red = k.reduce
        op, axes = red.arg
        src = red.srcs[0]
        cs = contiguous_strides(src.shape)
        r.vec = reduce_vector_width(k, d, backend)
        r.by_element = r.vec > 1  # gid is the first of the vector's outputs
        base, _ = View(red.shape, tuple(0 if a in axes else s for a, s in enumerate(cs))).index("gid")
        inner, _ = View(tuple(src.shape[a] for a in axes), tuple(cs[a] for a in axes)).index("r")
        x = r.expr(src, r.index(f"base + {inner}" if inner != "0" else "base"))
        body, r.lines = r.lines, []
        r.names[(id(red), "gid", None)] = "acc"  # the epilogue reads the reduction's result from the accumulator
        v = r.expr(out, "gid")
        epilogue = r.lines + [r.store(out, "gid", v)]
        n_out, rlen = out.numel, prod(src.shape[a] for a in axes)
        L = local_size_for(n_out, rlen, backend) if r.vec == 1 else 1
        combine = REDUCE[op].c_for(red.dtype)
        text = tmpl.render(**common, n=n_out, R=rlen, L=L, W=r.vec, base=base, body=body, acc_t=r.ct(red.dtype),
                           identity=reduce_identity(op, red.dtype, d), combine=combine.format(acc="acc", x=x),
                           combine_local=combine.format(acc="acc", x="part[lid + s]"), epilogue=epilogue)
        return text, (n_out * L // r.vec,), (L,)
    if k.kind == "row":
        ref = k.reds[0]
        axes, shape = ref.arg[1], out.shape
        cs = contiguous_strides(shape)
        base, _ = View(ref.shape, tuple(0 if a in axes else s for a, s in enumerate(cs))).index("gid")
        inner, _ = View(tuple(shape[a] for a in axes), tuple(cs[a] for a in axes)).index("r")
        R = prod(shape[a] for a in axes)
        r.vec = row_vector_width(k, d, backend, inner, R)
        r.by_element = True
        loops = []
        r.names = {}
        r.accs[0] = ""  # marks a row kernel: broadcasts of per-row values are computed at the row index
        for i, red in enumerate(k.reds):
            r.lines = []  # each loop is its own C scope; only the accumulators carry over
            idx = r.index(f"base + {inner}" if inner != "0" else "base")
            x = r.expr(red.srcs[0], idx)
            op, acc = red.arg[0], f"acc{i}"
            # with vectors, the lanes fold into the accumulator after the loop (the same combine: NaN propagates)
            lanes = [f"{acc}v.s{j:x}" for j in range(1, r.vec)]
            loops.append(dict(body=r.lines, acc=acc, acc_t=ctype(red.dtype, d),
                              identity=reduce_identity(op, red.dtype, d),
                              combine=REDUCE[op].c_for(red.dtype).format(acc=acc + ("v" if r.vec > 1 else ""), x=x),
                              horizontal=[f"{acc} = {REDUCE[op].c_for(red.dtype).format(acc=acc, x=lane)};"
                                          for lane in lanes]))
            if i == 1 and r.vec > 1 and d.prefetch and getattr(backend, "prefetch", False):
                # the first loop brought this row in from memory with little to compute; this one computes more:
                # meanwhile fetch the next row (measured on PoCL: softmax 1.9 -> 1.6x the copy kernel's time)
                r.lines += [d.prefetch.format(p=f"in{j} + {idx} + {R}") for j, n in enumerate(k.inputs)
                            if n.shape == out.shape]
            r.accs[id(red)] = f"acc{i}"
            r.lines, r.names = [], {(id(red_), "gid", None): a for red_, a in
                                    zip(k.reds, [f"acc{j}" for j in range(i + 1)])}
        r.lines, r.names = [], {(id(red), "gid", None): f"acc{i}" for i, red in enumerate(k.reds)}
        oi = r.index(f"base + {inner}" if inner != "0" else "base")
        stash = k.reds[-1].srcs[0]  # the last loop's values, if the output loop needs them again (softmax's exp)
        if stash.dtype is out.dtype and out.dtype in (dt.float32, dt.float64) and stash.shape == out.shape and \
                stash is not out and _read_at_index(out, stash, {id(n) for n in k.inputs} | {id(n) for n in k.reds}):
            # keep them in the output buffer instead of computing them twice
            epilogue_lines, r.lines = r.lines, loops[-1]["body"]
            r.lines.append(r.store(out, idx, x))
            r.lines = epilogue_lines
            ld = vector_load("out", oi, r.vec) if r.vec > 1 else f"out[{oi}]"
            r.names[(id(stash), oi, None)] = r.var(r.ct(out.dtype, oi), ld)
        v = r.expr(out, oi)
        n_rows = prod(ref.shape)
        text = tmpl.render(**common, n=n_rows, R=R, W=r.vec, base=base, loops=loops,
                           epilogue=r.lines + [r.store(out, oi, v)])
        L = 16 if getattr(backend, "is_gpu", False) else 1  # on CPUs a work-group of one row runs fastest
        return text, (-(-n_rows // L) * L,), (L,)
    if k.kind == "matmul":
        mm = k.reduce
        *batch, n, m = mm.shape
        pairs = [(_operand(r, mm.srcs[i]), _operand(r, mm.srcs[i + 1]), mm.srcs[i].shape[-1])
                 for i in range(0, len(mm.srcs), 2)]  # (A, B, k) of each product the kernel sums
        t = ctype(mm.dtype, d)
        w = getattr(backend, "vector_width", 1) if d.vectors and mm.dtype is dt.float32 else 1
        # x @ W.t(): dot products along contiguous k (every pair must allow it, as they share the accumulators)
        dot = w > 1 and all(va.strides[-1] == 1 and vb.strides[-2] == 1 and kk % w == 0
                            for (_, va, _), (_, vb, _), kk in pairs)
        if dot:
            W, (TM, TN, L0), KS = w, getattr(backend, "matmul_tile_nt", (4, 3, 8)), w
            TNV, vt = TN, f"{t}{W}"
            outs = [(i, j, " + ".join(f"acc{i}_{j}.s{c:x}" for c in range(W))) for i in range(TM) for j in range(TN)]
        else:  # rows of B as W-wide vectors, broadcast elements of A
            W = w if w > 1 and m % w == 0 and all(vb.strides[-1] == 1 for _, (_, vb, _), _ in pairs) else 1
            TM, TNV, L0 = getattr(backend, "matmul_tile", (4, 3, 8) if W > 1 else (4, 4, 16))
            TNV, KS = min(TNV, max(1, m // W)), 1
            TN, vt = TNV * W, f"{t}{W}" if W > 1 else t
            outs = [(i, j * W + c, f"acc{i}_{j}" + (f".s{c:x}" if W > 1 else "")) for i in range(TM)
                    for j in range(TNV) for c in range(W)]
        setup = [f"{vt} acc{i}_{j} = ({vt})(0.0f);" for i in range(TM) for j in range(TNV)]
        loops = []
        for (pa, va, qa), (pb, vb, qb), kk in pairs:
            a_base, _ = View(tuple(batch), va.strides[:-2], va.offset).index("bat", qa)
            b_base, _ = View(tuple(batch), vb.strides[:-2], vb.offset).index("bat", qb)
            sa_n, sa_k, sb_k, sb_m = va.strides[-2], va.strides[-1], vb.strides[-2], vb.strides[-1]
            pre = [f"{d.long} ar{i} = {a_base} + min(row + {i}, {n - 1}) * {sa_n};" for i in range(TM)]
            if dot:
                pre += [f"{d.long} bc{j} = {b_base} + min(col + {j}, {m - 1}) * {sb_m};" for j in range(TN)]
                step = [f"{vt} xa{i} = {vector_load(pa, f'ar{i} + k', W)};" for i in range(TM)]
                step += [f"{vt} xb{j} = {vector_load(pb, f'bc{j} + k', W)};" for j in range(TN)]
            else:
                pre += [f"{d.long} bc{j} = {b_base} + min(col + {j * W}, {m - W}) * {sb_m};" for j in range(TNV)]
                step = [f"{vt} xb{j} = " + (vector_load(pb, f"bc{j} + k * {sb_k}", W) if W > 1 else
                                            f"{pb}[bc{j} + k * {sb_k}]") + ";" for j in range(TNV)]
                step += [f"{t} xa{i} = {pa}[ar{i} + k * {sa_k}];" for i in range(TM)]
            step += [f"acc{i}_{j} += xa{i} * xb{j};" for i in range(TM) for j in range(TNV)]
            loops.append(dict(K=kk, setup=pre, step=step))
        r.names[(id(mm), "oi", None)] = "accv"
        v = r.expr(out, "oi")
        epilogue = r.lines + [r.store(out, "oi", v)]
        text = tmpl.render(**common, N=n, M=m, TM=TM, TN=TN, KS=KS, t=t, setup=setup, loops=loops, outs=outs,
                           epilogue=epilogue)
        g0, g1, nb = -(-n // TM), -(-m // TN), prod(batch)
        # work-groups of 8 tiles down the rows: ~10% faster than 1 on PoCL for the MLP's matmuls, ~35% for thin ones
        l0 = math.gcd(L0, g0)
        return text, (g0, g1, nb), (l0, 1, 1)
    raise NotImplementedError(f"no template renders a {k.kind} kernel yet")
