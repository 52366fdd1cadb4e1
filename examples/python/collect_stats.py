#!/usr/bin/python3
"""Collect eigenq calibration statistics from a PyTorch model (docs/calibration_stats.md).

Hooks the input of every torch.nn.Linear of a model, runs calibration data through it, and
writes per Linear (NAME = the module's name + ".weight", the name of its weight in the model's
state_dict and in a safetensors export) the statistics eigenq's GPTQ, AWQ, importance-weighted
rounding, SmoothQuant and bias correction read:

    NAME.hessian     [in, in]  F32 (or F64)  sum x x^T
    NAME.in_sum      [in]      F32           sum x
    NAME.in_sum2     [in]      F32           sum x^2
    NAME.in_abs_sum  [in]      F32           sum |x|
    NAME.in_abs_max  [in]      F32           max |x|
    NAME.count       [1]       I64           rows seen

Inputs of any shape [..., in] count as rows of `in` values. Sums are accumulated in float64.
No package beyond PyTorch (1.13) is needed: the safetensors file is written directly, to a
temporary file renamed into place (a failed run leaves no partial file).

As a library:

    from collect_stats import StatsCollector, write_stats
    with StatsCollector(model) as c:
        for batch in loader:
            model(batch)
    write_stats("stats.safetensors", c.stats())

From the command line, for a model saved whole (torch.save(model)) or as TorchScript, and
calibration inputs saved as one tensor (split into batches along dimension 0) or a list of
tensors:

    /usr/bin/python3 collect_stats.py --model model.pt --data calib.pt --out stats.safetensors
    /usr/bin/python3 collect_stats.py --demo stats.safetensors   # a tiny built-in model and data
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np
import torch

FORMAT = "eigenq.calibration_stats"


class StatsCollector:
    """Forward pre-hooks on every nn.Linear of `model` (or those whose name is in `names`)."""

    def __init__(self, model, hessian=True, names=None):
        self.hessian = hessian
        self.acc = {}
        self.handles = []
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear) and (names is None or name in names):
                key = (name + ".weight") if name else "weight"
                self.handles.append(module.register_forward_pre_hook(self._hook(key, module.in_features)))

    def _hook(self, key, in_features):
        def hook(module, inputs):
            x = inputs[0].detach()
            if x.shape[-1] != in_features:
                raise ValueError("%s: input of shape %s for %d features" % (key, tuple(x.shape), in_features))
            x = x.reshape(-1, in_features).to(torch.float64)
            if not torch.isfinite(x).all():
                raise ValueError("%s: the calibration input holds NaN or Inf" % key)
            a = self.acc.get(key)
            if a is None:
                a = {
                    "in_sum": torch.zeros(in_features, dtype=torch.float64),
                    "in_sum2": torch.zeros(in_features, dtype=torch.float64),
                    "in_abs_sum": torch.zeros(in_features, dtype=torch.float64),
                    "in_abs_max": torch.zeros(in_features, dtype=torch.float64),
                    "count": 0,
                }
                if self.hessian:
                    a["hessian"] = torch.zeros(in_features, in_features, dtype=torch.float64)
                self.acc[key] = a
            a["in_sum"] += x.sum(0)
            a["in_sum2"] += (x * x).sum(0)
            a["in_abs_sum"] += x.abs().sum(0)
            if x.shape[0] > 0:
                a["in_abs_max"] = torch.maximum(a["in_abs_max"], x.abs().max(0).values)
            if self.hessian:
                a["hessian"] += x.t() @ x
            a["count"] += x.shape[0]
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()
        self.handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()

    def stats(self):
        """{NAME: {field: numpy array}} for every Linear that saw at least one row."""
        out = {}
        for key, a in self.acc.items():
            if a["count"] == 0:
                continue
            s = {k: v.numpy() for k, v in a.items() if k != "count"}
            if "hessian" in s:
                s["hessian"] = 0.5 * (s["hessian"] + s["hessian"].T)  # exactly symmetric
            s["count"] = np.array([a["count"]], dtype=np.int64)
            out[key] = s
        return out


def collect_stats(model, batches, hessian=True):
    """Runs every batch through the model (no gradients) and returns the statistics."""
    with StatsCollector(model, hessian=hessian) as c, torch.no_grad():
        for b in batches:
            model(b)
    return c.stats()


def write_stats(path, stats, hessian_dtype="F32"):
    """Writes {NAME: {field: array}} as eigenq's calibration statistics safetensors file."""
    if hessian_dtype not in ("F32", "F64"):
        raise ValueError("hessian_dtype must be F32 or F64")
    kinds = {"F32": "<f4", "F64": "<f8", "I64": "<i8"}
    entries = []
    for name in sorted(stats):
        for field in ("hessian", "in_sum", "in_sum2", "in_abs_sum", "in_abs_max", "count"):
            if field not in stats[name]:
                continue
            v = np.asarray(stats[name][field])
            dtype = "I64" if field == "count" else (hessian_dtype if field == "hessian" else "F32")
            entries.append((name + "." + field, dtype, np.ascontiguousarray(v.astype(kinds[dtype]))))
    header = {"__metadata__": {"format": FORMAT}}
    offset = 0
    for tname, dtype, data in entries:
        header[tname] = {"dtype": dtype, "shape": list(data.shape), "data_offsets": [offset, offset + data.nbytes]}
        offset += data.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # what a plain open() would give
        with os.fdopen(fd, "wb") as f:
            f.write(len(text).to_bytes(8, "little"))
            f.write(text)
            for _, _, data in entries:
                f.write(data.tobytes())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def demo_model_and_data():
    """A tiny model (fc1: 8 -> 16, ReLU, fc2: 16 -> 4) and 3 batches of 10 rows with exact inputs
    x[t, j] = ((7 t + 13 j) mod 17 - 8) / 4 (tests/methods/calibration_stats_test.cpp repeats them)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential()
    model.add_module("fc1", torch.nn.Linear(8, 16))
    model.add_module("relu", torch.nn.ReLU())
    model.add_module("fc2", torch.nn.Linear(16, 4))
    t = np.arange(30)[:, None]
    j = np.arange(8)[None, :]
    x = torch.tensor((((7 * t + 13 * j) % 17) - 8) / 4.0, dtype=torch.float32)
    return model, [x[0:10], x[10:20], x[20:30]]


def main():
    ap = argparse.ArgumentParser(description="Collect eigenq calibration statistics of every nn.Linear input.")
    ap.add_argument("--model", help="a model saved with torch.save(model) or as TorchScript")
    ap.add_argument("--data", help="calibration inputs: one tensor (batched along dim 0) or a list of tensors")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", help="the statistics file to write")
    ap.add_argument("--no-hessian", action="store_true", help="sums only (no [in, in] Hessian)")
    ap.add_argument("--hessian-dtype", choices=["F32", "F64"], default="F32")
    ap.add_argument("--demo", metavar="OUT", help="write the statistics of a tiny built-in model (Hessian F64)")
    args = ap.parse_args()
    if args.demo:
        model, batches = demo_model_and_data()
        write_stats(args.demo, collect_stats(model, batches), hessian_dtype="F64")
        return 0
    if not (args.model and args.data and args.out):
        ap.error("--model, --data and --out are needed (or --demo OUT)")
    try:
        model = torch.jit.load(args.model)
    except (RuntimeError, ValueError):
        model = torch.load(args.model)
    model.eval()
    data = torch.load(args.data)
    batches = list(data) if isinstance(data, (list, tuple)) else list(torch.split(data, args.batch_size))
    stats = collect_stats(model, batches, hessian=not args.no_hessian)
    if not stats:
        print("collect_stats: no nn.Linear saw any input", file=sys.stderr)
        return 2
    write_stats(args.out, stats, hessian_dtype=args.hessian_dtype)
    print("wrote %s: %d weights" % (args.out, len(stats)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
