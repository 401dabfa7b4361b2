"""The Optimizer base: parameter groups, per-parameter state, state dicts, zero_grad, and the realize-at-the-end
step that lets every parameter's update (and its state's) run as a few fused kernels.

Updates are written in place on each parameter (`p.add_(...)` under no_grad), so the Parameter objects a Module
holds stay the same. Hyperparameters enter the update as Python floats: they become kernel arguments, so changing
a learning rate (a scheduler does) compiles nothing new."""
from __future__ import annotations

from collections import defaultdict
from copy import deepcopy

from ..autograd import enable_grad, no_grad
from ..tensor import Tensor, full, realize, tensor


class _RequiredParameter:
    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _typename(o):
    from ..nn.parameter import _typename as t

    return t(o)


class Optimizer:
    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, but "
                            f"got {_typename(params)}")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __repr__(self):
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += "\n"
            s += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    def add_param_group(self, param_group: dict) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {_typename(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        for p in param_group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + _typename(p))
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        ids = [id(p) for p in param_group["params"]]
        if len(ids) != len(set(ids)):
            import warnings

            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
        if seen & set(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        from ..nn.module import zero_grads

        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    # ------------------------------------------------------------ stepping
    def _update(self, group: dict, p: Tensor, state: dict) -> list:
        """Apply one parameter's update in place; return the state tensors it rewrote (to realize with p)."""
        raise NotImplementedError

    @no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        touched = []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                touched.append(p)
                touched.extend(self._update(group, p, state))
        if touched:
            realize(*touched)  # every update in one schedule: they fuse, and nothing stays lazy across steps
        return loss

    @staticmethod
    def _grad(group, p):
        g = p.grad
        if group.get("maximize", False):
            g = -g
        return g

    # ------------------------------------------------------------ state dicts
    def state_dict(self) -> dict:
        """{'state': {index: {name: value}}, 'param_groups': [{..., 'params': [index, ...]}]}, as torch lays it out;
        'step' is a 0-d float32 tensor as in torch."""
        index, start = {}, 0

        def pack(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            index.update({id(p): i for i, p in enumerate(group["params"], start) if id(p) not in index})
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        groups = [pack(g) for g in self.param_groups]
        state = {}
        for p, s in self.state.items():
            if id(p) in index:
                state[index[id(p)]] = {k: self._export(k, v) for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    @staticmethod
    def _export(name, value):
        if name == "step" and not isinstance(value, Tensor):
            return full((), float(value), device="cpu")  # a 0-d float32 tensor, as torch keeps it
        return value.detach() if isinstance(value, Tensor) else value

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        groups = self.param_groups
        saved_groups = deepcopy_groups(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        param_lens = (len(g["params"]) for g in groups)
        saved_lens = (len(g["params"]) for g in saved_groups)
        if any(p_len != s_len for p_len, s_len in zip(param_lens, saved_lens)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of optimizer's "
                             "group")
        id_map = {}
        for old, new in zip(saved_groups, groups):
            for old_id, p in zip(old["params"], new["params"]):
                id_map[old_id] = p
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            key = int(k) if isinstance(k, str) and k.isdigit() else k
            if key in id_map:
                p = id_map[key]
                state[p] = {name: self._cast_state(p, name, value) for name, value in v.items()}
            else:
                state[key] = v
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            new_groups.append(saved)
        self.state = state
        self.param_groups = new_groups

    @staticmethod
    def _cast_state(p, name, value):
        """State tensors follow the parameter's device and (floating) dtype; step counts become Python numbers."""
        if name == "step":
            v = value.item() if isinstance(value, Tensor) or hasattr(value, "item") else value
            return int(v) if float(v).is_integer() else float(v)
        if hasattr(value, "detach") and not isinstance(value, Tensor):  # a torch tensor
            value = tensor(value.detach().cpu().numpy())
        if isinstance(value, Tensor):
            if value.dtype.is_floating_point and value.dtype is not p.dtype:
                value = value.to(p.dtype)
            if value.device != p.device:
                value = value.to(p.device)
            return value.detach().clone()
        return value


def _zeros_like(p: Tensor, value=0.0) -> Tensor:
    """A realized zero buffer like p, filled on the host: state starts as a buffer, so the first step's update
    kernel is the same program as every later step's (a lazy constant would be fused into a kernel of its own)."""
    z = full(tuple(p.shape), value, dtype=p.dtype, device="cpu")
    return z.to(p.device) if p.ndim else z.reshape(1).to(p.device).reshape(())


def deepcopy_groups(groups):
    return [{k: (list(v) if k == "params" else deepcopy(v)) for k, v in g.items()} for g in groups]
