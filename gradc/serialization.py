"""gradc.save / gradc.load in the safetensors format (never pickle).

A flat {name: Tensor} dict (a model's state_dict) is written as a plain safetensors file, so other safetensors
readers (safetensors.torch.load_file, say) open it directly. Anything else made of dicts, lists, tuples, numbers,
strings, None and Tensors (an optimizer's state_dict, a checkpoint bundling several) is written with its tensors as
entries and its structure as JSON in the file's metadata, and comes back as it went in."""
from __future__ import annotations

import json
import os

import numpy as np

from . import dtypes as dt
from .tensor import Tensor, tensor

_TREE, _ORDER = "gradc.tree", "gradc.order"


def _tensor(a: np.ndarray, device) -> Tensor:
    # gradc.tensor currently turns a 0-d array into shape (1,) (np.ascontiguousarray in tensor._leaf): reshape back
    t = tensor(a.reshape(-1) if a.ndim == 0 else a, dtype=dt.from_numpy(a.dtype), device=device)
    return t.reshape(()) if a.ndim == 0 else t


def _np(t: Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach()._to_numpy())


def _encode(obj, arrays: dict):
    if isinstance(obj, Tensor):
        key = f"t{len(arrays)}"
        arrays[key] = _np(obj)
        return {"$t": key}
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (int, float)):
        if isinstance(obj, float) and not np.isfinite(obj):
            return {"$f": repr(obj)}
        return obj
    if isinstance(obj, (np.integer, np.floating)):
        return _encode(obj.item(), arrays)
    if isinstance(obj, np.ndarray):
        key = f"t{len(arrays)}"
        arrays[key] = np.ascontiguousarray(obj)
        return {"$a": key}
    if isinstance(obj, dict):
        return {"$d": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"$l" if isinstance(obj, list) else "$tu": [_encode(v, arrays) for v in obj]}
    raise TypeError(f"gradc.save stores tensors, numbers, strings, None and dicts/lists/tuples of them (safetensors, "
                    f"no pickle); got {type(obj).__name__}")


def _decode(obj, arrays: dict, device):
    if isinstance(obj, dict):
        if "$t" in obj:
            return _tensor(arrays[obj["$t"]], device)
        if "$a" in obj:
            return arrays[obj["$a"]]
        if "$f" in obj:
            return float(obj["$f"])
        if "$d" in obj:
            return {_decode(k, arrays, device): _decode(v, arrays, device) for k, v in obj["$d"]}
        if "$l" in obj:
            return [_decode(v, arrays, device) for v in obj["$l"]]
        if "$tu" in obj:
            return tuple(_decode(v, arrays, device) for v in obj["$tu"])
    return obj


def save(obj, f, metadata: dict | None = None) -> None:
    """Write `obj` to the path `f` (str or os.PathLike) in the safetensors format."""
    from safetensors.numpy import save_file

    path = os.fspath(f)
    if isinstance(obj, dict) and obj and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
        arrays = {k: _np(v) for k, v in obj.items()}
        # safetensors sorts its entries by name: the original order goes in the metadata
        save_file(arrays, path, metadata={"format": "pt", _ORDER: json.dumps(list(obj)), **(metadata or {})})
        return
    arrays: dict = {}
    tree = _encode(obj, arrays)
    save_file(arrays, path, metadata={"format": "gradc", _TREE: json.dumps(tree), **(metadata or {})})


def load(f, map_location=None, weights_only=True, mmap=None):
    """Read what `save` wrote (or any safetensors file: a {name: Tensor} dict), onto `map_location` (a device or
    device string; the default device when None)."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    path = os.fspath(f)
    if callable(map_location) or isinstance(map_location, dict):
        raise NotImplementedError("gradc.load takes a device (or None) as map_location")
    with safe_open(path, framework="numpy") as fh:
        meta = fh.metadata() or {}
    arrays = load_file(path)
    if _TREE in meta:
        return _decode(json.loads(meta[_TREE]), arrays, map_location)
    keys = json.loads(meta[_ORDER]) if _ORDER in meta else list(arrays)
    keys = keys if sorted(keys) == sorted(arrays) else list(arrays)
    return {k: _tensor(arrays[k], map_location) for k in keys}
