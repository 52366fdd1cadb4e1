#!/usr/bin/python3
"""Golden cases for the transformer layers of eigenq's nn/ (LayerNorm, GELU, causal
self-attention), computed by PyTorch 1.13 exactly as examples/lm/train_lm.py computes them.

CI never runs this script; it reads the committed output tests/golden/lm_layers_pytorch.txt
(format: tests/golden/README.md; floats as float32 bit patterns). Float results are compared
within a tolerance: PyTorch and Eigen sum in different orders.

Usage: /usr/bin/python3 tests/golden/make_lm_layers_golden.py
"""

import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "lm_layers_pytorch.txt")


def hexf(t):
    a = np.asarray(t.detach().numpy(), dtype=np.float32).ravel()
    return f"{a.size} " + " ".join("%08x" % v for v in a.view(np.uint32))


def attention(qkv, heads):
    """train_lm.Block.forward's attention on one sequence [t, 3d]."""
    t, d3 = qkv.shape
    d = d3 // 3
    q, k, v = qkv[None].split(d, dim=2)
    q = q.view(1, t, heads, d // heads).transpose(1, 2)
    k = k.view(1, t, heads, d // heads).transpose(1, 2)
    v = v.view(1, t, heads, d // heads).transpose(1, 2)
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // heads))
    mask = torch.tril(torch.ones(t, t, dtype=qkv.dtype))
    att = att.masked_fill(mask == 0, float("-inf")).softmax(dim=-1)
    return (att @ v).transpose(1, 2).reshape(t, d)


def main():
    g = torch.Generator().manual_seed(20261206)
    lines = ["# LayerNorm, GELU and causal self-attention from PyTorch 1.13 (make_lm_layers_golden.py)"]
    for i, (rows, d, offset, spread) in enumerate([(3, 8, 0.0, 1.0), (5, 64, 10.0, 3.0), (2, 256, -3.0, 0.01)]):
        x = torch.randn(rows, d, generator=g) * spread + offset
        w = torch.randn(d, generator=g) * 0.5 + 1.0
        b = torch.randn(d, generator=g) * 0.1
        # The exact result (float64, rounded once): PyTorch's float kernel itself loses digits to
        # cancellation on rows whose mean is large against their spread (case 2).
        y = F.layer_norm(x.double(), (d,), w.double(), b.double(), 1e-5).float()
        lines += [f"case layer_norm_{i}", "kind layer_norm", f"shape 2 {rows} {d}", f"input {hexf(x)}",
                  f"weight {hexf(w)}", f"bias {hexf(b)}", f"output {hexf(y)}", "end"]
    x = torch.cat([torch.linspace(-8, 8, 161), torch.tensor([0.0, -0.0, 1e-30, -1e-30, 30.0, -30.0])])
    lines += ["case gelu", "kind gelu", f"input {hexf(x)}", f"output {hexf(F.gelu(x))}", "end"]
    for i, (t, d, heads, spread) in enumerate([(1, 8, 2, 1.0), (7, 16, 4, 1.0), (33, 64, 4, 3.0)]):
        qkv = torch.randn(t, 3 * d, generator=g) * spread  # the output: exact (float64), rounded once
        lines += [f"case attention_{i}", "kind attention", f"shape 2 {t} {3 * d}", f"heads {heads}",
                  f"input {hexf(qkv)}", f"output {hexf(attention(qkv.double(), heads).float())}", "end"]
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
