#!/usr/bin/env python3
"""Trains the small byte-level language model of eigenq's language-model demo (examples/lm).

A decoder-only transformer with GPT-2's architecture (learned token and position embeddings,
pre-LayerNorm blocks, causal multi-head attention, GELU MLP, final LayerNorm, output head tied
to the token embedding), vocabulary of 256 bytes, trained on English text shipped by Debian's
python3.11-doc package: the reStructuredText sources of the Python documentation
(/usr/share/doc/python3.11/html/_sources/**/*.rst.txt), with reST markup stripped by
strip_markup() below. Documents are split 95/5 into training and held-out sets by a hash of
their path, so the split does not depend on file order.

Run once, never in CI (about 40 minutes on 2 cores with OpenBLAS):

    sudo apt-get install python3-torch python3-numpy python3.11-doc libopenblas0-pthread
    /usr/bin/python3 examples/lm/train_lm.py --out examples/lm/data

It writes, into --out:
  lm.safetensors      the weights as F16 (names below), with the hyper-parameters as metadata
  heldout.txt         the first 32 KiB of the held-out text (the perplexity slice)
  calibration.txt     64 KiB of training text for calibration (GPTQ, AWQ, SmoothQuant, ...)
and prints the held-out perplexity of the F16 weights (the figure the C++ forward pass must
reproduce within 0.1%): windows of 256 bytes with stride 128 over heldout.txt; the first window
scores all of its 255 predictions, each later one the last 128.

Weight names (PyTorch layout, Linear weights [out, in]):
  wte [256, d], wpe [ctx, d],
  blocks.<i>.ln1.{weight,bias}, blocks.<i>.attn.qkv.{weight [3d, d], bias},
  blocks.<i>.attn.proj.{weight [d, d], bias}, blocks.<i>.ln2.{weight,bias},
  blocks.<i>.mlp.fc.{weight [4d, d], bias}, blocks.<i>.mlp.proj.{weight [d, 4d], bias},
  ln_f.{weight,bias}; the output head is wte (tied).
"""

import argparse
import glob
import hashlib
import json
import math
import os
import re
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SOURCES = "/usr/share/doc/python3.11/html/_sources"


def strip_markup(text):
    """reST to plain text: drops directive and comment lines (.. name::, .. _label:, options
    :name: under a directive), section underlines, and keeps the text of roles and links."""
    out = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith(".."):  # directives, comments, link targets
            continue
        if re.fullmatch(r"([=\-~^\"'`#*+<>:.])\1{2,}", s):  # section over/underlines
            continue
        if re.match(r"^\s+:[\w-]+:", line):  # directive options
            continue
        line = re.sub(r":[\w:.-]+:`([^`<]*?)\s*(<[^>]*>)?`", r"\1", line)  # :role:`text <target>`
        line = re.sub(r"`([^`<]+?)\s*<[^>]+>`_+", r"\1", line)  # `text <url>`_
        line = re.sub(r"``([^`]+)``", r"\1", line)  # ``literal``
        line = re.sub(r"`([^`]+)`_*", r"\1", line)  # `interpreted`, `ref`_
        line = re.sub(r"\*\*([^*]+)\*\*", r"\1", line)
        line = re.sub(r"(?<!\w)\*([^*\s][^*]*)\*", r"\1", line)
        out.append(line.rstrip())
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def load_corpus():
    paths = sorted(glob.glob(os.path.join(SOURCES, "**", "*.rst.txt"), recursive=True))
    if not paths:
        raise SystemExit(f"no sources under {SOURCES}: apt-get install python3.11-doc")
    train, heldout = [], []
    for p in paths:
        rel = os.path.relpath(p, SOURCES)
        doc = strip_markup(open(p, encoding="utf-8").read()).encode("utf-8")
        bucket = int(hashlib.sha256(rel.encode()).hexdigest(), 16) % 20  # 1 in 20 held out
        (heldout if bucket == 0 else train).append(doc)
    return b"\n".join(train), b"\n".join(heldout), len(paths)


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(d, 3 * d)
        self.attn.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Module()
        self.mlp.fc = nn.Linear(d, 4 * d)
        self.mlp.proj = nn.Linear(4 * d, d)

    def forward(self, x, mask):
        b, t, d = x.shape
        h = self.heads
        q, k, v = self.attn.qkv(self.ln1(x)).split(d, dim=2)
        q = q.view(b, t, h, d // h).transpose(1, 2)
        k = k.view(b, t, h, d // h).transpose(1, 2)
        v = v.view(b, t, h, d // h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // h))
        att = att.masked_fill(mask[:t, :t] == 0, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.attn.proj(y)
        return x + self.mlp.proj(F.gelu(self.mlp.fc(self.ln2(x))))  # exact (erf) GELU


class ByteGPT(nn.Module):
    def __init__(self, d, layers, heads, ctx):
        super().__init__()
        self.ctx = ctx
        self.wte = nn.Embedding(256, d)
        self.wpe = nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.register_buffer("mask", torch.tril(torch.ones(ctx, ctx)), persistent=False)
        for name, p in self.named_parameters():  # GPT-2's initialisation
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif ".ln" in name or name.startswith("ln_f"):
                nn.init.ones_(p)
            else:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, std=std)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for blk in self.blocks:
            x = blk(x, self.mask)
        return self.ln_f(x) @ self.wte.weight.t()


def state_names(model):
    """The saved names: wte, wpe, and parameters as named in the module tree."""
    out = {}
    for name, p in model.named_parameters():
        out[name.replace("wte.weight", "wte").replace("wpe.weight", "wpe")] = p
    return out


def evaluate(model, data, window=256, stride=128):
    """Mean negative log-likelihood per byte (nats) over `data` with sliding windows."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        start = 0
        while True:
            end = min(start + window, len(data))
            x = torch.tensor(list(data[start:end]), dtype=torch.long)[None]
            logp = F.log_softmax(model(x[:, :-1]).double(), dim=-1)
            nll = -logp[0].gather(1, x[0, 1:, None])[:, 0]
            first = 0 if start == 0 else (window - 1 - stride)  # score only the new bytes
            total += nll[first:].sum().item()
            count += nll[first:].numel()
            if end == len(data):
                break
            start += stride
    model.train()
    return total / count, count


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        a = np.ascontiguousarray(t.detach().numpy().astype(np.float16))
        header[name] = {"dtype": "F16", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(2)
    torch.set_flush_denormal(True)
    train, heldout, docs = load_corpus()
    print(f"{docs} documents: {len(train)} training bytes, {len(heldout)} held-out bytes", flush=True)
    os.makedirs(a.out, exist_ok=True)
    eval_slice = heldout[: 32 * 1024]
    with open(os.path.join(a.out, "heldout.txt"), "wb") as f:
        f.write(eval_slice)
    with open(os.path.join(a.out, "calibration.txt"), "wb") as f:
        f.write(train[len(train) // 2 : len(train) // 2 + 64 * 1024])

    model = ByteGPT(a.width, a.layers, a.heads, a.ctx)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95))
    data = torch.tensor(np.frombuffer(train, dtype=np.uint8).astype(np.int64))
    gen = torch.Generator().manual_seed(a.seed)
    warmup = 50
    t0 = time.time()
    for step in range(a.steps):
        lr = a.lr * min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / a.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(data) - a.ctx - 1, (a.batch,), generator=gen)
        x = torch.stack([data[s : s + a.ctx] for s in starts])
        y = torch.stack([data[s + 1 : s + a.ctx + 1] for s in starts])
        loss = F.cross_entropy(model(x).view(-1, 256), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == a.steps - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  lr {lr:.2e}  {time.time() - t0:7.1f} s", flush=True)

    # The committed weights are F16: evaluate exactly those.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    nll, count = evaluate(model, eval_slice, 256, 128)
    meta = {"format": "eigenq-lm", "width": str(a.width), "layers": str(a.layers), "heads": str(a.heads),
            "ctx": str(a.ctx), "vocab": "256", "gelu": "erf", "layer_norm_eps": "1e-05",
            "steps": str(a.steps), "batch": str(a.batch), "lr": str(a.lr), "seed": str(a.seed),
            "heldout_nll": f"{nll:.6f}", "heldout_perplexity": f"{math.exp(nll):.6f}",
            "heldout_bytes_scored": str(count)}
    write_safetensors(os.path.join(a.out, "lm.safetensors"), state_names(model), meta)
    print(f"held-out: {count} bytes scored, loss {nll:.6f} nats/byte, perplexity {math.exp(nll):.4f}, "
          f"{nll / math.log(2):.4f} bits/byte; trained {a.steps} steps in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
