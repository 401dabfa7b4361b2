"""Training-step benchmarks against torch eager on the same machine:
- one SGD-momentum step of an MLP 784-512-512-10, batch 256, cross-entropy;
- the founding article's vanilla RNN h = relu(W x + U h), batch 64, 32 steps, input 64, hidden 256, forward and
  backward through time. The same kernels serve every time step: the number of compiled programs is printed."""
from __future__ import annotations

import numpy as np

import gradc

from common import compare, machine, try_torch


def mlp(lib, x, y):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def rnn(lib, xs, batch=64, hidden=256, inp=64):
    rng = np.random.default_rng(1)
    W = lib.tensor(rng.standard_normal((hidden, inp), dtype=np.float32) * 0.05, requires_grad=True)
    U = lib.tensor(rng.standard_normal((hidden, hidden), dtype=np.float32) * 0.05, requires_grad=True)

    def step():
        h = lib.zeros(batch, hidden)
        for x in xs:
            h = (x @ W.t() + h @ U.t()).relu()
        loss = h.sum()
        loss.backward()
        W.grad = U.grad = None
        return loss

    return step


def main():
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((256, 784), dtype=np.float32)
    yb = rng.integers(0, 10, 256)
    seq = [rng.standard_normal((64, 64), dtype=np.float32) for _ in range(32)]
    torch = try_torch()
    runs = {}
    for name, lib in [("gradc", gradc), ("torch", torch)]:
        if lib is None:
            continue
        sync = gradc.synchronize if lib is gradc else (lambda: None)
        step, rstep = mlp(lib, lib.tensor(xb), lib.tensor(yb)), rnn(lib, [lib.tensor(x) for x in seq])
        runs[(name, "mlp")] = lambda step=step, sync=sync: (step().item(), sync())
        runs[(name, "rnn")] = lambda step=rstep, sync=sync: (step().item(), sync())
    # gradc and torch in turns, blocks of steps each, so that the machine's drift falls on both alike
    results = compare({k: f for k, f in runs.items() if k[1] == "mlp"}, rounds=8, block=5, warmup=2)
    progs = gradc.get_default_device().backend.__dict__.setdefault("_programs", {})
    before = len(progs)
    runs[("gradc", "rnn")]()
    first = len(progs)
    results.update(compare({k: f for k, f in runs.items() if k[1] == "rnn"}, rounds=8, block=3, warmup=1))
    programs = (first - before, len(progs) - first)
    dev = gradc.get_default_device()
    print(f"\ntraining steps on {dev} ({dev.backend.description}); {machine()}")
    print(f"{'step':<52} {'gradc ms':>9} {'torch ms':>9} {'gradc/torch':>12}")
    for key, label, target in [("mlp", "MLP 784-512-512-10, batch 256, SGD momentum", 1.5),
                               ("rnn", "vanilla RNN, 32 steps, batch 64, hidden 256, fwd+bwd", 2.0)]:
        g, t = results[("gradc", key)], results.get(("torch", key))
        ratio = f"{g / t:.2f} (<= {target})" if t else "n/a"
        print(f"{label:<52} {g * 1e3:>9.2f} {t * 1e3 if t else float('nan'):>9.2f} {ratio:>12}")
    print(f"programs the first RNN step compiled: {programs[0]} for 32 time steps; compiled by the {8 * (3 + 1)} steps "
          f"after it: {programs[1]} (the same kernels serve every time step)")


if __name__ == "__main__":
    main()
