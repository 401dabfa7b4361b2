"""gradc.nn.init: fill tensors in place with PyTorch's initialization schemes.

Numbers come from gradc.rand/randn (a seed gives the same numbers on every device). They are drawn and scaled on
the numpy reference device and then uploaded, so initializing compiles no kernel; the tensor takes the new value as
`tensor.data = value` would (the same object, as an in-place fill under no_grad)."""
from __future__ import annotations

import math
import warnings

from ..autograd import no_grad
from ..random import rand, randn
from ..tensor import Tensor, full

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_", "eye_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_"]


def _assign(tensor: Tensor, value: Tensor) -> Tensor:
    with no_grad():
        value = value.to(tensor.dtype)
        if value.device != tensor.device:
            value = value.to(tensor.device)
        tensor.data = value
    return tensor


def calculate_gain(nonlinearity, param=None):
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    return _assign(tensor, rand(tensor.shape, device="cpu") * (b - a) + a)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    return _assign(tensor, randn(tensor.shape, device="cpu") * std + mean)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Inverse-CDF sampling as torch does: uniform in [cdf(a), cdf(b)], then erfinv (on the host, at init time)."""
    import numpy as np

    def cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    lo, hi = cdf((a - mean) / std), cdf((b - mean) / std)
    u = rand(tensor.shape, device="cpu")._to_numpy().astype(np.float64) * (hi - lo) + lo
    u = np.clip(2 * u - 1, -1 + 1e-7, 1 - 1e-7)
    # erfinv by Newton steps on erf (init time only; math.erf per element is fine for parameter sizes)
    erf = np.vectorize(math.erf)
    x = np.zeros_like(u)
    for _ in range(50):
        x = x - (erf(x) - u) / (2 / math.sqrt(math.pi) * np.exp(-x * x))
    vals = np.clip(x * std * math.sqrt(2.0) + mean, a, b)
    from ..tensor import tensor as _t

    return _assign(tensor, _t(vals.astype(np.float32), device="cpu"))


def constant_(tensor, val):
    return _assign(tensor, full(tuple(tensor.shape), val, dtype=tensor.dtype, device="cpu"))


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def eye_(tensor):
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    from ..tensor import eye

    return _assign(tensor, eye(tensor.shape[0], tensor.shape[1], device="cpu"))


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))


def orthogonal_(tensor, gain=1, generator=None):
    import numpy as np

    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    rows, cols = tensor.shape[0], tensor.numel() // tensor.shape[0]
    flat = randn(rows, cols, device="cpu")._to_numpy().astype(np.float64)
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    from ..tensor import tensor as _t

    return _assign(tensor, _t((gain * q).reshape(tuple(tensor.shape)).astype(np.float32), device="cpu"))


# the deprecated non-underscore names
uniform, normal, constant = uniform_, normal_, constant_
xavier_uniform, xavier_normal = xavier_uniform_, xavier_normal_
kaiming_uniform, kaiming_normal = kaiming_uniform_, kaiming_normal_
