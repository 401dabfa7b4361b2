"""Lowering: group the lazy DAG into kernels, then run them.

A node gets its own buffer (is a kernel boundary) when it is a target, a reduction, a matmul, a copy, a
write through a view, the source of a view that pads or repeats its elements, or an elementwise node whose
consumers land in different kernels (fusing it into each would repeat its work). Everything else is inlined
into its one consumer kernel: chains of elementwise ops become one kernel, and elementwise producers of a
reduction become its map expression.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import numpy as np

from .node import Node, View, contiguous_strides, prod, view_of

LEAVES = ("BUFFER", "CONST", "ARG")
MAX_CHAIN = 32  # a node this many elementwise ops past the last buffer gets a buffer itself
ALWAYS_BOUNDARY = ("MATMUL", "CONTIGUOUS", "SETVIEW")


class _Config:
    fusion = os.environ.get("GRADC_FUSION", "1") != "0"
    debug = int(os.environ.get("GRADC_DEBUG", "0") or 0)


config = _Config()


def log(level, msg):
    if config.debug >= level:
        print(f"gradc: {msg}", file=sys.stderr)


@dataclass(eq=False)
class Kernel:
    kind: str  # 'elementwise' | 'reduce' | 'matmul' | 'setview'
    out: Node  # the node this kernel realizes
    inputs: list = field(default_factory=list)  # nodes read from buffers, in argument order
    args: list = field(default_factory=list)  # ARG nodes passed as runtime scalars
    fused: list = field(default_factory=list)  # nodes computed inside the kernel (for names, to_dot and tests)
    name: str = ""
    reduce: Node | None = None  # the REDUCE or MATMUL node a reduce/matmul kernel is built around
    reds: list = field(default_factory=list)  # the reductions computed inside, sources first
    outs: list = field(default_factory=list)  # further nodes the kernel stores, besides `out`


# One of these over loaded values costs less to recompute in each consumer kernel than to store and load back
# (the comparison relu saves for its backward, say).
CHEAP_OPS = ("CAST", "NEG", "ADD", "MUL", "MAX", "CMPLT", "CMPEQ", "WHERE")


def cheap(n: Node) -> bool:
    """Nodes that cost nothing to recompute in every consumer: constants, arguments, buffer reads."""
    return n.realized or n.op in LEAVES or n.op == "VIEW" and cheap(n.srcs[0]) or (
        n.op == "CAST" and cheap(n.srcs[0]))


def toposort(targets) -> list[Node]:
    """The unrealized nodes behind targets, sources first (depth first, with an explicit stack: DAGs run deep)."""
    order, seen = [], set()
    for t in targets:
        if id(t) in seen or t.buffer is not None:
            continue
        seen.add(id(t))
        path, pending = [t], [iter(t.srcs)]
        while pending:
            for s in pending[-1]:
                if s.buffer is None and id(s) not in seen:
                    seen.add(id(s))
                    path.append(s)
                    pending.append(iter(s.srcs))
                    break
            else:  # every source is placed
                pending.pop()
                order.append(path.pop())
    return order


def boundaries(targets, pack=False) -> tuple[list[Node], set]:
    order = toposort(targets)
    if pack and _pack_operands(order):
        order = toposort(targets)
    users: dict[int, list[Node]] = {}
    for n in order:
        for s in n.srcs:
            users.setdefault(id(s), []).append(n)
    bound = {id(t) for t in targets} | {id(n) for n in order if n.op in ALWAYS_BOUNDARY}
    for n in order:
        if n.op == "VIEW" and not cheap(n.srcs[0]) and not (_row_expand(n) and _per_row(n.srcs[0], n.shape)):
            src = n.srcs[0]
            if n.arg.mask is not None or prod(n.shape) > prod(src.shape) or not config.fusion:
                bound.add(id(src))  # padding needs bounds-checked loads; an expand would repeat the source's work
        if n.op == "SETVIEW":  # the kernel starts from a copy of the base's buffer
            bound.add(id(n.srcs[0]))
        if n.op == "MATMUL":  # the template reads its operands from buffers, through one strided view at most
            for s in n.srcs:
                bound.add(id(s.srcs[0]) if s.op == "VIEW" and s.arg.mask is None and not s.realized else id(s))
        if not config.fusion and n.op not in LEAVES and n.op != "VIEW" or n.depth % MAX_CHAIN == 0 < n.depth:
            # an elementwise recurrence (an LSTM's cell state) would otherwise grow one kernel without end
            bound.add(id(n))
    group: dict[int, int] = {}  # node -> the boundary node whose kernel computes it
    homes_of: dict[int, set] = {}  # node -> the kernels that read it (several for a duplicated node)
    dup: set = set()  # cheap nodes recomputed inside each consumer kernel; their sources cannot be duplicated too
    by_id = {id(n): n for n in order}
    row_axes: dict[int, tuple] = {}  # root of a row kernel -> the axes its reductions run over
    for n in reversed(order):  # consumers before producers
        if id(n) in bound or cheap(n):
            group[id(n)], homes_of[id(n)] = id(n), {id(n)}
            continue
        us = users.get(id(n), [])
        homes = set().union(*(homes_of[id(u)] for u in us))
        homes_of[id(n)] = homes
        if n.op == "REDUCE":
            root = by_id.get(next(iter(homes))) if len(homes) == 1 else None
            if config.fusion and root is not None and root.op not in ("REDUCE", "VIEW", *ALWAYS_BOUNDARY) and \
                    root.shape == n.srcs[0].shape and row_axes.get(id(root), n.arg[1]) == n.arg[1] and \
                    n.numel < n.srcs[0].numel:
                # read back only at its own rows by the kernel of its consumer: that kernel loops over each row
                # once per reduction, then writes the row (softmax, log_softmax, layer norm: one kernel)
                log(3, f"{n.arg[0]}{n.shape} runs inside the row kernel of {root.op}{root.shape}")
                row_axes[id(root)] = n.arg[1]
                group[id(n)] = id(root)
            else:
                bound.add(id(n))
                group[id(n)], homes_of[id(n)] = id(n), {id(n)}
            continue
        if len(homes) == 1:
            group[id(n)] = next(iter(homes))
        elif config.fusion and n.op in CHEAP_OPS and not any(id(u) in dup for u in us):
            log(3, f"{n.op}{n.shape} feeds {len(homes)} kernels: recomputed in each")
            dup.add(id(n))
        else:
            log(3, f"{n.op}{n.shape} feeds {len(homes)} kernels: it gets its own buffer")
            bound.add(id(n))
            group[id(n)], homes_of[id(n)] = id(n), {id(n)}
    if config.fusion:
        _fuse_epilogues(order, users, group, bound, set(row_axes))
    return order, bound


PACK_MIN_FLOP = 2**30  # measured on PoCL: 1024^3 77 -> 89 GFLOP/s packed; 512^3 and the MLP's shapes lose


MAX_PAIRS = 8  # matmuls one kernel sums: bounds its source, and the programs a sum of any length needs (<= 3)


def _reads_along_k(x: Node, i: int) -> bool:
    """Matmul operand i (0: A, 1: B) is read contiguously along k (a view is read through its strides)."""
    view = x.op == "VIEW" and x.arg.mask is None and not x.realized
    return (x.arg.strides if view else contiguous_strides(x.shape))[-1 - i] == 1


def sum_matmuls(order, targets) -> bool:
    """Sums of matmuls become one MATMUL node that takes its operands in pairs: A1 @ B1 + A2 @ B2 is a matmul over
    the concatenated k, and its kernel walks each pair's k in turn. An RNN's `x @ W.t() + h @ U.t()` is one kernel
    instead of two, and a weight's gradients, which backward sums over the time steps, one kernel per MAX_PAIRS steps
    (each step's alone was a matmul with k = the batch, ~30% of the RNN's device time).
    Only trees of additions whose every term is a matmul, and whose inner sums and products nothing else in the
    DAG reads: nothing but products is reassociated, and a partial sum read elsewhere (a residual stream's) is
    computed once, not again inside each later sum. The root keeps its identity and value (it becomes the MATMUL,
    or the sum of a few); inner nodes are left as they were. True if it rewrote any sum."""
    # (every such tree has an addition of two products at its bottom; most DAGs have none and cost one pass)
    if not any(n.op == "ADD" and n.srcs[0].op == "MATMUL" and n.srcs[1].op == "MATMUL" for n in order):
        return False
    users: dict[int, int] = {}
    for n in order:
        for s in n.srcs:
            users[id(s)] = users.get(id(s), 0) + 1
    keep, absorbed, changed = {id(t) for t in targets}, set(), False
    for n in reversed(order):  # consumers first: a tree is met at its root
        if n.op != "ADD" or id(n) in absorbed:
            continue
        pairs, inner, stack = [], [], [n.srcs[1], n.srcs[0]]  # terms left to right
        while stack:
            t = stack.pop()
            if users.get(id(t)) != 1 or id(t) in keep or t.buffer is not None or t.op not in ("ADD", "MATMUL"):
                break  # a term that is not a private matmul: this tree stays as it is
            if t.op == "ADD":
                inner.append(t)
                stack += [t.srcs[1], t.srcs[0]]
            else:
                pairs += zip(t.srcs[::2], t.srcs[1::2])
        else:
            by_layout: dict = {}  # (the template's dot-product layout needs every pair of a kernel along k)
            for a, b in pairs:
                by_layout.setdefault((_reads_along_k(a, 0), _reads_along_k(b, 1)), []).append((a, b))
            chunks = [ps[i:i + MAX_PAIRS] for ps in by_layout.values() for i in range(0, len(ps), MAX_PAIRS)]
            flat = lambda ps: tuple(x for pair in ps for x in pair)  # noqa: E731
            if len(chunks) == 1:
                n.op, n.srcs, n.depth = "MATMUL", flat(chunks[0]), 0
            else:
                parts = [Node("MATMUL", flat(c), n.shape, n.dtype, n.device) for c in chunks]
                acc = parts[0]
                for part in parts[1:-1]:
                    acc = Node("ADD", (acc, part), n.shape, n.dtype, n.device)
                n.srcs = (acc, parts[-1])
            absorbed.update(id(t) for t in inner)
            changed = True
            if config.debug >= 3:
                log(3, f"a sum of {len(pairs)} matmuls{n.shape} runs as {len(chunks)} kernel(s)")
    return changed


def _pack_operands(order) -> bool:
    """A large float32 matmul on a vector device reads an operand that is not contiguous along k through a copy
    that is (BLAS calls it packing): A copied as it is, B copied transposed, each by a kernel of its own. With both
    operands contiguous along k the template runs its dot-product layout instead of walking B's rows a page apart,
    where they all fall into one set of the L1 cache; a copy reads and writes its operand once. True if it
    rewrote any matmul."""
    packed: dict = {}  # (id(operand), which) -> its packed node: an operand shared by matmuls is copied once
    for n in order:
        if n.op != "MATMUL" or n.dtype.name != "float32" or not config.fusion or len(n.srcs) > 2:
            continue
        a, b = n.srcs
        *batch, rows, k = a.shape
        w = getattr(n.device.backend, "vector_width", 1)
        if w == 1 or k % w or prod(batch) != 1 or 2 * n.numel * k < PACK_MIN_FLOP:
            continue
        swap = (*range(len(a.shape) - 2), len(a.shape) - 1, len(a.shape) - 2)  # the last two dims exchanged
        srcs = list(n.srcs)
        for i, s in enumerate(srcs):
            # a realized view's buffer is its own, contiguous
            view = s.op == "VIEW" and s.arg.mask is None and not s.realized
            if (s.arg.strides if view else contiguous_strides(s.shape))[-1 - i] == 1:
                continue
            key = (id(s), i)
            if key not in packed:
                src = s if i == 0 else view_of(s, View.contiguous(s.shape).permute(swap))
                copy = Node("CONTIGUOUS", (src,), src.shape, s.dtype, s.device)
                packed[key] = copy if i == 0 else view_of(copy, View.contiguous(copy.shape).permute(swap))
            srcs[i] = packed[key]
        if srcs != list(n.srcs):
            log(3, f"MATMUL{n.shape} reads packed operands")
            n.srcs = tuple(srcs)
    return bool(packed)


def _row_expand(v: Node) -> bool:
    """v broadcasts a lazy value over new axes (as x - x.max(1, keepdim=True) does)."""
    s = v.srcs[0] if v.op == "VIEW" else None
    return s is not None and not s.realized and len(s.shape) == len(v.shape) and v.numel > s.numel and \
        v.arg == View.contiguous(s.shape).expand(v.shape)


def _per_row(s: Node, full_shape) -> bool:
    """s is computed per row from a reduction of a `full_shape` tensor: a row kernel can compute it in place."""
    stack = [s]
    while stack:
        n = stack.pop()
        if n.realized or n.shape != s.shape or n.op in ALWAYS_BOUNDARY or n.op == "VIEW":
            continue
        if n.op == "REDUCE":
            if n.srcs[0].shape == tuple(full_shape):
                return True
            continue
        stack.extend(n.srcs)
    return False


def _fuse_epilogues(order, users, group, bound, taken) -> None:
    """A reduction or matmul whose one consumer is elementwise at the same index (no view in between) runs that
    consumer's kernel as its epilogue: `relu(x @ w + b)` and `x.sum(1) * 2` are one kernel each."""
    by_id = {id(n): n for n in order}
    for r in order:
        us = users.get(id(r), [])
        if r.op not in ("REDUCE", "MATMUL") or id(r) not in bound or len(us) != 1 or r.realized:
            continue
        root = by_id.get(group.get(id(us[0]), -1))
        if root is None or root.op in (*ALWAYS_BOUNDARY, "REDUCE", "VIEW") or root.numel != r.numel or \
                id(root) in taken or not _plain_path(root, r, bound):
            continue
        if r.op == "MATMUL" and root.dtype.name != "float32" and root.dtype != r.dtype:
            continue
        log(3, f"{r.op}{r.shape} fuses into its consumer {root.op} as an epilogue")
        bound.discard(id(r))
        taken.add(id(root))


def _plain_path(root, r, bound) -> bool:
    """r is reached from root through elementwise nodes only, so it is read at the kernel's output index."""
    stack, seen = [root], set()
    while stack:
        n = stack.pop()
        if n is r:
            return True
        if id(n) in seen or n.realized or (n is not root and id(n) in bound):
            continue
        reshape = n.op == "VIEW" and n.arg.is_contiguous and n.numel == n.srcs[0].numel  # keeps the linear index
        if n.op == "VIEW" and not reshape:
            continue
        seen.add(id(n))
        stack.extend(n.srcs)
    return False


def schedule(targets) -> list[Kernel]:
    from .codegen import lower

    order, bound = boundaries([t for t in targets if not t.realized], pack=True)
    kernels = [lower(n, bound) for n in order if id(n) in bound and n.op not in ("BUFFER",)]
    return _merge_outputs(kernels, order, bound) if config.fusion else kernels


def _merge_outputs(kernels, order, bound) -> list[Kernel]:
    """An elementwise kernel whose result only one later elementwise kernel of the same size reads (at the same
    index) runs inside that kernel, which stores both: an optimizer's new momentum and new weight, one kernel."""
    from .codegen import lower

    readers: dict[int, list] = {}
    for k in kernels:
        for i in k.inputs:
            readers.setdefault(id(i), []).append(k)
    merged: set = set()
    for ka in list(kernels):
        if id(ka) in merged:  # already merged into a later kernel
            continue
        a = ka.out
        kb = readers.get(id(a), [None])[0] if len(readers.get(id(a), ())) == 1 else None
        if ka.kind != "elementwise" or kb is None or kb.kind != "elementwise" or kb.out.numel != a.numel or \
                a.device != kb.out.device or not _read_at_index(kb.out, a, bound):
            continue
        bound.discard(id(a))
        new = lower(kb.out, bound)
        new.outs = [*kb.outs, a, *ka.outs]
        log(3, f"{a.op}{a.shape} is stored by the kernel that reads it ({new.name})")
        kernels[kernels.index(kb)] = new
        kernels.remove(ka)
        merged.update((id(ka), id(kb)))
        for k in (ka, kb):  # the merged kernel reads what both read, except a
            for i in k.inputs:
                readers[id(i)] = [x for x in readers.get(id(i), []) if x is not k]
        for i in new.inputs:
            readers.setdefault(id(i), []).append(new)
    return kernels


def _read_at_index(root: Node, a: Node, bound) -> bool:
    """Every read of `a` in root's kernel is at the kernel's output index (no view on the way)."""
    stack, seen, found = [(root, False)], set(), False
    while stack:
        n, moved = stack.pop()
        if n is a:
            if moved:
                return False
            found = True
            continue
        if (id(n), moved) in seen or n.realized or (n is not root and id(n) in bound):
            continue
        seen.add((id(n), moved))
        reshape = n.op == "VIEW" and n.arg.is_contiguous and n.numel == n.srcs[0].numel
        stack.extend((s, moved or n.op == "VIEW" and not reshape) for s in n.srcs)
    return found


def run(kernels) -> None:
    from . import debug
    from .codegen import dynamic_args

    for k in kernels:
        backend = k.out.device.backend
        outs = [k.out, *k.outs]
        bufs = [backend.buffer(o.numel * o.dtype.itemsize) for o in outs]
        if k.kind == "setview":  # writes through a view into a copy of the base: start from the base's values
            backend.copy_buffer(k.inputs[0].buffer.handle, bufs[0].handle, bufs[0].nbytes)
        if k.out.numel:
            prog = backend.compiled(k)
            args = [b.handle for b in bufs] + [i.buffer.handle for i in k.inputs] + [_scalar(a) for a in k.args]
            if prog.source is not None:
                args += [np.int32(v) for *_, v in dynamic_args(k)]
            debug.record(k.name, k.kind, prog, backend)
            backend.launch(prog.handle, args, prog.global_size, prog.local_size)
        for o, b in zip(outs, bufs):
            o.buffer, o.srcs = b, ()  # drop the sources so the graph behind a realized node can be freed


def _scalar(n: Node):
    """A kernel's scalar argument as the numpy type of its C parameter (halves compute in float)."""
    return (np.float32 if n.dtype.name == "float16" else n.dtype.np)(n.arg)


def _alias_source(n: Node) -> Node | None:
    """A reshape of a contiguous result reads the same bytes: it can share the source's buffer, no copy kernel."""
    if n.op == "VIEW" and not n.realized and n.arg.is_contiguous and n.numel == n.srcs[0].numel:
        return n.srcs[0]
    return None


# ---------------------------------------------------------------- plans: a schedule kept per DAG structure
# A training step records the same DAG every step, with new nodes. Its schedule depends only on the DAG's structure
# (ops, shapes, dtypes, the static part of views and constants, which nodes are already buffers), so it is worked
# out once and replayed: a replay allocates buffers and launches programs, with no fusion pass and no rendering.

PLAN_CACHE_SIZE = 256


@dataclass(frozen=True)
class Launch:
    """One kernel of a plan. Nodes are slots: a position in the DAG's topological order, or ~j for its j-th
    buffer leaf. `dynamic` holds (slot of a view, position in its dynamic() values)."""

    backend: object
    program: object  # None for an empty output: buffers, no launch
    name: str
    kind: str
    outs: tuple
    inputs: tuple
    args: tuple
    dynamic: tuple


_plans: dict = {}


def signature(targets, order=None) -> tuple[list[Node], list[Node], tuple]:
    """(the DAG's unrealized nodes in topological order, the buffers they read, a hashable key of its structure)."""
    order = toposort(targets) if order is None else order
    slot = {id(n): i for i, n in enumerate(order)}
    leaves: list[Node] = []
    key = [config.fusion, tuple(slot[id(t)] for t in targets), tuple(str(t.device) for t in targets)]
    for n in order:  # (runs for every node of every realize: kept to plain lookups)
        srcs = []
        for s in n.srcs:
            j = slot.get(id(s))
            if j is None:  # a buffer: its shape and dtype are part of the structure, its contents are not
                slot[id(s)] = j = ~len(leaves)
                leaves.append(s)
                key.append((s.shape, s.dtype))
            srcs.append(j)
        op = n.op
        static = n.arg if op != "VIEW" and op != "ARG" else None if op == "ARG" else (n.arg.pattern(),
                                                                                        n.arg.mask is None)
        key.append((op, n.shape, n.dtype, static, tuple(srcs), n.depth % MAX_CHAIN == 0 < n.depth))
    return order, leaves, tuple(key)


def _plan(kernels, order, leaves) -> list[Launch] | None:
    """The kernels as launches over slots, or None where a kernel reads a node the DAG did not have (a packed
    operand) or a backend interprets kernel objects itself."""
    from .codegen import dynamic_args

    slot = {id(n): i for i, n in enumerate(order)}
    slot.update({id(n): ~j for j, n in enumerate(leaves)})
    plan = []
    for k in kernels:
        backend = k.out.device.backend
        views = [n for n, *_ in dynamic_args(k)]
        if backend.dialect is None or any(id(n) not in slot for n in [k.out, *k.outs, *k.inputs, *k.args, *views]):
            return None
        dyn, pos = [], {}
        for n in views:
            i = pos[id(n)] = pos.get(id(n), -1) + 1
            dyn.append((slot[id(n)], i))
        s = lambda ns: tuple(slot[id(n)] for n in ns)  # noqa: E731
        plan.append(Launch(backend, backend.compiled(k) if k.out.numel else None, k.name, k.kind,
                           s([k.out, *k.outs]), s(k.inputs), s(k.args), tuple(dyn)))
    return plan


def replay(plan: list[Launch], order: list[Node], leaves: list[Node]) -> None:
    """run() for a plan worked out before, over a new DAG of the same structure."""
    from . import debug

    nodes = order + leaves[::-1]  # slot ~j is index -1 - j
    for launch in plan:
        backend = launch.backend
        outs = [nodes[i] for i in launch.outs]
        bufs = [backend.buffer(o.numel * o.dtype.itemsize) for o in outs]
        if launch.kind == "setview":
            backend.copy_buffer(nodes[launch.inputs[0]].buffer.handle, bufs[0].handle, bufs[0].nbytes)
        prog = launch.program
        if prog is not None:
            args = [b.handle for b in bufs] + [nodes[i].buffer.handle for i in launch.inputs]
            args += [_scalar(nodes[i]) for i in launch.args]
            args += [np.int32(nodes[i].arg.dynamic()[j][2]) for i, j in launch.dynamic]
            debug.record(launch.name, launch.kind, prog, backend)
            backend.launch(prog.handle, args, prog.global_size, prog.local_size)
        for o, b in zip(outs, bufs):
            o.buffer, o.srcs = b, ()


def realize(*nodes) -> None:
    aliases = [(n, _alias_source(n)) for n in nodes]
    targets = [src or n for n, src in aliases]
    targets = list({id(t): t for t in targets if not t.realized}.values())
    if targets:
        order = toposort(targets)
        if config.fusion and sum_matmuls(order, targets):  # (before the key: plans see the merged sums)
            order = toposort(targets)
        order, leaves, key = signature(targets, order)
        plan = _plans.get(key)
        if plan is not None:
            replay(plan, order, leaves)
        else:
            kernels = schedule(targets)
            for k in kernels:
                log(2, f"kernel {k.name}: fuses {len(k.fused)} nodes, reads {len(k.inputs)} buffers")
            plan = _plan(kernels, order, leaves)
            run(kernels)
            if plan is not None and PLAN_CACHE_SIZE:
                if len(_plans) >= PLAN_CACHE_SIZE:  # the oldest goes
                    del _plans[next(iter(_plans))]
                _plans[key] = plan
    for n, src in aliases:
        if src is not None:
            n.buffer, n.srcs = src.buffer, ()
