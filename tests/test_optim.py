"""gradc.optim against PyTorch: the same model, weights, data and hyperparameters must give the same parameters
after every step, on every device; validation messages, state dicts and schedulers as torch's."""
import math

import numpy as np
import pytest

import gradc
import gradc.nn as nn
import gradc.optim as optim
from gradc.serialization import load, save

torch = pytest.importorskip("torch")

DEVICES = [str(d) for d, _ in gradc.devices()]
ALL = pytest.mark.parametrize("device", DEVICES)
CPU = pytest.mark.parametrize("device", ["cpu"])
ON_ALL = ("sgd_momentum", "adam", "rmsprop_centered_momentum")  # each config's update kernels compile on OpenCL

RNG = np.random.default_rng(1)
X = RNG.standard_normal((6, 4)).astype(np.float32)
Y = RNG.standard_normal((6, 2)).astype(np.float32)


def models(device):
    g = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)).to(device)
    t = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    t.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in g.state_dict().items()})
    return g, t


def loss_of(m, lib, device=None):
    kw = {"device": device} if lib is gradc else {}
    x, y = lib.tensor(X, **kw), lib.tensor(Y, **kw)
    return ((m(x) - y) ** 2).mean()


def same_params(g, t, what, atol=1e-5, rtol=1e-4):
    for (name, p), q in zip(g.named_parameters(), t.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), atol=atol, rtol=rtol,
                                   err_msg=f"{name} {what}")


def train_both(make, device, steps=3, groups=None):
    g, t = models(device)
    og = make(optim, groups(g) if groups else g.parameters())
    ot = make(torch.optim, groups(t) if groups else t.parameters())
    for i in range(steps):
        for m, o, lib in ((g, og, gradc), (t, ot, torch)):
            o.zero_grad()
            loss_of(m, lib, device).backward()
            o.step()
        same_params(g, t, f"after step {i + 1}")
    return g, t, og, ot


CONFIGS = {
    "sgd": lambda o, p: o.SGD(p, lr=0.1),
    "sgd_momentum": lambda o, p: o.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "sgd_nesterov": lambda o, p: o.SGD(p, lr=0.05, momentum=0.8, nesterov=True, maximize=False),
    "adam": lambda o, p: o.Adam(p, lr=0.01),
    "adam_amsgrad_wd": lambda o, p: o.Adam(p, lr=0.02, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True),
    "adamw": lambda o, p: o.AdamW(p, lr=0.01),
    "rmsprop": lambda o, p: o.RMSprop(p, lr=0.01),
    "rmsprop_centered_momentum": lambda o, p: o.RMSprop(p, lr=0.01, momentum=0.5, centered=True, weight_decay=0.1),
    "adagrad": lambda o, p: o.Adagrad(p, lr=0.1, lr_decay=0.01),
    "sgd_maximize": lambda o, p: o.SGD(p, lr=0.01, momentum=0.5, maximize=True),
}


@pytest.mark.parametrize("device,name", [(d, n) for n in CONFIGS for d in (DEVICES if n in ON_ALL else ["cpu"])])
def test_optimizer_matches_torch(device, name):
    train_both(CONFIGS[name], device)


@CPU
def test_param_groups_and_zero_grad(device):
    def groups(m):
        return [{"params": m[0].parameters()}, {"params": m[2].parameters(), "lr": 0.3, "momentum": 0.5}]

    g, t, og, ot = train_both(lambda o, p: o.SGD(p, lr=0.1), device, groups=groups)
    assert [grp["lr"] for grp in og.param_groups] == [0.1, 0.3]
    assert og.param_groups[0]["momentum"] == 0 and og.param_groups[1]["momentum"] == 0.5
    og.zero_grad(set_to_none=False)
    assert all(p.grad is not None and float(p.grad.abs().sum()) == 0 for p in g.parameters())
    og.zero_grad()
    assert all(p.grad is None for p in g.parameters())
    og.add_param_group({"params": [nn.Parameter(gradc.zeros(2))], "lr": 0.5})
    assert len(og.param_groups) == 3 and og.param_groups[2]["momentum"] == 0
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        og.add_param_group({"params": g[0].weight})


@CPU
def test_step_with_closure_and_skipped_params(device):
    g, t = models(device)
    frozen = nn.Parameter(gradc.ones(2, device=device))
    og = optim.SGD(list(g.parameters()) + [frozen], lr=0.1)
    ot = torch.optim.SGD(t.parameters(), lr=0.1)

    def closure_g():
        og.zero_grad()
        loss = loss_of(g, gradc, device)
        loss.backward()
        return loss

    def closure_t():
        ot.zero_grad()
        loss = loss_of(t, torch)
        loss.backward()
        return loss

    lg, lt = og.step(closure_g), ot.step(closure_t)
    np.testing.assert_allclose(lg.item(), lt.item(), rtol=1e-5)
    same_params(g, t, "after a closure step")
    assert frozen.detach().numpy().tolist() == [1.0, 1.0]  # no grad: untouched


def test_validation_messages_match_torch():
    p = [nn.Parameter(gradc.zeros(2))]
    tp = [torch.nn.Parameter(torch.zeros(2))]
    cases = [("SGD", dict(lr=-1)), ("SGD", dict(lr=0.1, momentum=-0.5)), ("SGD", dict(lr=0.1, weight_decay=-1)),
             ("SGD", dict(lr=0.1, nesterov=True)), ("Adam", dict(lr=-0.5)), ("Adam", dict(eps=-1.0)),
             ("Adam", dict(betas=(1.0, 0.9))), ("Adam", dict(betas=(0.9, -0.1))), ("AdamW", dict(weight_decay=-1)),
             ("RMSprop", dict(alpha=-1)), ("RMSprop", dict(momentum=-1)), ("Adagrad", dict(lr_decay=-1))]
    for name, kw in cases:
        with pytest.raises(ValueError) as eg:
            getattr(optim, name)(p, **kw)
        with pytest.raises(ValueError) as et:
            getattr(torch.optim, name)(tp, **kw)
        assert str(eg.value) == str(et.value), (name, kw)
    assert str(eg.value) == "Invalid lr_decay value: -1"
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        optim.SGD(p[0], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([p[0] * 2], lr=0.1)


@ALL
def test_state_dict_round_trip_continues_training(device, tmp_path):
    make = CONFIGS["adam"] if device != "cpu" else CONFIGS["adam_amsgrad_wd"]  # (adam's kernels are compiled)
    g, t, og, ot = train_both(make, device, steps=2)
    sd = og.state_dict()
    tsd = ot.state_dict()
    assert sd["param_groups"][0]["params"] == tsd["param_groups"][0]["params"] == [0, 1, 2, 3]
    assert set(sd["state"][0]) == set(tsd["state"][0])
    assert float(sd["state"][0]["step"].item()) == float(tsd["state"][0]["step"].item()) == 2.0
    # save to disk (safetensors), rebuild the model and the optimizer, load both, and keep training
    save({"model": g.state_dict(), "optim": sd}, tmp_path / "ck.safetensors")
    ck = load(tmp_path / "ck.safetensors", map_location=device)
    g2, _ = models(device)
    g2.load_state_dict(ck["model"])
    og2 = make(optim, g2.parameters())
    og2.load_state_dict(ck["optim"])
    for m, o, lib in ((g2, og2, gradc), (t, ot, torch)):
        o.zero_grad()
        loss_of(m, lib, device).backward()
        o.step()
    same_params(g2, t, "after resuming")
    # torch's optimizer state loads into gradc's
    og3 = make(optim, g2.parameters())
    og3.load_state_dict(ot.state_dict())
    assert og3.state[g2[0].weight]["step"] == 3
    with pytest.raises(ValueError, match="different number of parameter groups"):
        og3.load_state_dict({"state": {}, "param_groups": []})


@pytest.mark.parametrize("name", ["adam", "sgd_momentum"])
def test_lr_change_recompiles_nothing_and_updates_fuse(opencl, name):
    g, _ = models(str(opencl))
    o = CONFIGS[name](optim, g.parameters())
    seen = []
    for lr in (0.01, 0.02, 0.005):
        for group in o.param_groups:
            group["lr"] = lr
        o.zero_grad()
        loss_of(g, gradc, str(opencl)).backward()
        with gradc.debug.kernels() as ks:
            o.step()
        seen.append(sorted(k.source for k in ks if k.backend.startswith("opencl")))  # (state is filled on cpu)
    # the first step runs the same programs as the others (state starts as buffers), and new learning rates and
    # bias corrections are kernel arguments, not source
    assert seen[0] == seen[1] == seen[2]
    # every parameter's update (with its state) is computed together: at most one kernel per parameter
    assert len(seen[2]) <= len(list(g.parameters()))


def run_scheduler(lib, make, steps=12):
    p = lib.nn.Parameter(lib.zeros(1))
    o = lib.optim.SGD([{"params": [p]}, {"params": [lib.nn.Parameter(lib.zeros(1))], "lr": 0.5}], lr=0.1)
    s = make(lib.optim.lr_scheduler, o)
    lrs = [s.get_last_lr()]
    for _ in range(steps):
        o.step()
        s.step()
        lrs.append(s.get_last_lr())
    return lrs, s


@pytest.mark.parametrize("make", [lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
                                  lambda m, o: m.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
                                  lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.3),
                                  lambda m, o: m.ExponentialLR(o, gamma=0.9),
                                  lambda m, o: m.LambdaLR(o, lambda e: 1 / (1 + e))])
def test_lr_schedulers_match_torch(make):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, s = run_scheduler(gradc, make)
        want, ts = run_scheduler(torch, make)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-12)
    assert s.last_epoch == ts.last_epoch == 12
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 12 and sd["base_lrs"] == [0.1, 0.5]


@ALL
def test_training_converges(device):
    g, _ = models(device)
    o = optim.Adam(g.parameters(), lr=0.05)
    sched = optim.lr_scheduler.StepLR(o, 20, 0.5)
    losses = []
    for _ in range(40):
        o.zero_grad()
        loss = loss_of(g, gradc, device)
        loss.backward()
        o.step()
        sched.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert math.isclose(o.param_groups[0]["lr"], 0.0125)
