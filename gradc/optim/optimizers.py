"""SGD, Adam, AdamW, RMSprop and Adagrad: PyTorch's update rules (the single-tensor "for-loop" forms), written as
in-place Tensor ops with Python-float hyperparameters (kernel arguments, never baked into the source)."""
from __future__ import annotations

import math

from ..tensor import Tensor
from .optimizer import Optimizer, _zeros_like, required

_CHAIN_NOTE = """Each updated state tensor is computed from old values only, never from another updated state tensor
(recomputing a shared subexpression where needed, which costs nothing inside a fused kernel): the scheduler's
output merging currently fails (ValueError in schedule._merge_outputs) when three realized targets form a chain
a -> b -> c of elementwise kernels."""


def _lr(lr):
    if isinstance(lr, Tensor):
        lr = lr.item()
    return lr


def _check(cond, msg):
    if not cond:
        raise ValueError(msg)


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False,
                 foreach=None, differentiable=False, fused=None):
        lr = _lr(lr)
        if lr is not required:
            _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def _update(self, group, p, state):
        g = self._grad(group, p)
        lr, momentum, wd = float(group["lr"]), float(group["momentum"]), float(group["weight_decay"])
        if wd != 0:
            g = g + p * wd
        out = []
        if momentum != 0:
            buf = state.get("momentum_buffer")
            # torch starts the buffer at the first gradient; 0 * zeros + 1 * g is that, with the same kernel as
            # every later step (the factors are kernel arguments)
            first = buf is None
            if first:
                buf = state["momentum_buffer"] = _zeros_like(p)
            buf.mul_(0.0 if first else momentum).add_(g * (1.0 if first else 1.0 - float(group["dampening"])))
            out.append(buf)
            g = g + buf * momentum if group["nesterov"] else buf
        p.add_(g * -lr)
        return out


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        lr = _lr(lr)
        _check(0.0 <= lr, f"Invalid learning rate: {lr}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, group, p, state):
        g = self._grad(group, p)
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = _zeros_like(p)
            state["exp_avg_sq"] = _zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = _zeros_like(p)
        state["step"] += 1
        step = state["step"]
        if wd != 0:
            if group.get("decoupled_weight_decay", False):
                p.mul_(1.0 - lr * wd)
            else:
                g = g + p * wd
        m, v = state["exp_avg"], state["exp_avg_sq"]
        v_old = v.detach()
        m.mul_(beta1).add_(g * (1.0 - beta1))
        v.mul_(beta2).add_(g * g * (1.0 - beta2))
        bias_correction1 = 1.0 - beta1 ** step
        bias_correction2_sqrt = math.sqrt(1.0 - beta2 ** step)
        step_size = lr / bias_correction1
        out = [m, v]
        if group["amsgrad"]:
            vmax = state["max_exp_avg_sq"]
            # from v's old value rather than its new node: no updated state is computed from another (the core's
            # output merging fails on such chains today; see _CHAIN_NOTE)
            vmax.copy_(vmax.maximum(v_old * beta2 + g * g * (1.0 - beta2)))
            out.append(vmax)
            denom = vmax.sqrt() / bias_correction2_sqrt + eps
        else:
            denom = v.sqrt() / bias_correction2_sqrt + eps
        p.add_(m / denom * -step_size)
        return out


class AdamW(Adam):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        lr = _lr(lr)
        _check(0.0 <= lr, f"Invalid learning rate: {lr}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check(0.0 <= momentum, f"Invalid momentum value: {momentum}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        _check(0.0 <= alpha, f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, group, p, state):
        g = self._grad(group, p)
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        alpha, momentum = float(group["alpha"]), float(group["momentum"])
        if not state:
            state["step"] = 0
            state["square_avg"] = _zeros_like(p)
            if momentum > 0:
                state["momentum_buffer"] = _zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = _zeros_like(p)
        state["step"] += 1
        if wd != 0:
            g = g + p * wd
        centered = group["centered"]
        sq, ga = state["square_avg"], state.get("grad_avg")
        olds = (sq.detach(), ga.detach() if centered else None)

        def new_averages(sq_v, ga_v):
            sq_v = sq_v * alpha + g * g * (1.0 - alpha)
            return sq_v, ga_v * alpha + g * (1.0 - alpha) if centered else None

        def denominator(sq_v, ga_v):
            return ((sq_v - ga_v * ga_v).sqrt() if centered else sq_v.sqrt()) + eps

        sq_new, ga_new = new_averages(sq, ga)
        sq.copy_(sq_new)
        out = [sq]
        if centered:
            ga.copy_(ga_new)
            out.append(ga)
        if momentum > 0:
            buf = state["momentum_buffer"]
            # the averages recomputed from their old values (see _CHAIN_NOTE)
            buf.mul_(momentum).add_(g / denominator(*new_averages(*olds)))
            out.append(buf)
            p.add_(buf * -lr)
        else:
            p.add_(g / denominator(sq, ga) * -lr)
        return out


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        lr = _lr(lr)
        _check(0.0 <= lr, f"Invalid learning rate: {lr}")
        _check(0.0 <= lr_decay, f"Invalid lr_decay value: {lr_decay}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        _check(0.0 <= initial_accumulator_value, f"Invalid initial_accumulator_value value: "
                                                 f"{initial_accumulator_value}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = 0
                state["sum"] = _zeros_like(p, float(group["initial_accumulator_value"]))

    def _update(self, group, p, state):
        g = self._grad(group, p)
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        state["step"] += 1
        if wd != 0:
            g = g + p * wd
        clr = lr / (1 + (state["step"] - 1) * float(group["lr_decay"]))
        s = state["sum"]
        s.add_(g * g)
        p.add_(g / (s.sqrt() + eps) * -clr)
        return [s]
