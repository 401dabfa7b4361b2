"""A character-level LSTM trained on Shakespeare's sonnets (public domain, examples/data/sonnets.txt), printing samples
as it learns.

    python examples/char_rnn.py [--steps 300] [--every 100]

Every training step unrolls the same sequence length, and view offsets are kernel arguments, so the kernels compiled
for the first step serve every later step and every time step.
"""
import argparse
import pathlib
import time

import numpy as np
from tqdm import tqdm

import gradc as torch
import gradc.nn as nn

TEXT = pathlib.Path(__file__).with_name("data").joinpath("sonnets.txt").read_text()


class CharModel(nn.Module):
    def __init__(self, vocab, hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.lstm = nn.LSTM(32, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def sample(model, chars, start, n, temperature=0.8, seed=0):
    """Generate n characters after `start`, one LSTM step at a time."""
    index = {c: i for i, c in enumerate(chars)}
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        logits, state = model(torch.tensor([[index[c] for c in start]]))
        out = start
        for _ in range(n):
            p = (logits[0, -1] / temperature).softmax(0).numpy().astype(np.float64)
            c = int(rng.choice(len(chars), p=p / p.sum()))
            out += chars[c]
            logits, state = model(torch.tensor([[c]]), state)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--every", type=int, default=100, help="print a sample every this many steps")
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=128)
    args = ap.parse_args()

    chars = sorted(set(TEXT))
    data = np.array([chars.index(c) for c in TEXT], dtype=np.int64)
    torch.manual_seed(0)
    model = CharModel(len(chars), args.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    loss_fn = nn.CrossEntropyLoss()
    print(f"{len(TEXT)} characters, vocabulary of {len(chars)}; device {torch.get_default_device()}")

    rng = np.random.default_rng(0)
    start, first = time.time(), None
    for step in (bar := tqdm(range(1, args.steps + 1), desc="training", unit="step")):
        at = rng.integers(0, len(data) - args.seq - 1, args.batch)
        x = torch.tensor(np.stack([data[i:i + args.seq] for i in at]))
        y = torch.tensor(np.stack([data[i + 1:i + args.seq + 1] for i in at]))
        logits, _ = model(x)
        loss = loss_fn(logits.reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        first = loss.item() if first is None else first
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % args.every == 0 or step == args.steps:
            tqdm.write(f"--- step {step}, loss {loss.item():.3f}\n{sample(model, chars, 'Shall I ', 120)}\n")
    print(f"loss {first:.3f} -> {loss.item():.3f} in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
