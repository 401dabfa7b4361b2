"""The founding article's code, run on gradc with one changed line: `import gradc as torch`.

It extends autograd with custom Functions in both styles PyTorch has had: the legacy one (instance methods
`forward(self, ...)`/`backward(self, ...)`, state kept on `self`, called as `ReLUF()(x)`) and the modern one
(`@staticmethod forward(ctx, ...)`, called as `Function.apply`). It builds a Linear module on them (registering a
`None` bias when bias=False), an RNN cell with `reset_parameters`, and an RNN that loops over time steps; then it
checks the gradients numerically, compares everything with gradc's built-in layers, and trains the RNN.

    python examples/article.py
"""
import math

import gradc as torch
import gradc.nn as nn
import gradc.nn.functional as F
from gradc.autograd import Function, Variable, gradcheck
from gradc.nn import Parameter

# ---------------------------------------------------------------- legacy-style Functions (state on self)


class ReLUF(Function):
    def forward(self, input):
        self.save_for_backward(input)
        output = input.clamp(min=0)
        return output

    def backward(self, grad_output):
        input, = self.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


class LinearF(Function):
    def forward(self, input, weight, bias=None):
        self.save_for_backward(input, weight, bias)
        output = input.mm(weight.t())
        if bias is not None:
            output += bias.unsqueeze(0).expand_as(output)
        return output

    def backward(self, grad_output):
        input, weight, bias = self.saved_tensors
        grad_input = grad_weight = grad_bias = None
        if self.needs_input_grad[0]:
            grad_input = grad_output.mm(weight)
        if self.needs_input_grad[1]:
            grad_weight = grad_output.t().mm(input)
        if bias is not None and self.needs_input_grad[2]:
            grad_bias = grad_output.sum(0).squeeze(0)
        return grad_input, grad_weight, grad_bias


# ---------------------------------------------------------------- the same, modern style (ctx, staticmethods)


class ReLUFn(Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


class LinearFn(Function):
    @staticmethod
    def forward(ctx, input, weight, bias=None):
        ctx.save_for_backward(input, weight, bias)
        output = input.mm(weight.t())
        if bias is not None:
            output += bias.unsqueeze(0).expand_as(output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, weight, bias = ctx.saved_tensors
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_input = grad_output.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.t().mm(input)
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(0)
        return grad_input, grad_weight, grad_bias


# ---------------------------------------------------------------- modules built on them


class Linear(nn.Module):
    def __init__(self, input_features, output_features, bias=True, legacy=True):
        super(Linear, self).__init__()  # noqa: UP008 (the article's Python 2 era spelling)
        self.input_features = input_features
        self.output_features = output_features
        self.legacy = legacy
        # nn.Parameter is a special kind of Tensor that is automatically registered as the Module's parameter
        self.weight = nn.Parameter(torch.Tensor(output_features, input_features))
        if bias:
            self.bias = nn.Parameter(torch.Tensor(output_features))
        else:
            # optional parameters are registered as None
            self.register_parameter("bias", None)
        # not a very smart way to initialize weights
        self.weight.data.uniform_(-0.1, 0.1)
        if self.bias is not None:
            self.bias.data.uniform_(-0.1, 0.1)

    def forward(self, input):
        if self.legacy:
            return LinearF()(input, self.weight, self.bias)
        return LinearFn.apply(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.input_features}, out_features={self.output_features}, bias={self.bias is not None}"


class RNNCell(nn.Module):
    """h' = relu(W_ih x + b_ih + W_hh h + b_hh), through the custom Functions above."""

    def __init__(self, input_size, hidden_size, bias=True, legacy=True):
        super(RNNCell, self).__init__()  # noqa: UP008 (the article's Python 2 era spelling)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.legacy = legacy
        self.weight_ih = Parameter(torch.Tensor(hidden_size, input_size))
        self.weight_hh = Parameter(torch.Tensor(hidden_size, hidden_size))
        if bias:
            self.bias_ih = Parameter(torch.Tensor(hidden_size))
            self.bias_hh = Parameter(torch.Tensor(hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            weight.data.uniform_(-stdv, stdv)

    def forward(self, input, hx):
        if self.legacy:
            pre = LinearF()(input, self.weight_ih, self.bias_ih) + LinearF()(hx, self.weight_hh, self.bias_hh)
            return ReLUF()(pre)
        pre = LinearFn.apply(input, self.weight_ih, self.bias_ih) + LinearFn.apply(hx, self.weight_hh, self.bias_hh)
        return ReLUFn.apply(pre)


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size, legacy=True):
        super(RNN, self).__init__()  # noqa: UP008 (the article's Python 2 era spelling)
        self.hidden_size = hidden_size
        self.cell = RNNCell(input_size, hidden_size, legacy=legacy)
        self.out = Linear(hidden_size, output_size, legacy=legacy)

    def forward(self, input, hx=None):
        # input: (time, batch, features); one cell application per time step, the graph grows as it runs
        if hx is None:
            hx = torch.zeros(input.size(1), self.hidden_size, device=input.device)
        outputs = []
        for t in range(input.size(0)):
            hx = self.cell(input[t], hx)
            outputs.append(hx)
        return self.out(hx), torch.stack(outputs, 0)


# ---------------------------------------------------------------- checks and a small training run


def close(a, b, tol=1e-5):
    return float((a - b).abs().max()) < tol


def main():
    torch.manual_seed(0)
    dev = torch.get_default_device()
    print(f"device: {dev}")

    # 1. the gradients of the custom Functions against central differences (float64, on the numpy reference)
    x = Variable(torch.randn(4, 3, dtype=torch.float64, device="cpu"), requires_grad=True)
    w = torch.randn(2, 3, dtype=torch.float64, device="cpu", requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, device="cpu", requires_grad=True)
    for name, fn in [("ReLUF (legacy)", lambda x: ReLUF()(x)), ("ReLUFn (modern)", ReLUFn.apply)]:
        print(f"gradcheck {name}: {gradcheck(fn, (x,), eps=1e-6, atol=1e-5)}")
    for name, fn in [("LinearF (legacy)", lambda x, w, b: LinearF()(x, w, b)), ("LinearFn (modern)", LinearFn.apply)]:
        print(f"gradcheck {name}: {gradcheck(fn, (x, w, b), eps=1e-6, atol=1e-5)}")

    # 2. the custom Linear equals nn.Linear with the same weights, in both styles; bias=False registers None
    ref = nn.Linear(3, 2)
    for legacy in (True, False):
        mine = Linear(3, 2, legacy=legacy)
        mine.load_state_dict(ref.state_dict())
        xi = torch.randn(5, 3, requires_grad=True)
        xr = xi.detach().requires_grad_()
        (mine(xi) ** 2).sum().backward()
        (ref(xr) ** 2).sum().backward()
        ok = close(mine(xi), ref(xr)) and close(xi.grad, xr.grad) and close(mine.weight.grad, ref.weight.grad)
        print(f"{'legacy' if legacy else 'modern'} Linear matches nn.Linear: {ok}")
        ref.zero_grad()
    nobias = Linear(3, 2, bias=False)
    print(f"{nobias}: parameters {[n for n, _ in nobias.named_parameters()]}, bias is {nobias.bias}")

    # 3. the RNN cell equals nn.RNNCell(nonlinearity='relu') with the same weights
    cell, ref_cell = RNNCell(3, 4), nn.RNNCell(3, 4, nonlinearity="relu")
    cell.load_state_dict(ref_cell.state_dict())  # same parameter names: weight_ih, weight_hh, bias_ih, bias_hh
    xi, h = torch.randn(2, 3), torch.randn(2, 4)
    print(f"RNNCell matches nn.RNNCell: {close(cell(xi, h), ref_cell(xi, h))}")

    # 4. train the RNN (both styles, same start) to output the mean of its inputs over time
    seq, batch = 6, 16
    data = torch.randn(seq, batch, 2)
    target = data.mean(0)
    for legacy in (True, False):
        torch.manual_seed(1)
        model = RNN(2, 16, 2, legacy=legacy)
        opt = torch.optim.Adam(model.parameters(), lr=0.02)
        losses = []
        for _ in range(60):
            opt.zero_grad()
            pred, _ = model(data)
            loss = F.mse_loss(pred, target)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        print(f"RNN ({'legacy' if legacy else 'modern'} Functions): loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    print(model)


if __name__ == "__main__":
    main()
