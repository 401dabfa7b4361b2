"""gradc: PyTorch's programming model on a small compiler that fuses ops into OpenCL C or CUDA C kernels."""
__version__ = "0.1.0"

import os as _os

# In a source checkout backends/ and templates/ sit beside this package (installed, they live inside it as
# gradc.backends and gradc.templates): let `python -c "import gradc"` from the checkout find them there too.
_here = _os.path.dirname(__file__)
if not _os.path.isdir(_os.path.join(_here, "backends")) and _os.path.isfile(
        _os.path.join(_here, _os.pardir, "backends", "opencl.py")):
    __path__.append(_os.path.join(_here, _os.pardir))

from . import autograd, debug  # noqa: E402
from . import indexing as _indexing  # noqa: E402  (attaches gather, scatter_add, index_add, ...)
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: E402
from .device import default_device as get_default_device  # noqa: E402
from .device import device, devices, set_default_device  # noqa: E402
from .dtypes import bool_ as bool  # noqa: E402,A001
from .dtypes import dtype, float16, float32, float64, get_default_dtype, int32, int64  # noqa: E402
from .errors import KernelBuildError  # noqa: E402
from .functional import *  # noqa: E402,F401,F403
from .functional import __all__ as _functional_all  # noqa: E402
from .tensor import (  # noqa: E402
    Size,
    Tensor,
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    realize,
    synchronize,
    tensor,
    where,
    zeros,
    zeros_like,
)

half, double, long = float16, float64, int64
float, int = float32, int32  # noqa: A001

from . import nn, optim  # noqa: E402
from .random import manual_seed, rand, randint, randn, randperm  # noqa: E402
from .serialization import load, save  # noqa: E402
