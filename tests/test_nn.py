"""gradc.nn against PyTorch: the same weights (gradc's, loaded into torch by state_dict, which also checks that the
parameter names agree) and the same inputs must give the same outputs, input gradients and parameter gradients,
on every device. Module mechanics (registration, state dicts and their error messages, repr) are compared with
torch's directly."""
import copy
import math
import os

import numpy as np
import pytest

import gradc
import gradc.nn as nn
import gradc.nn.functional as F
from gradc.serialization import load, save

torch = pytest.importorskip("torch")
tnn, TF = torch.nn, torch.nn.functional

RNG = np.random.default_rng(0)

# Every device runs the tests marked ALL; the rest (WIDE) run on the numpy reference only, unless
# GRADC_TEST_ALL_DEVICES=1: a cold OpenCL (PoCL) compile costs most of a second per kernel on this machine, and the
# layers differ from one another only in compositions of Tensor ops that the core's tests cover on every device.
DEVICES = [str(d) for d, _ in gradc.devices()]
WIDE_DEVICES = DEVICES if os.environ.get("GRADC_TEST_ALL_DEVICES") else ["cpu"]
ALL = pytest.mark.parametrize("device", DEVICES)
CPU = pytest.mark.parametrize("device", WIDE_DEVICES)


def rnd(*shape, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, shape).astype(np.float32)


def _flat(o):
    if isinstance(o, (tuple, list)):
        return [x for y in o for x in _flat(y)]
    return [o]


def _close(got, want, what, atol=1e-5, rtol=1e-4):
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64), atol=atol, rtol=rtol,
                               err_msg=what)


def to_torch(sd):
    return {k: torch.from_numpy(v.numpy().copy()) for k, v in sd.items()}


def check_module(gm, tm, *inputs, device, atol=1e-5, rtol=1e-4, call=None):
    """gm (gradc) and tm (torch) with gm's weights: outputs, input grads and parameter grads must agree.
    Float inputs require grad; integer inputs (indices, class labels) are passed as they are."""
    gm.to(device)
    tm.load_state_dict(to_torch(gm.state_dict()))
    gx = [gradc.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in inputs]
    tx = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    call = call or (lambda m, *xs: m(*xs))
    gouts, touts = _flat(call(gm, *gx)), _flat(call(tm, *tx))
    assert len(gouts) == len(touts)
    got = [o.detach().numpy() for o in gouts]  # read before backward
    for i, (g, t) in enumerate(zip(got, touts)):
        assert tuple(g.shape) == tuple(t.shape), f"output {i}: shape {g.shape}, torch {tuple(t.shape)}"
        _close(g, t.detach().numpy(), f"output {i} on {device}", atol, rtol)
    ws = [rnd(*t.shape) for t in touts]
    gl = sum((o * gradc.tensor(w, device=device)).sum() for o, w in zip(gouts, ws) if o.requires_grad)
    tl = sum((o * torch.tensor(w)).sum() for o, w in zip(touts, ws) if o.requires_grad)
    gl.backward()
    tl.backward()
    for i, (g, t) in enumerate(zip(gx, tx)):
        if t.grad is not None:
            _close(g.grad.numpy(), t.grad.numpy(), f"grad of input {i} on {device}", atol, rtol)
    tparams = dict(tm.named_parameters())
    for name, p in gm.named_parameters():
        tp = tparams[name]
        assert (p.grad is None) == (tp.grad is None), f"{name}: which parameters got a gradient differs"
        if tp.grad is not None:
            _close(p.grad.numpy(), tp.grad.numpy(), f"grad of {name} on {device}", atol, rtol)
    return gm, tm


def torch_msg(fn_g, fn_t, exc=Exception):
    """Both raise the same exception type; return (gradc message, torch message with torch. names as gradc.)."""
    with pytest.raises(exc) as eg:
        fn_g()
    with pytest.raises(exc) as et:
        fn_t()
    assert type(eg.value) is type(et.value), f"gradc raised {eg.value!r}, torch {et.value!r}"
    return str(eg.value), str(et.value).replace("torch.", "gradc.")


# ---------------------------------------------------------------- module mechanics


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.w = nn.Parameter(gradc.ones(2, device="cpu"))
        self.register_parameter("nothing", None)
        self.register_buffer("count", gradc.zeros(1, device="cpu"))
        self.register_buffer("scratch", gradc.zeros(2, device="cpu"), persistent=False)
        self.block = nn.Sequential(nn.Linear(2, 2), nn.Tanh())
        self.plain = 3

    def forward(self, x):
        return self.block(self.fc(x)) * self.w


def test_registration_and_traversal():
    m = Net()
    assert [n for n, _ in m.named_parameters()] == ["w", "fc.weight", "fc.bias", "block.0.weight", "block.0.bias"]
    assert len(list(m.parameters())) == 5 and all(isinstance(p, nn.Parameter) for p in m.parameters())
    assert [n for n, _ in m.named_buffers()] == ["count", "scratch"]
    assert list(m.state_dict()) == ["w", "count", "fc.weight", "fc.bias", "block.0.weight", "block.0.bias"]
    assert [n for n, _ in m.named_children()] == ["fc", "block"]
    assert [n for n, _ in m.named_modules()] == ["", "fc", "block", "block.0", "block.1"]
    assert m.nothing is None and m.plain == 3 and "plain" not in m._parameters
    assert m.get_submodule("block.0") is m.block[0] and m.get_parameter("fc.bias") is m.fc.bias
    # parameters are Tensors whose requires_grad defaults to True
    p = nn.Parameter(gradc.zeros(2, 3))
    assert isinstance(p, gradc.Tensor) and p.requires_grad and p.is_leaf
    assert not nn.Parameter(gradc.zeros(2), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(") and repr(p).endswith("requires_grad=True)")
    assert type(p * 2) is gradc.Tensor
    # reassigning: a Tensor where a parameter is registered is refused; None is allowed; modules replace modules
    with pytest.raises(TypeError, match="cannot assign 'gradc.Tensor' as parameter 'w'"):
        m.w = gradc.ones(2)
    m.w = None
    assert "w" in m._parameters and m.w is None and len(list(m.parameters())) == 4
    m.count = gradc.ones(1, device="cpu")  # a registered buffer name takes any tensor
    assert m.count.numpy().tolist() == [1.0]
    del m.block
    assert [n for n, _ in m.named_children()] == ["fc"]
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'block'"):
        _ = m.block
    m.add_module("extra", nn.ReLU())
    assert isinstance(m.extra, nn.ReLU)
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_buffer("plain", gradc.zeros(1))
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError, match="cannot assign 'gradc.Tensor' object to parameter 'q'"):
        m.register_parameter("q", gradc.zeros(1))
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'nl'"):
        m.register_parameter("nl", _nonleaf_param())

    class Early(nn.Module):
        def __init__(self):
            self.p = nn.Parameter(gradc.zeros(1))

    with pytest.raises(AttributeError, match=r"cannot assign parameters before Module.__init__\(\) call"):
        Early()
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required "forward" function'):
        nn.Module()(1)


def _nonleaf_param():
    p = nn.Parameter(gradc.ones(1))
    p.grad_fn = object()  # what a Parameter computed from others would carry
    return p


def test_modes_apply_requires_grad_zero_grad_hooks():
    m = Net().to("cpu")
    assert m.training and all(x.training for x in m.modules())
    assert m.eval() is m and not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        m.train("yes")
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "Linear", "Tanh", "Sequential", "Net"]
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    m.requires_grad_()
    m(gradc.ones(4, 3, device="cpu")).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    calls = []
    h = m.fc.register_forward_hook(lambda mod, args, out: calls.append(tuple(out.shape)))
    m.fc.register_forward_pre_hook(lambda mod, args: calls.append("pre"))
    m(gradc.ones(4, 3, device="cpu"))
    h.remove()
    m(gradc.ones(4, 3, device="cpu"))
    assert calls == ["pre", (4, 2), "pre"]


def _repr_cases(n):
    return [
        n.Linear(3, 4), n.Linear(3, 4, bias=False), n.ReLU(), n.ReLU(inplace=True), n.Tanh(), n.Sigmoid(), n.GELU(),
        n.GELU(approximate="tanh"), n.Softmax(dim=1), n.LogSoftmax(dim=-1), n.Flatten(), n.Identity(), n.Dropout(0.2),
        n.Embedding(10, 3, padding_idx=0), n.LayerNorm(4), n.LayerNorm((2, 3), elementwise_affine=False),
        n.BatchNorm1d(3), n.BatchNorm2d(3, momentum=None, affine=False), n.Conv2d(3, 4, 3, padding="same"),
        n.Conv2d(2, 4, (3, 2), stride=2, padding=1, dilation=2, groups=2, bias=False),
        n.Conv1d(3, 4, 3, padding=1, padding_mode="reflect"), n.MaxPool2d(2), n.MaxPool2d(3, 2, 1), n.AvgPool2d(2),
        n.RNNCell(3, 4), n.RNNCell(3, 4, bias=False, nonlinearity="relu"), n.LSTMCell(3, 4), n.GRUCell(3, 4),
        n.RNN(3, 4, 2, nonlinearity="relu", batch_first=True), n.LSTM(3, 4, bidirectional=True),
        n.GRU(3, 4, dropout=0.5, num_layers=2), n.MSELoss(), n.CrossEntropyLoss(ignore_index=1), n.BCEWithLogitsLoss(),
        n.LeakyReLU(0.2), n.ELU(), n.SiLU(), n.Softplus(), n.Hardtanh(), n.ReLU6(),
        n.Sequential(n.Linear(2, 3), n.ReLU(), n.ModuleList([n.Linear(3, 3), n.Linear(3, 3), n.Linear(3, 3), n.Tanh()]),
                     n.ModuleDict({"a": n.Sigmoid(), "b": n.Sequential()})),
    ]


def test_repr_matches_torch():
    for g, t in zip(_repr_cases(nn), _repr_cases(tnn)):
        assert repr(g) == repr(t)


def _pairs():
    """(gradc module, torch module) with the same structure, for state-dict key/shape comparisons."""
    return [
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2, bias=False)),
         tnn.Sequential(tnn.Linear(3, 4), tnn.ReLU(), tnn.Linear(4, 2, bias=False))),
        (nn.LSTM(3, 4, num_layers=2, bidirectional=True), tnn.LSTM(3, 4, num_layers=2, bidirectional=True)),
        (nn.GRU(3, 4, bias=False), tnn.GRU(3, 4, bias=False)),
        (nn.RNNCell(3, 4), tnn.RNNCell(3, 4)),
        (nn.ModuleDict({"bn": nn.BatchNorm2d(3), "ln": nn.LayerNorm([2, 3]), "emb": nn.Embedding(5, 2),
                        "conv": nn.Conv2d(3, 6, 3, groups=3), "c1": nn.Conv1d(2, 2, 2),
                        "bn1": nn.BatchNorm1d(2, affine=False)}),
         tnn.ModuleDict({"bn": tnn.BatchNorm2d(3), "ln": tnn.LayerNorm([2, 3]), "emb": tnn.Embedding(5, 2),
                         "conv": tnn.Conv2d(3, 6, 3, groups=3), "c1": tnn.Conv1d(2, 2, 2),
                         "bn1": tnn.BatchNorm1d(2, affine=False)})),
    ]


def test_state_dict_keys_shapes_dtypes_match_torch():
    for g, t in _pairs():
        gs, ts = g.state_dict(), t.state_dict()
        assert list(gs) == list(ts)
        for k in ts:
            assert tuple(gs[k].shape) == tuple(ts[k].shape), k
            assert str(gs[k].dtype).split(".")[-1] == str(ts[k].dtype).split(".")[-1], k
        assert [n for n, _ in g.named_parameters()] == [n for n, _ in t.named_parameters()]
        # and torch's values load back into gradc
        g.load_state_dict(t.state_dict())
        for k, v in g.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), ts[k].numpy())


def test_load_state_dict_errors_match_torch_and_leave_the_model_unchanged():
    g, t = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)).to("cpu"), tnn.Sequential(tnn.Linear(3, 4), tnn.Linear(4, 2))
    before = {k: v.numpy() for k, v in g.state_dict().items()}
    bad = {"0.weight": np.zeros((4, 3), np.float32), "0.bias": np.zeros(5, np.float32),
           "1.weight": np.zeros((2, 4), np.float32), "extra": np.zeros(1, np.float32), "1.foo.bar": np.zeros(1)}
    gm, tm = torch_msg(lambda: g.load_state_dict({k: gradc.tensor(v) for k, v in bad.items()}),
                       lambda: t.load_state_dict({k: torch.tensor(v) for k, v in bad.items()}), RuntimeError)
    assert gm == tm
    assert 'Missing key(s) in state_dict: "1.bias".' in gm and "size mismatch for 0.bias" in gm
    for k, v in g.state_dict().items():  # nothing was copied, not even the entries that fit
        np.testing.assert_array_equal(v.numpy(), before[k])
    # strict=False reports the keys as torch does (size mismatches still raise)
    ok = {k: v for k, v in bad.items() if k != "0.bias"}
    rg = g.load_state_dict({k: gradc.tensor(v) for k, v in ok.items()}, strict=False)
    rt = t.load_state_dict({k: torch.tensor(v) for k, v in ok.items()}, strict=False)
    assert (rg.missing_keys, rg.unexpected_keys) == (rt.missing_keys, rt.unexpected_keys)
    assert float(g[0].weight.abs().sum()) == 0
    assert repr(g.load_state_dict(g.state_dict())) == "<All keys matched successfully>"


@ALL
def test_to_device_and_dtype_keep_parameter_identity(device):
    m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    params = list(m.parameters())
    m.to(device)
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]
    assert all(str(p.device).startswith(device.split(":")[0]) for p in m.parameters())
    assert all(str(b.device).startswith(device.split(":")[0]) for b in m.buffers())
    assert m[1].num_batches_tracked.dtype is gradc.int64
    with pytest.raises(TypeError, match="floating point"):
        m.to(gradc.int32)
    if gradc.device(device).backend.supports(gradc.float64):
        m.double()
        assert all(p.dtype is gradc.float64 for p in m.parameters())
        assert m[1].num_batches_tracked.dtype is gradc.int64  # integer buffers keep their dtype
        assert m(gradc.ones(4, 3, dtype=gradc.float64, device=device)).dtype is gradc.float64


def test_parameter_data_aliases_and_deepcopy():
    p = nn.Parameter(gradc.zeros(3, device="cpu"))
    p.data.add_(1)  # older code updates parameters through .data
    p.data -= 0.5
    assert p.detach().numpy().tolist() == [0.5, 0.5, 0.5] and p.requires_grad and p.is_leaf
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).to("cpu")
    m.shared = m[0]  # the same submodule twice stays one module in the copy
    c = copy.deepcopy(m)
    assert c[0].weight is not m[0].weight and isinstance(c[0].weight, nn.Parameter) and c[0].weight.requires_grad
    assert c.shared is c[0] and c[1].running_var is not m[1].running_var
    for (k, a), b in zip(m.state_dict().items(), c.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


# ---------------------------------------------------------------- layers against torch


@ALL
def test_linear_mlp(device):
    g = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3, bias=False), nn.Tanh(), nn.Flatten(0))
    t = tnn.Sequential(tnn.Linear(5, 4), tnn.ReLU(), tnn.Linear(4, 3, bias=False), tnn.Tanh(), tnn.Flatten(0))
    check_module(g, t, rnd(2, 4, 5), device=device)


@CPU
def test_activations(device):
    names = ["relu", "gelu", "sigmoid", "tanh", "silu", "elu", "softplus", "logsigmoid", "hardtanh", "relu6",
             "leaky_relu"]

    def call(lib_f, x):
        outs = [getattr(lib_f, n)(x) for n in names]
        outs += [lib_f.gelu(x, approximate="tanh"), lib_f.softmax(x, dim=1), lib_f.log_softmax(x, dim=0),
                 lib_f.leaky_relu(x, 0.2), lib_f.softplus(x * 20, beta=2.0)]
        return outs

    x = rnd(4, 5, lo=-4, hi=4)
    x[0, 0] = 0.0
    check_module(nn.Module(), tnn.Module(), x, device=device, call=lambda m, x: call(
        F if isinstance(x, gradc.Tensor) else TF, x))
    # the module forms
    for gm, tm in [(nn.Softmax(dim=-1), tnn.Softmax(dim=-1)), (nn.LogSoftmax(1), tnn.LogSoftmax(1)),
                   (nn.GELU(), tnn.GELU()), (nn.Sigmoid(), tnn.Sigmoid())]:
        gx = gradc.tensor(x, device=device)
        _close(gm(gx).numpy(), tm(torch.tensor(x)).numpy(), type(gm).__name__)


@CPU
def test_layer_norm_embedding_flatten(device):
    check_module(nn.LayerNorm(5), tnn.LayerNorm(5), rnd(2, 3, 5), device=device)
    g, t = nn.LayerNorm([3, 5], elementwise_affine=False), tnn.LayerNorm([3, 5], elementwise_affine=False)
    check_module(g, t, rnd(2, 3, 5), device=device)
    idx = np.array([[1, 0, 3], [3, 3, 2]], np.int64)
    g, t = nn.Embedding(4, 5, padding_idx=3), tnn.Embedding(4, 5, padding_idx=3)
    assert float(g.weight[3].abs().sum()) == 0
    check_module(g, t, idx, device=device)
    assert float(g.weight.grad[3].abs().sum()) == 0
    with pytest.raises(IndexError, match="index out of range in self"):
        g(gradc.tensor([4], device=device))
    w = gradc.tensor(rnd(4, 5), device=device)
    e = nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad and e(gradc.tensor([2], device=device)).numpy().tolist() == \
        [w.numpy()[2].tolist()]
    check_module(nn.Unflatten(1, (2, 3)), tnn.Unflatten(1, (2, 3)), rnd(2, 6), device=device)


@ALL
def test_dropout(device):
    gradc.manual_seed(0)
    x = gradc.ones(200, 50, device=device, requires_grad=True)
    d = nn.Dropout(0.25)
    y = d(x)
    a = y.detach().numpy()
    assert np.allclose(np.unique(a), [0.0, 1 / 0.75])
    assert abs((a == 0).mean() - 0.25) < 0.02
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), a, rtol=1e-6)  # the gradient is the same mask, scaled
    d.eval()
    assert d(x) is x
    assert float(F.dropout(x, 1.0).abs().sum()) == 0 and F.dropout(x, 0.0) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


@pytest.mark.parametrize("device,dims", [("cpu", 2)] + [(d, 4) for d in DEVICES])
def test_batch_norm_train_and_eval(device, dims):
    if dims == 2:
        g, t, shape = nn.BatchNorm1d(3), tnn.BatchNorm1d(3), (6, 3)
    else:
        g, t, shape = nn.BatchNorm2d(3), tnn.BatchNorm2d(3), (2, 3, 2, 3)
    with gradc.no_grad():
        g.weight.copy_(gradc.tensor(rnd(3)))
        g.bias.copy_(gradc.tensor(rnd(3)))
    check_module(g, t, rnd(*shape), device=device)  # training: batch statistics
    x2 = rnd(*shape)
    _close(g(gradc.tensor(x2, device=device)).detach().numpy(), t(torch.tensor(x2)).detach().numpy(), "2nd step")
    for k, v in t.state_dict().items():  # running_mean / running_var (unbiased) / num_batches_tracked
        _close(g.state_dict()[k].numpy(), v.numpy(), k)
    assert int(g.num_batches_tracked.item()) == 2
    g.eval(), t.eval()
    check_module(g, t, rnd(*shape), device=device)  # eval: the running statistics
    with pytest.raises(ValueError, match="expected"):
        g(gradc.ones(2, 3, 4, 5, 6, device=device))


@CPU
def test_batch_norm_cumulative_average(device):
    g, t = nn.BatchNorm1d(2, momentum=None), tnn.BatchNorm1d(2, momentum=None)
    g.to(device)
    for _ in range(3):
        x = rnd(5, 2)
        g(gradc.tensor(x, device=device)), t(torch.tensor(x))
    _close(g.running_var.numpy(), t.running_var.numpy(), "running_var")
    _close(g.running_mean.numpy(), t.running_mean.numpy(), "running_mean")


@pytest.mark.parametrize("device,k,kw", [(d, 2, dict(stride=2, padding=1)) for d in WIDE_DEVICES] + [
    ("cpu", 3, kw) for kw in (dict(stride=2, padding=1, bias=False), dict(dilation=2, groups=2, padding=2),
                              dict(padding="same"), dict(padding=1, padding_mode="reflect"))])
def test_conv2d(device, k, kw):
    check_module(nn.Conv2d(2, 4, k, **kw), tnn.Conv2d(2, 4, k, **kw), rnd(2, 2, 5, 6), device=device)


@CPU
def test_conv1d(device):
    check_module(nn.Conv1d(2, 4, 3, stride=2, padding=1), tnn.Conv1d(2, 4, 3, stride=2, padding=1), rnd(2, 2, 7),
                 device=device)


@CPU
@pytest.mark.parametrize("make", [lambda m: m.MaxPool2d(2), lambda m: m.MaxPool2d(3, 2, 1),
                                  lambda m: m.AvgPool2d(2), lambda m: m.AvgPool2d(3, 2, 1, count_include_pad=False)])
def test_pooling(device, make):
    x = rnd(2, 2, 5, 6)
    x += np.arange(x.size, dtype=np.float32).reshape(x.shape) * 1e-3  # no ties: max has one winner per window
    check_module(make(nn), make(tnn), x, device=device)


@CPU
@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_rnn_cells(device, kind):
    g, t = getattr(nn, kind)(3, 4), getattr(tnn, kind)(3, 4)
    h = rnd(2, 4)
    hx = (h, rnd(2, 4)) if kind == "LSTMCell" else (h,)
    check_module(g, t, rnd(2, 3), *hx, device=device,
                 call=lambda m, x, *s: m(x, tuple(s)) if kind == "LSTMCell" else m(x, *s))
    check_module(g, t, rnd(3), device=device)  # unbatched, zero initial state


@pytest.mark.parametrize("device,kind,kw", [(d, "RNN", dict()) for d in WIDE_DEVICES] + [
    ("cpu", "RNN", dict(num_layers=2, nonlinearity="relu", batch_first=True)),
    ("cpu", "LSTM", dict(bidirectional=True)), ("cpu", "GRU", dict())])
def test_recurrent_layers(device, kind, kw):
    g, t = getattr(nn, kind)(3, 4, **kw), getattr(tnn, kind)(3, 4, **kw)
    x = rnd(2, 3, 3) if kw.get("batch_first") else rnd(3, 2, 3)  # batch 2, 3 steps, 3 features
    dirs = 2 if kw.get("bidirectional") else 1
    h0 = rnd(kw.get("num_layers", 1) * dirs, 2, 4)
    if kind == "LSTM":
        check_module(g, t, x, h0, rnd(*h0.shape), device=device, call=lambda m, x, h, c: m(x, (h, c)))
    else:
        check_module(g, t, x, h0, device=device)


@ALL
def test_common_losses(device):
    x, labels = rnd(4, 3), np.array([0, 2, 1, 2], np.int64)
    check_module(nn.CrossEntropyLoss(), tnn.CrossEntropyLoss(), x, labels, device=device)


@CPU
def test_losses(device):
    x, y = rnd(4, 3), rnd(4, 3)
    p, q = rnd(4, 3, lo=0.05, hi=0.95), rnd(4, 3, lo=0, hi=1)
    labels = np.array([0, 2, 1, 2], np.int64)
    w = np.array([0.2, 1.0, 3.0], np.float32)

    def losses(lib, x, y, p, q, labels, w):
        n = lib.nn.functional
        out = []
        for r in ("mean", "sum", "none"):
            out += [n.mse_loss(x, y, reduction=r), n.l1_loss(x, y, reduction=r), n.cross_entropy(x, labels,
                    reduction=r), n.nll_loss(n.log_softmax(x, 1), labels, weight=w, reduction=r),
                    n.binary_cross_entropy(p, q, reduction=r), n.binary_cross_entropy_with_logits(x, q, reduction=r)]
        out += [n.cross_entropy(x, labels, weight=w), n.cross_entropy(x, labels, ignore_index=2),
                n.cross_entropy(x, labels, label_smoothing=0.1), n.cross_entropy(x, labels, weight=w,
                label_smoothing=0.2, ignore_index=0), n.cross_entropy(x, n.softmax(y, 1)),
                n.binary_cross_entropy_with_logits(x, q, pos_weight=w, weight=w[:1]),
                n.binary_cross_entropy(p, q, weight=w), n.smooth_l1_loss(x, y), n.huber_loss(x, y, delta=0.5),
                n.cross_entropy(x[0], labels[0])]
        return out

    def call(m, x, y, p, q, labels, w):
        lib = gradc if isinstance(x, gradc.Tensor) else torch
        return losses(lib, x, y, p, q, labels, w.detach())

    check_module(nn.Module(), tnn.Module(), x, y, p, q, labels, w, device=device, call=call)
    # K-dimensional cross entropy: (N, C, d) logits with (N, d) labels
    check_module(nn.CrossEntropyLoss(), tnn.CrossEntropyLoss(), rnd(2, 3, 4), np.array([[0, 1, 2, 1], [2, 2, 0, 1]]),
                 device=device)
    for gm, tm in [(nn.MSELoss(reduction="sum"), tnn.MSELoss(reduction="sum")), (nn.L1Loss(), tnn.L1Loss()),
                   (nn.BCELoss(), tnn.BCELoss()), (nn.BCEWithLogitsLoss(), tnn.BCEWithLogitsLoss()),
                   (nn.NLLLoss(), tnn.NLLLoss())]:
        a, b = (p, q) if isinstance(gm, (nn.BCELoss, nn.BCEWithLogitsLoss)) else (x, y)
        if isinstance(gm, nn.NLLLoss):
            b = labels
        _close(gm(gradc.tensor(a, device=device), gradc.tensor(b, device=device)).numpy(),
               tm(torch.tensor(a), torch.tensor(b)).numpy(), type(gm).__name__)


def test_nll_loss_of_an_empty_batch_is_torchs():
    x, y = gradc.zeros(0, 4), gradc.tensor(np.zeros(0, np.int64))
    total = F.nll_loss(x, y, reduction="sum").item()
    assert total == 0.0 and not np.signbit(total)  # torch gives 0.0, not -0.0
    assert np.isnan(F.nll_loss(x, y).item()) and tuple(F.nll_loss(x, y, reduction="none").shape) == (0,)


def test_loss_errors_match_torch():
    x, bad = rnd(3, 4), np.array([1, 4, 0])
    for fn in ("cross_entropy", "nll_loss"):
        gm, tm = torch_msg(lambda fn=fn: getattr(F, fn)(gradc.tensor(x), gradc.tensor(bad)),
                           lambda fn=fn: getattr(TF, fn)(torch.tensor(x), torch.tensor(bad)), IndexError)
        assert gm == tm == "Target 4 is out of bounds."
    gm, tm = torch_msg(lambda: F.cross_entropy(gradc.tensor(x), gradc.tensor([-1, 0, 0])),
                       lambda: TF.cross_entropy(torch.tensor(x), torch.tensor([-1, 0, 0])), IndexError)
    assert gm == tm
    # ignore_index may lie outside the classes
    assert np.isfinite(F.cross_entropy(gradc.tensor(x, device="cpu"), gradc.tensor([1, -100, 0], device="cpu")).item())
    gm, tm = torch_msg(lambda: F.binary_cross_entropy(gradc.rand(3), gradc.rand(4)),
                       lambda: TF.binary_cross_entropy(torch.rand(3), torch.rand(4)), ValueError)
    assert gm == tm
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        F.mse_loss(gradc.ones(2), gradc.ones(2), reduction="avg")


@CPU
def test_functional_one_hot_pad_linear(device):
    t = np.array([[0, 2], [1, 3]])
    oh = F.one_hot(gradc.tensor(t, device=device), 5)
    assert oh.dtype is gradc.int64 and oh.numpy().tolist() == TF.one_hot(torch.tensor(t), 5).tolist()
    assert F.one_hot(gradc.tensor(t)).shape == (2, 2, 4)
    for bad in ([5, 1], [-1, 1]):
        gm, tm = torch_msg(lambda bad=bad: F.one_hot(gradc.tensor(bad), 3), lambda bad=bad: TF.one_hot(
            torch.tensor(bad), 3),
                           RuntimeError)
        assert gm == tm
    x = rnd(2, 3, 4)

    def pads(m, x):
        n = F if isinstance(x, gradc.Tensor) else TF
        return [n.pad(x, (1, 2)), n.pad(x, (1, 0, 2, 1), value=1.5), n.pad(x, (-1, 1, 0, 0, 1, 1)),
                n.pad(x, (2, 1), mode="reflect"), n.pad(x, (1, 2, 1, 0), mode="replicate"),
                n.pad(x, (2, 1), mode="circular")]

    check_module(nn.Module(), tnn.Module(), x, device=device, call=pads)
    w, b = rnd(3, 4), rnd(3)
    check_module(nn.Module(), tnn.Module(), x, w, b, device=device,
                 call=lambda m, x, w, b: (F if isinstance(x, gradc.Tensor) else TF).linear(x, w, b))


def test_init():
    gradc.manual_seed(0)
    w = gradc.empty(300, 200)
    for fn, args, lo, hi in [(nn.init.uniform_, (-0.5, 0.5), -0.5, 0.5),
                             (nn.init.xavier_uniform_, (), -math.sqrt(6 / 500), math.sqrt(6 / 500)),
                             (nn.init.kaiming_uniform_, (math.sqrt(5),), -1 / math.sqrt(200), 1 / math.sqrt(200))]:
        assert fn(w, *args) is w
        a = w.numpy()
        assert lo <= a.min() < lo + 0.01 * (hi - lo) and hi - 0.01 * (hi - lo) < a.max() <= hi
    for fn, args, std in [(nn.init.normal_, (0.0, 0.3), 0.3), (nn.init.xavier_normal_, (), math.sqrt(2 / 500)),
                          (nn.init.kaiming_normal_, (0, "fan_out", "relu"), math.sqrt(2 / 300))]:
        a = fn(w, *args).numpy()
        assert abs(a.std() - std) < 0.02 * std and abs(a.mean()) < 0.02 * std
    assert nn.init.constant_(w, 0.25).numpy().tolist()[0][:2] == [0.25, 0.25]
    assert nn.init.zeros_(w).numpy().sum() == 0 and nn.init.ones_(w).numpy().sum() == w.numel()
    a = nn.init.trunc_normal_(w, std=0.5, a=-1, b=1).numpy()
    assert -1 <= a.min() and a.max() <= 1 and abs(a.std() - 0.44) < 0.02
    q = nn.init.orthogonal_(gradc.empty(4, 6)).numpy()
    np.testing.assert_allclose(q @ q.T, np.eye(4), atol=1e-5)
    for nl, param in [("relu", None), ("tanh", None), ("leaky_relu", 0.2), ("linear", None), ("selu", None)]:
        assert nn.init.calculate_gain(nl, param) == tnn.init.calculate_gain(nl, param)
    gm, tm = torch_msg(lambda: nn.init.xavier_uniform_(gradc.empty(3)), lambda: tnn.init.xavier_uniform_(
        torch.empty(3)), ValueError)
    assert gm == tm
    # same seed, same numbers on every device
    gradc.manual_seed(3)
    a = nn.Linear(4, 3).weight.detach().numpy()
    gradc.manual_seed(3)
    b = nn.Linear(4, 3, device="cpu").weight.detach().numpy()
    np.testing.assert_array_equal(a, b)


@CPU
def test_clip_grad(device):
    gs = [rnd(3, 4), rnd(5)]
    for norm_type in (2.0, math.inf, 1.0):
        gp = [nn.Parameter(gradc.zeros(*g.shape, device=device)) for g in gs]
        tp = [tnn.Parameter(torch.zeros(*g.shape)) for g in gs]
        for p, q, g in zip(gp, tp, gs):
            p.grad, q.grad = gradc.tensor(g, device=device), torch.tensor(g)
        n1 = nn.utils.clip_grad_norm_(gp, 1.5, norm_type)
        n2 = tnn.utils.clip_grad_norm_(tp, 1.5, norm_type)
        _close(n1.item(), n2.item(), f"norm {norm_type}")
        for p, q in zip(gp, tp):
            _close(p.grad.numpy(), q.grad.numpy(), f"clipped grads, norm {norm_type}")
    nn.utils.clip_grad_value_(gp, 0.1)
    tnn.utils.clip_grad_value_(tp, 0.1)
    for p, q in zip(gp, tp):
        _close(p.grad.numpy(), q.grad.numpy(), "clip_grad_value_")
    v = nn.utils.parameters_to_vector(gp)
    assert tuple(v.shape) == (17,)


@ALL
def test_save_load(tmp_path, device):
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 10), nn.Linear(10, 2)).to(device)
    path = tmp_path / "model.safetensors"
    save(m.state_dict(), path)
    sd = load(path, map_location=device)
    assert list(sd) == list(m.state_dict())  # the original order, though safetensors sorts its entries
    m2 = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 10), nn.Linear(10, 2))
    m2.load_state_dict(load(path))
    for (k, a), b in zip(m.state_dict().items(), m2.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
        assert a.dtype is b.dtype
    # a plain safetensors file: torch reads it as it is
    from safetensors.torch import load_file

    t = tnn.Sequential(tnn.Linear(3, 4), tnn.BatchNorm1d(4), tnn.Linear(4, 10), tnn.Linear(10, 2))
    t.load_state_dict(load_file(str(path)))
    # nested structures (an optimizer's state, a checkpoint) round-trip through JSON metadata, never pickle
    ck = {"epoch": 3, "lr": [0.1, float("inf")], "name": "run", "none": None, "t": (1, 2),
          "inner": {0: {"step": gradc.tensor(2.0), "buf": gradc.ones(2, dtype=gradc.int64)}}}
    save(ck, tmp_path / "ck.safetensors")
    back = load(tmp_path / "ck.safetensors")
    assert back["epoch"] == 3 and back["lr"] == [0.1, float("inf")] and back["t"] == (1, 2)
    assert back["none"] is None and back["inner"][0]["buf"].dtype is gradc.int64
    assert back["inner"][0]["step"].item() == 2.0
    with pytest.raises(TypeError, match="no pickle"):
        save({"f": object()}, tmp_path / "x.safetensors")
