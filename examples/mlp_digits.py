"""An MLP on scikit-learn's handwritten digits (8x8 images, 10 classes), trained with gradc on the default device.

    python examples/mlp_digits.py [--epochs 20] [--out mlp_digits_loss.png]

Prints the test accuracy and saves the training-loss curve as a PNG. Every batch has the same shape, so the
kernels compiled for the first step serve all the others.
"""
import argparse
import time

import matplotlib
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import gradc as torch
import gradc.nn as nn

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(make_model=lambda: nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)), name="MLP",
         image_shape=(64,), epochs=20, doc=__doc__):
    """Train `make_model()` on the digits (images shaped `image_shape`), print the test accuracy, plot the loss."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--out", default=f"{name.lower()}_digits_loss.png")
    args = ap.parse_args()

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32).reshape(-1, *image_shape)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)

    torch.manual_seed(0)
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    loss_fn = nn.CrossEntropyLoss()
    print(model)
    print(f"device: {torch.get_default_device()}, {len(x_train)} training and {len(x_test)} test images")

    rng = np.random.default_rng(0)
    n_batches = len(x_train) // args.batch  # full batches only: one shape, one set of kernels
    losses, start = [], time.time()
    for _epoch in (bar := tqdm(range(args.epochs), desc="training", unit="epoch")):
        model.train()
        order = rng.permutation(len(x_train))
        epoch_loss = 0.0
        for b in range(n_batches):
            idx = order[b * args.batch:(b + 1) * args.batch]
            xb, yb = torch.tensor(x_train[idx]), torch.tensor(y_train[idx])
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            epoch_loss += losses[-1]
        sched.step()
        bar.set_postfix(loss=f"{epoch_loss / n_batches:.4f}", lr=f"{sched.get_last_lr()[0]:.2e}")

    model.eval()
    with torch.no_grad():
        pred = model(torch.tensor(x_test)).argmax(1).numpy()
    acc = float((pred == y_test).mean())
    print(f"trained {args.epochs} epochs in {time.time() - start:.1f} s; test accuracy: {acc * 100:.2f}%")

    plt.figure(figsize=(6, 3.5))
    plt.plot(losses, lw=0.8, label="batch loss")
    k = n_batches
    smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
    plt.plot(np.arange(k - 1, len(losses)), smooth, lw=1.5, label=f"mean of {k} batches")
    plt.yscale("log")
    plt.xlabel("step")
    plt.ylabel("cross-entropy")
    plt.title(f"gradc {name} on digits: test accuracy {acc * 100:.1f}%")
    plt.legend()
    plt.tight_layout()
    plt.savefig(args.out, dpi=120)
    print(f"loss curve saved to {args.out}")
    return acc


if __name__ == "__main__":
    main()
