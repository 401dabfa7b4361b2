"""Inspection: record launched kernels, dump generated sources, print the DAG as Graphviz DOT."""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from . import schedule


@dataclass
class KernelRecord:
    name: str
    source: str | None
    backend: str
    global_size: tuple
    local_size: tuple
    kind: str


_recorders: list[list] = []


@contextlib.contextmanager
def kernels():
    """`with gradc.debug.kernels() as ks:` collects a KernelRecord for every kernel launched inside the block."""
    ks: list[KernelRecord] = []
    _recorders.append(ks)
    try:
        yield ks
    finally:
        _recorders.remove(ks)


@contextlib.contextmanager
def fusion(enabled: bool):
    """Turn fusion off (every op its own kernel) or on inside a block; results must not change."""
    old, schedule.config.fusion = schedule.config.fusion, enabled
    try:
        yield
    finally:
        schedule.config.fusion = old


def record(name, kind, prog, backend) -> None:
    if _recorders or schedule.config.debug >= 1:
        rec = KernelRecord(name, prog.source, backend.name, prog.global_size, prog.local_size, kind)
        for ks in _recorders:
            ks.append(rec)
        schedule.log(1, f"launch {rec.name} on {rec.backend} global={rec.global_size} local={rec.local_size}")


def built(name: str, source: str) -> None:
    """Called once per newly built program: honours GRADC_DUMP_DIR and GRADC_DEBUG=4."""
    dump = os.environ.get("GRADC_DUMP_DIR")
    if dump:
        path = Path(dump)
        path.mkdir(parents=True, exist_ok=True)
        ext = ".cu" if "__global__" in source else ".cl"
        (path / f"{name}{ext}").write_text(source)
    if schedule.config.debug >= 4:
        print(f"gradc: source of {name}:\n{source}", file=sys.stderr)


def to_dot(tensor) -> str:
    """The recorded DAG behind a tensor as Graphviz DOT; nodes that would fuse into one kernel share a cluster."""
    root = tensor._node if hasattr(tensor, "_node") else tensor
    order, bound = schedule.boundaries([root])
    ids = {id(n): f"n{i}" for i, n in enumerate(order)}
    # each node belongs to the kernel of its nearest boundary consumer
    home: dict[int, int] = {}
    users: dict[int, list] = {}
    for n in order:
        for s in n.srcs:
            users.setdefault(id(s), []).append(n)
    for n in reversed(order):
        home[id(n)] = id(n) if id(n) in bound else next((home[id(u)] for u in users.get(id(n), [])), id(n))
    lines = ["digraph gradc {", "  rankdir=BT;", "  node [shape=box, fontname=monospace];"]
    clusters: dict[int, list] = {}
    for n in order:
        clusters.setdefault(home[id(n)], []).append(n)
    for c, members in enumerate(clusters.values()):
        lines.append(f"  subgraph cluster_{c} {{ label=\"kernel {c}\"; style=rounded;")
        for n in members:
            lines.append(f"    {ids[id(n)]} [label=\"{n.op} {list(n.shape)} {n.dtype.name}\"];")
        lines.append("  }")
    for n in order:
        for s in n.srcs:
            src = ids.get(id(s))
            if src is None:
                ids[id(s)] = src = f"b{len(ids)}"
                lines.append(f"  {src} [label=\"buffer {list(s.shape)} {s.dtype.name}\", shape=ellipse];")
            lines.append(f"  {src} -> {ids[id(n)]};")
    lines.append("}")
    return "\n".join(lines)
