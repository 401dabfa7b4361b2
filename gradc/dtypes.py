"""dtypes and PyTorch's type promotion for the six supported types."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class dtype:
    name: str
    np: type  # numpy storage type
    itemsize: int
    kind: str  # 'b' bool, 'i' integer, 'f' floating
    rank: int  # position in the promotion lattice within its kind

    @property
    def is_floating_point(self) -> bool:
        return self.kind == "f"

    def __repr__(self) -> str:
        return f"gradc.{self.name}"

    def __reduce__(self):  # dtypes are singletons; copies must come back as the same object
        return self.name


bool_ = dtype("bool", np.bool_, 1, "b", 0)
int32 = dtype("int32", np.int32, 4, "i", 1)
int64 = dtype("int64", np.int64, 8, "i", 2)
float16 = dtype("float16", np.float16, 2, "f", 1)
float32 = dtype("float32", np.float32, 4, "f", 2)
float64 = dtype("float64", np.float64, 8, "f", 3)

ALL = (bool_, int32, int64, float16, float32, float64)
_BY_NP = {np.dtype(d.np): d for d in ALL}
_KIND_ORDER = {"b": 0, "i": 1, "f": 2}
_DEFAULT_FLOAT = float32


def get_default_dtype() -> dtype:
    return _DEFAULT_FLOAT


def from_numpy(npdtype) -> dtype:
    npdtype = np.dtype(npdtype)
    if npdtype in _BY_NP:
        return _BY_NP[npdtype]
    # narrower or unsigned integers widen to the nearest supported type, as torch.tensor() would store them
    if npdtype.kind in "iu":
        return int64 if npdtype.itemsize >= 4 or npdtype.kind == "u" else int32
    raise TypeError(f"can't convert numpy array of type {npdtype}: gradc supports {', '.join(d.name for d in ALL)}")


def to_dtype(d) -> dtype:
    """Accept a gradc dtype, a numpy dtype, a Python type or a name."""
    if isinstance(d, dtype):
        return d
    if d is float:
        return float32
    if d is int:
        return int64
    if d is bool:
        return bool_
    if isinstance(d, str):
        for x in ALL:
            if x.name == d:
                return x
        raise TypeError(f"unknown dtype {d!r}")
    try:  # torch dtypes (when a user mixes the two) and numpy types
        return from_numpy(np.dtype(str(d).replace("torch.", "")))
    except TypeError:
        raise
    except Exception:
        raise TypeError(f"unknown dtype {d!r}") from None


def promote(a: dtype, b: dtype) -> dtype:
    """torch.promote_types for the supported dtypes: higher kind wins, then the wider type."""
    if a is b:
        return a
    ka, kb = _KIND_ORDER[a.kind], _KIND_ORDER[b.kind]
    if ka != kb:
        return a if ka > kb else b
    return a if a.rank >= b.rank else b


def scalar_dtype(x) -> dtype:
    """The dtype a Python scalar would have as a tensor."""
    if isinstance(x, (bool, np.bool_)):
        return bool_
    if isinstance(x, (int, np.integer)):
        return int64
    return _DEFAULT_FLOAT


def result_type(tensor_dtype: dtype, scalar) -> dtype:
    """A Python scalar only changes the result's dtype when it is of a higher kind (torch's wrapped-number rule)."""
    sd = scalar_dtype(scalar)
    if _KIND_ORDER[sd.kind] > _KIND_ORDER[tensor_dtype.kind]:
        return sd
    return tensor_dtype
