"""gradc.nn.functional: activations, losses and layers as compositions of Tensor ops (so they fuse, and their
gradients come from the primitives' rules). Convolutions and pooling unfold the input by strided slicing."""
from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from .. import dtypes as dt
from ..autograd import no_grad
from ..functional import stack
from ..random import rand
from ..tensor import Tensor, arange, ones, realize, tensor, where

__all__ = [
    "relu", "relu_", "relu6", "leaky_relu", "elu", "gelu", "silu", "softplus", "logsigmoid", "hardtanh", "sigmoid",
    "tanh", "softmax", "log_softmax", "softmin", "linear", "bilinear", "dropout", "cross_entropy", "nll_loss",
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "layer_norm", "batch_norm", "embedding", "one_hot", "pad", "conv1d", "conv2d",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "normalize", "cosine_similarity",
]


def _pair(v, n=2) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _host(t: Tensor) -> np.ndarray:
    """Values the host must know to validate (class labels, indices): inputs are data, so this is cheap."""
    return t.detach()._to_numpy()


# ---------------------------------------------------------------- activations


def relu(input, inplace=False):
    return input.relu_() if inplace else input.relu()


def relu_(input):
    return input.relu_()


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    # no gradient at the bounds themselves, as torch
    out = where(input <= min_val, min_val, where(input >= max_val, max_val, input))
    return input.copy_(out) if inplace else out


def leaky_relu(input, negative_slope=0.01, inplace=False):
    out = where(input > 0, input, input * negative_slope)
    return input.copy_(out) if inplace else out


def elu(input, alpha=1.0, inplace=False):
    out = where(input > 0, input, (input.clamp(max=0).exp() - 1) * alpha)
    return input.copy_(out) if inplace else out


def silu(input, inplace=False):
    out = input * input.sigmoid()
    return input.copy_(out) if inplace else out


def _softplus(x):
    """log(1 + e^x) without overflow, and with torch's gradient sigmoid(x) everywhere (0.5 at 0): each branch of
    the where is evaluated on inputs clamped to its own side, so neither overflows nor kinks at 0."""
    pos = x.clamp(min=0.0)
    neg = x.clamp(max=0.0)
    return where(x > 0, pos + ((-pos).exp() + 1).log(), (neg.exp() + 1).log())


def softplus(input, beta=1.0, threshold=20.0):
    soft = _softplus(input * beta) / beta if beta != 1 else _softplus(input)
    return where(input * beta > threshold, input, soft)  # linear above the threshold, as torch


def logsigmoid(input):
    return -_softplus(-input)


def _erf(x: Tensor) -> Tensor:
    """erf from exp and arithmetic (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7): there is no erf primitive."""
    a = x.abs()
    t = 1 / (a * 0.3275911 + 1)
    poly = ((((t * 1.061405429 - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
    return x.sign() * (1 - poly * (-(a * a)).exp())


def gelu(input, approximate="none"):
    if approximate == "tanh":
        return input * 0.5 * (((input + input * input * input * 0.044715) * math.sqrt(2 / math.pi)).tanh() + 1)
    if approximate != "none":
        raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return input * 0.5 * (_erf(input * (1 / math.sqrt(2))) + 1)


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def _softmax_dim(ndim, stacklevel=3) -> int:
    warnings.warn("Implicit dimension choice for softmax has been deprecated. Change the call to include dim=X as an "
                  "argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    return input.softmax(_softmax_dim(input.ndim) if dim is None else dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return softmax(-input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return input.log_softmax(_softmax_dim(input.ndim) if dim is None else dim, dtype=dtype)


# ---------------------------------------------------------------- linear layers


def linear(input, weight, bias=None):
    out = input.matmul(weight.t())
    return out if bias is None else out + bias


def bilinear(input1, input2, weight, bias=None):
    # out[..., o] = sum_ij x1_i W[o, i, j] x2_j
    out = (input1.unsqueeze(-2).unsqueeze(-2).matmul(weight).squeeze(-2) * input2.unsqueeze(-2)).sum(-1)
    return out if bias is None else out + bias


def dropout(input, p=0.5, training=True, inplace=False):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        out = input * 0.0
    else:
        keep = rand(input.shape, device=input.device) >= p
        out = input * (keep.to(input.dtype) * (1.0 / (1.0 - p)))
    return input.copy_(out) if inplace else out


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("gradc's embedding does not implement max_norm, scale_grad_by_freq or sparse")
    if input.dtype.kind not in "iu":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.dtype} instead (while checking arguments for embedding)")
    n = weight.shape[0]
    idx = _host(input)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError("index out of range in self")
    out = weight[input]
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += n
        # the row is read as it is but receives no gradient, as in torch
        out = where((input == padding_idx).unsqueeze(-1), out.detach(), out)
    return out


def one_hot(tensor, num_classes=-1):
    if tensor.dtype is not dt.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    vals = _host(tensor)
    if num_classes == -1:
        if vals.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(vals.max()) + 1
    if vals.size and vals.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if vals.size and vals.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return (tensor.unsqueeze(-1) == arange(num_classes, device=tensor.device)).to(dt.int64)


def _pad_index(n, lo, hi, mode) -> np.ndarray:
    i = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "circular":
        return i % n
    if mode == "reflect":
        if lo >= n or hi >= n:
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, but "
                               f"got: padding ({lo}, {hi}) at dimension of input {n}")
        i = np.abs(i)
        return np.where(i > n - 1, 2 * (n - 1) - i, i)
    raise NotImplementedError(f"gradc's pad does not implement mode={mode!r}")


def pad(input, pad, mode="constant", value=None):
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError("Padding length too large")
    pairs = {input.ndim - 1 - k: (pad[2 * k], pad[2 * k + 1]) for k in range(len(pad) // 2)}
    x = input
    if mode == "constant":
        for d, (lo, hi) in pairs.items():  # negative widths crop
            if lo < 0 or hi < 0:
                start, stop = max(-lo, 0), x.shape[d] - max(-hi, 0)
                x = x.narrow(d, start, stop - start)
        grow = {d: (max(lo, 0), max(hi, 0)) for d, (lo, hi) in pairs.items()}
        out = x.pad_dims(grow)
        if value:  # the padded border takes `value`: add it where a padded ones-tensor is zero
            with no_grad():
                border = 1 - ones(x.shape, dtype=x.dtype, device=x.device).pad_dims(grow)
            out = out + border * value
        return out
    for d, (lo, hi) in pairs.items():  # replicate / reflect / circular: an index per output position
        if lo or hi:
            idx = tensor(_pad_index(x.shape[d], lo, hi, mode), device=x.device)
            x = x[(slice(None),) * d + (idx,)]
    return x


# ---------------------------------------------------------------- normalization


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape [*, "
                           f"{', '.join(map(str, shape))}], but got input of size{list(input.shape)}")
    dims = tuple(range(input.ndim - k, input.ndim))
    mean = input.mean(dims, keepdim=True)
    d = input - mean
    var = (d * d).mean(dims, keepdim=True)
    out = d * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5,
               _num_batches_tracked=None):
    """Normalizes over every dim but 1. In training, updates running_mean/running_var in place (unbiased variance)
    and realizes them at once, so their lazy history does not grow from step to step."""
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    dims = (0,) + tuple(range(2, input.ndim))
    shape = (1, c) + (1,) * (input.ndim - 2)
    if training:
        n = input.numel() // c
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
        mean = input.mean(dims, keepdim=True)
        d = input - mean
        var = (d * d).mean(dims, keepdim=True)
        if running_mean is not None or running_var is not None:
            with no_grad():
                m = momentum
                if m is None:  # cumulative moving average
                    m = 1.0 / float(_num_batches_tracked) if _num_batches_tracked is not None else 0.0
                if running_mean is not None:
                    running_mean.mul_(1.0 - m).add_(mean.detach().reshape(c) * m)
                if running_var is not None:
                    running_var.mul_(1.0 - m).add_(var.detach().reshape(c) * (m * n / (n - 1)))
                realize(*[t for t in (running_mean, running_var) if t is not None])
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm in evaluation mode needs running_mean and running_var")
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
        d = input - mean
    out = d * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    if p == 2:
        norm = (input * input).sum(dim, keepdim=True).sqrt()
    elif p == 1:
        norm = input.abs().sum(dim, keepdim=True)
    else:
        norm = input.abs().pow(p).sum(dim, keepdim=True).pow(1.0 / p)
    return input / norm.clamp(min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    n1 = (x1 * x1).sum(dim).sqrt().clamp(min=eps)
    n2 = (x2 * x2).sum(dim).sqrt().clamp(min=eps)
    return (x1 * x2).sum(dim) / (n1 * n2)


# ---------------------------------------------------------------- losses


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _legacy(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    d = input - target
    loss = d * d
    return _reduce(loss if weight is None else loss * weight, _legacy(size_average, reduce, reduction))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    loss = (input - target).abs()
    return _reduce(loss if weight is None else loss * weight, _legacy(size_average, reduce, reduction))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    d = (input - target).abs()
    loss = d - 0.5 * beta if beta == 0 else where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, _legacy(size_average, reduce, reduction))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    d = (input - target).abs()
    loss = where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    return _reduce(loss if weight is None else loss * weight, reduction)


def _class_last(input):
    """(N, C, d1, ...) -> (N, d1, ..., C): the class dim last, so a one-hot mask along it picks the targets."""
    return input.permute(0, *range(2, input.ndim), 1) if input.ndim > 2 else input


def _check_targets(target, n_classes, ignore_index) -> bool:
    """Raises for a class index out of range; True if some target is ignore_index."""
    if target.dtype.kind not in "iu":
        raise RuntimeError(f"expected scalar type Long but found {target.dtype.name.capitalize()}")
    t = _host(target)
    ignored = t == ignore_index
    bad = t[((t < 0) | (t >= n_classes)) & ~ignored]
    if bad.size:
        raise IndexError(f"Target {bad.flat[0]} is out of bounds.")
    return bool(ignored.any())


@functools.lru_cache(maxsize=16)
def _classes(n, device) -> Tensor:
    """0..n-1 on a device, made once: the one-hot compare of every loss call reads the same buffer."""
    return arange(n, device=device)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    reduction = _legacy(size_average, reduce, reduction)
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if input.ndim == 1:  # unbatched: (C,) with a 0-d target
        out = nll_loss(input.unsqueeze(0), target.reshape(1), weight, None, ignore_index, None, reduction)
        return out.squeeze(0) if reduction == "none" else out
    n_classes = input.shape[1]
    if target.shape[0] != input.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                         f"({target.shape[0]}).")
    some_ignored = _check_targets(target, n_classes, ignore_index)
    x = _class_last(input)
    hot = target.unsqueeze(-1) == _classes(n_classes, input.device)
    picked = where(hot, x, 0.0).sum(-1)
    if weight is None and not some_ignored and reduction in ("mean", "sum"):
        # every target counts once: the mean is over the batch (fewer nodes and kernels than the masks below)
        loss = -picked.sum() if picked.numel() else picked.sum()  # (an empty batch's is 0.0, not -0.0, as torch's)
        return loss / picked.numel() if reduction == "mean" else loss
    w = where(hot, weight, 0.0).sum(-1) if weight is not None else None
    valid = (target != ignore_index).to(input.dtype)
    w = valid if w is None else w * valid
    loss = -picked * w
    if reduction == "mean":
        return loss.sum() / w.sum()
    return _reduce(loss, reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    reduction = _legacy(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    cdim = 1 if input.ndim > 1 else 0
    logp = input.log_softmax(cdim)
    n_classes = input.shape[cdim]
    if target.dtype.is_floating_point:  # class probabilities
        if tuple(target.shape) != tuple(input.shape):
            raise RuntimeError(f"Expected target size {list(input.shape)}, got {list(target.shape)}")
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / n_classes
        wshape = (n_classes,) + (1,) * (input.ndim - cdim - 1)
        prod = logp * target if weight is None else logp * target * weight.reshape(wshape)
        loss = -prod.sum(cdim)
        if reduction == "mean":
            return loss.sum() / (input.numel() // n_classes)
        return _reduce(loss, reduction)
    nll = nll_loss(logp, target, weight, None, ignore_index, None, reduction)
    if label_smoothing <= 0:
        return nll
    # torch's smoothing term: the (weighted) sum of -log p over classes, ignored targets masked, same reduction
    x = _class_last(logp) if logp.ndim > 1 else logp.unsqueeze(0)
    tgt = target if logp.ndim > 1 else target.reshape(1)
    smooth = -(x if weight is None else x * weight).sum(-1)
    valid = (tgt != ignore_index).to(input.dtype)
    smooth = smooth * valid
    if reduction == "mean":
        if weight is None:
            smooth = smooth.sum() / valid.sum()
        else:
            hot = tgt.unsqueeze(-1) == arange(n_classes, device=input.device)
            smooth = smooth.sum() / (where(hot, weight, 0.0).sum(-1) * valid).sum()
    elif reduction == "sum":
        smooth = smooth.sum()
    elif logp.ndim == 1:
        smooth = smooth.squeeze(0)
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}) "
                         "is deprecated. Please ensure they have the same size.")
    # torch clamps the logs at -100 so that 0 and 1 give finite losses
    loss = -(target * input.log().clamp(min=-100.0) + (1 - target) * (1 - input).log().clamp(min=-100.0))
    return _reduce(loss if weight is None else loss * weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    reduction = _legacy(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    log_sig_neg = _softplus(-input)  # -log(sigmoid(x)), stable, with the right gradient at 0
    if pos_weight is not None:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * log_sig_neg
    else:
        loss = (1 - target) * input + log_sig_neg
    return _reduce(loss if weight is None else loss * weight, reduction)


# ---------------------------------------------------------------- convolution and pooling


def _windows(x, kernel, stride, dilation):
    """x: (N, C, H, W), already padded -> (N, C, kh*kw, Ho, Wo): one strided slice per kernel offset, stacked."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    h, w = x.shape[2], x.shape[3]
    ho, wo = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    if ho <= 0 or wo <= 0:
        raise RuntimeError(f"Calculated output size: ({x.shape[1]}x{max(ho, 0)}x{max(wo, 0)}). Output size is too "
                           "small")
    pieces = [x[:, :, i * dh:i * dh + (ho - 1) * sh + 1:sh, j * dw:j * dw + (wo - 1) * sw + 1:sw]
              for i in range(kh) for j in range(kw)]
    return (stack(pieces, 2) if len(pieces) > 1 else pieces[0].unsqueeze(2)), ho, wo


def _padding(padding, kernel, dilation, stride):
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        if any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions")
        return None
    return _pair(padding)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    if x.ndim != 4:
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: "
                           f"{list(input.shape)}")
    o, cg, kh, kw = weight.shape
    n, c = x.shape[0], x.shape[1]
    if c != cg * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
                           f"{list(x.shape)} to have {cg * groups} channels, but got {c} channels instead")
    stride, dilation = _pair(stride), _pair(dilation)
    pads = _padding(padding, (kh, kw), dilation, stride)
    if pads is None:  # 'same': total padding d*(k-1), the extra element on the right as torch
        tot = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
        x = x.pad_dims({2: (tot[0] // 2, tot[0] - tot[0] // 2), 3: (tot[1] // 2, tot[1] - tot[1] // 2)})
    else:
        x = x.pad_dims({2: (pads[0], pads[0]), 3: (pads[1], pads[1])})
    cols, ho, wo = _windows(x, (kh, kw), stride, dilation)  # (N, C, k, Ho, Wo)
    cols = cols.reshape(n, groups, cg * kh * kw, ho * wo)
    w = weight.reshape(groups, o // groups, cg * kh * kw)
    out = w.matmul(cols).reshape(n, o, ho, wo)  # (N, G, O/G, L)
    if bias is not None:
        out = out + bias.reshape(1, o, 1, 1)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    pad1 = padding if isinstance(padding, str) else (0, _pair(padding, 1)[0])
    out = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, _pair(stride, 1)[0]), pad1,
                 (1, _pair(dilation, 1)[0]), groups).squeeze(2)
    return out.squeeze(0) if unbatched else out


def _pool_args(kernel_size, stride, padding, dilation, ceil_mode):
    k = _pair(kernel_size)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else _pair(stride)
    p, d = _pair(padding), _pair(dilation)
    if ceil_mode:
        raise NotImplementedError("gradc's pooling does not implement ceil_mode=True")
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p[0]}, "
                           f"kernel_size={k[0]} and dilation={d[0]}")
    return k, s, p, d


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    if return_indices:
        raise NotImplementedError("gradc's max_pool2d does not implement return_indices=True")
    k, s, p, d = _pool_args(kernel_size, stride, padding, dilation, ceil_mode)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    if any(p):  # pad with -inf: zero padding, then a padded mask marks the border
        grow = {2: (p[0], p[0]), 3: (p[1], p[1])}
        inside = ones(x.shape, dtype=x.dtype, device=x.device).pad_dims(grow) > 0
        x = where(inside, x.pad_dims(grow), -math.inf)
    win, ho, wo = _windows(x, k, s, d)
    out = win.amax(2)
    return out.squeeze(0) if unbatched else out


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    k, s, p, _ = _pool_args(kernel_size, stride, padding, 1, ceil_mode)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    grow = {2: (p[0], p[0]), 3: (p[1], p[1])}
    win, ho, wo = _windows(x.pad_dims(grow), k, s, (1, 1))
    total = win.sum(2)
    if divisor_override:
        out = total / divisor_override
    elif count_include_pad or not any(p):
        out = total / (k[0] * k[1])
    else:
        with no_grad():
            one = ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype, device=x.device).pad_dims(grow)
            count = _windows(one, k, s, (1, 1))[0].sum(2)
        out = total / count
    return out.squeeze(0) if unbatched else out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    st = None if stride is None else (1, _pair(stride, 1)[0])
    return max_pool2d(input.unsqueeze(-2), (1, _pair(kernel_size, 1)[0]), st, (0, _pair(padding, 1)[0]),
                      (1, _pair(dilation, 1)[0]), ceil_mode, return_indices).squeeze(-2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    st = None if stride is None else (1, _pair(stride, 1)[0])
    return avg_pool2d(input.unsqueeze(-2), (1, _pair(kernel_size, 1)[0]), st, (0, _pair(padding, 1)[0]), ceil_mode,
                      count_include_pad).squeeze(-2)

