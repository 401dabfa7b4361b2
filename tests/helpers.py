"""`check(fn, *inputs, device=...)`: run one lambda on gradc and on the reference and compare.

The reference is PyTorch when it is installed: result values, dtypes and shapes must match, and so must the
gradients of every float input after `out.backward(random_grad)` (several outputs: one `autograd.grad` pass with a
random gradient for each). Without torch, `ref=` (a numpy function of the same arrays) checks the forward values
and nothing else; a check with neither is skipped. gradc runs fused and unfused (`gradc.debug.fusion(False)`), and
both must agree with the reference; on compiled devices only fused unless `fusion=` says otherwise or
GRADC_TEST_FULL=1 (there every new kernel costs a build, and the scheduling is the same on every device).

Inputs: a tuple is a shape (random values of `dtype`), an ndarray is used as it is, anything else (a Python number)
is passed to the lambda unchanged. Use `lib(x)` inside a lambda for module functions: `lib(x).where(c, x, y)`.
"""
import os

import numpy as np
import pytest

import gradc

try:
    import torch
except ImportError:  # the float checks fall back to numpy references
    torch = None

RNG = np.random.default_rng(0)
TOL = {"float16": (2e-2, 1e-2), "float32": (1e-5, 1e-4), "float64": (1e-10, 1e-9)}  # (atol, rtol)


def rand(shape, dtype="float32", lo=-2.0, hi=2.0) -> np.ndarray:
    """Floats uniform in [lo, hi), integers in [lo, hi], bools half true."""
    if dtype == "bool":
        return np.asarray(RNG.random(shape) < 0.5)
    if dtype.startswith("int"):
        return np.asarray(RNG.integers(int(lo), int(hi) + 1, shape), dtype=dtype)
    return np.asarray(RNG.uniform(lo, hi, shape), dtype=dtype)


def lib(t):
    """The module a tensor belongs to: gradc for gradc tensors, torch for torch tensors."""
    return gradc if isinstance(t, gradc.Tensor) else torch


def name(dtype) -> str:
    return str(dtype).split(".")[-1]


def _outs(y):
    return list(y) if isinstance(y, (tuple, list)) else [y]


def _run(mod, fn, arrays, grad_outs, device, grad):
    """fn on `mod` tensors made from `arrays`: outputs as numpy, their dtype names, input grads as numpy (or None),
    and the output gradients used (random ones when grad_outs is None)."""
    ins = []
    for a in arrays:
        if isinstance(a, np.ndarray):
            t = gradc.tensor(a, device=device) if mod is gradc else torch.tensor(a)
            if grad and a.dtype.kind == "f":
                t.requires_grad_(True)
            a = t
        ins.append(a)
    outs = _outs(fn(*ins))
    if grad_outs is None:
        grad_outs = [rand(tuple(o.shape), name(o.dtype)) if o.dtype.is_floating_point else None for o in outs]
    leaves = [t for t in ins if getattr(t, "requires_grad", False) and t.is_leaf]
    diff = [(o, g) for o, g in zip(outs, grad_outs) if o.requires_grad]
    mk = (lambda g: gradc.tensor(g, device=device)) if mod is gradc else torch.tensor
    if len(diff) == 1:  # .backward() into .grad
        diff[0][0].backward(mk(diff[0][1]))
        grads = [t.grad for t in leaves]
    elif diff:  # one backward pass for all outputs: each input's gradient is one sum, one kernel
        grads = mod.autograd.grad([o for o, _ in diff], leaves, [mk(g) for _, g in diff], allow_unused=True)
    else:
        grads = [None] * len(leaves)
    grads = [None if g is None else g.detach().numpy() for g in grads]
    return [o.detach().numpy() for o in outs], [name(o.dtype) for o in outs], grads, grad_outs


def _same(got, want, what):
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    if want.dtype.kind == "f":
        atol, rtol = TOL.get(str(got.dtype), TOL["float32"])
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), atol=atol, rtol=rtol,
                                   equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


FULL = os.environ.get("GRADC_TEST_FULL") == "1"


def trimmed(device) -> bool:
    """True where a test keeps to its representative subset: on compiled devices, where every new kernel costs a
    build (~0.2-0.5 s on PoCL), unless GRADC_TEST_FULL=1. The reference interpreter `cpu` always runs everything."""
    return device != "cpu" and not FULL


def check(fn, *inputs, device="cpu", dtype="float32", grad=True, ref=None, fusion=None):
    if fusion is None:  # unfused adds one-op kernels only: on compiled devices, in the full run
        fusion = (True,) if trimmed(device) else (True, False)
    arrays = [rand(a, dtype) if isinstance(a, tuple) else a for a in inputs]
    if any(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in arrays) and \
            not gradc.device(device).backend.supports(gradc.float64):
        pytest.skip(f"{device} has no float64")
    if torch is not None:
        want, want_dt, want_grads, grad_outs = _run(torch, fn, arrays, None, device, grad)
    elif ref is not None:
        want, want_dt, want_grads = [np.asarray(o) for o in _outs(ref(*arrays))], None, None
        grad, grad_outs = False, [None] * len(want)
    else:
        pytest.skip("torch is not installed and this check has no numpy reference")
    for fused in fusion:
        where = f"on {device}, fusion {'on' if fused else 'off'}"
        with gradc.debug.fusion(fused):
            got, got_dt, got_grads, _ = _run(gradc, fn, arrays, grad_outs, device, grad)
        assert len(got) == len(want), f"{where}: {len(got)} outputs, expected {len(want)}"
        if want_dt is not None:
            assert got_dt == want_dt, f"{where}: result dtypes {got_dt}, torch gives {want_dt}"
        for i, (g, w) in enumerate(zip(got, want)):
            _same(g, w, f"output {i} {where}")
        if grad and want_grads is not None:
            assert [g is None for g in got_grads] == [g is None for g in want_grads], \
                f"{where}: which inputs got a gradient differs from torch"
            for i, (g, w) in enumerate(zip(got_grads, want_grads)):
                if w is not None:
                    _same(g, w, f"grad of input {i} {where}")


def raises_like(fn, *inputs, device="cpu", match=None):
    """fn raises on gradc the same exception type as on torch (when installed); returns gradc's exception."""
    make = [lambda a: gradc.tensor(a, device=device)] + ([torch.tensor] if torch is not None else [])
    caught = []
    for mk in make:
        with pytest.raises(Exception, match=match if mk is make[0] else None) as e:
            fn(*[mk(a) if isinstance(a, np.ndarray) else a for a in inputs])
        caught.append(e.value)
    if len(caught) == 2:
        assert isinstance(caught[0], type(caught[1])), f"gradc raised {caught[0]!r}, torch raises {caught[1]!r}"
    return caught[0]


def xfail_if(request, condition, reason):
    """A strict xfail for the parametrizations where a known bug shows (one device, say)."""
    if condition:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))

