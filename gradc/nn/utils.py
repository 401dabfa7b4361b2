"""gradc.nn.utils: gradient clipping, and parameters to and from one flat vector."""
from __future__ import annotations

import math

from ..autograd import no_grad
from ..functional import cat
from ..tensor import Tensor, realize, zeros

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "parameters_to_vector", "vector_to_parameters"]


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of the norms of `tensors` (a lazy 0-d tensor)."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return zeros(())
    if norm_type == math.inf:
        total = None
        for t in tensors:
            m = t.detach().abs().amax()
            total = m if total is None else total.maximum(m)
    else:
        acc = None
        for t in tensors:
            a = t.detach().abs()
            s = (a * a).sum() if norm_type == 2.0 else a.pow(norm_type).sum()
            acc = s if acc is None else acc + s
        total = acc.sqrt() if norm_type == 2.0 else acc.pow(1.0 / norm_type)
    if error_if_nonfinite:
        v = total.item()
        if math.isnan(v) or math.isinf(v):
            raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                               "so it cannot be clipped. To disable this error and scale the gradients by the "
                               "non-finite norm anyway, set `error_if_nonfinite=False`")
    return total


@no_grad()
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients in place so that their total norm is at most max_norm; returns the total norm before
    clipping. Everything stays on the device (the scale is min(1, max_norm / (norm + 1e-6)), as torch computes it)
    and the scaled gradients are realized together."""
    grads = _grads(parameters)
    if not grads:
        return zeros(())
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    coef = (float(max_norm) / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.to(g.dtype))
    realize(total, *grads)
    return total


@no_grad()
def clip_grad_value_(parameters, clip_value, foreach=None):
    clip_value = float(clip_value)
    grads = _grads(parameters)
    for g in grads:
        g.clamp_(-clip_value, clip_value)
    if grads:
        realize(*grads)


def parameters_to_vector(parameters):
    return cat([p.reshape(-1) for p in parameters])


@no_grad()
def vector_to_parameters(vec, parameters):
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected gradc.Tensor, but got: {type(vec).__name__}")
    at = 0
    for p in parameters:
        n = p.numel()
        p.copy_(vec[at:at + n].reshape(p.shape))
        at += n
