"""The founding article's code (examples/article.py, `import gradc as torch`) in both Function styles: forward
values and gradients through time equal torch's built-in ops on the same numbers."""
import importlib.util
import pathlib

import numpy as np
import pytest

import gradc

torch = pytest.importorskip("torch")

spec = importlib.util.spec_from_file_location(
    "article", pathlib.Path(__file__).resolve().parents[1] / "examples" / "article.py")
article = importlib.util.module_from_spec(spec)
spec.loader.exec_module(article)


@pytest.mark.parametrize("legacy", [True, False], ids=["legacy", "ctx"])
def test_article_rnn_through_time_matches_torch(legacy, device):
    rng = np.random.default_rng(0)
    rnn = article.RNN(5, 8, 3, legacy=legacy).to(device)
    x = rng.standard_normal((6, 4, 5)).astype(np.float32)  # (time, batch, features)
    w_out, w_hs = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((6, 4, 8)).astype(np.float32)
    weights = {name: p.detach().numpy() for name, p in rnn.named_parameters()}
    assert set(weights) == {"cell.weight_ih", "cell.weight_hh", "cell.bias_ih", "cell.bias_hh", "out.weight",
                            "out.bias"}

    X = gradc.tensor(x, device=device, requires_grad=True)
    out, hs = rnn(X)
    ((out * gradc.tensor(w_out, device=device)).sum() + (hs * gradc.tensor(w_hs, device=device)).sum()).backward()

    t = {name: torch.tensor(v, requires_grad=True) for name, v in weights.items()}
    xt = torch.tensor(x, requires_grad=True)
    h, hs_t = torch.zeros(4, 8), []
    for step in range(6):
        h = torch.relu(xt[step] @ t["cell.weight_ih"].T + t["cell.bias_ih"] + h @ t["cell.weight_hh"].T
                       + t["cell.bias_hh"])
        hs_t.append(h)
    hs_t = torch.stack(hs_t)
    out_t = h @ t["out.weight"].T + t["out.bias"]
    ((out_t * torch.tensor(w_out)).sum() + (hs_t * torch.tensor(w_hs)).sum()).backward()

    np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(hs.detach().numpy(), hs_t.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(X.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    for name, p in rnn.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t[name].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def test_article_linear_without_bias_registers_none():
    lin = article.Linear(3, 2, bias=False)
    assert lin.bias is None and [n for n, _ in lin.named_parameters()] == ["weight"]
    x = gradc.tensor(np.ones((4, 3), np.float32), requires_grad=True)
    lin(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.tile(lin.weight.detach().numpy().sum(0), (4, 1)), rtol=1e-6)
