#!/usr/bin/python3
"""Checks examples/python/collect_stats.py (ctest methods_collect_stats_python): the statistics of
a small model with nested modules, 3-D inputs and an unused Linear, against numpy sums of the
inputs captured independently; the file it writes, parsed here byte by byte per
docs/calibration_stats.md; and the committed demo file tests/methods/data/collect_stats_demo.safetensors
(read by tests/methods/calibration_stats_test.cpp) against a fresh run."""

import json
import os
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "python"))
import collect_stats  # noqa: E402

KINDS = {"F32": "<f4", "F64": "<f8", "I64": "<i8"}


def read_file(path):
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    assert n % 8 == 0, "header padded to 8 bytes"
    meta = header.pop("__metadata__")
    assert meta == {"format": "eigenq.calibration_stats"}, meta
    out = {}
    end = 0
    for name, e in header.items():
        b, t = e["data_offsets"]
        arr = np.frombuffer(data[8 + n + b:8 + n + t], dtype=KINDS[e["dtype"]]).reshape(e["shape"])
        base, field = name.rsplit(".", 1)
        out.setdefault(base, {})[field] = (e["dtype"], arr)
        end = max(end, t)
    assert 8 + n + end == len(data), "the tensors cover the data section"
    return out


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = torch.nn.Sequential(torch.nn.LayerNorm(12), torch.nn.Linear(12, 6))
        self.unused = torch.nn.Linear(6, 3)
        self.out = torch.nn.Linear(6, 5, bias=False)

    def forward(self, x):
        return self.out(torch.relu(self.attn(x)))


def main():
    torch.manual_seed(1)
    model = Block()
    batches = [torch.randn(2, 7, 12), torch.randn(3, 4, 12), torch.randn(1, 1, 12)]
    captured = {}

    def grab(name):
        def hook(m, inputs):
            captured.setdefault(name, []).append(inputs[0].detach().reshape(-1, m.in_features).double().numpy())
        return hook

    hooks = [model.attn[1].register_forward_pre_hook(grab("attn.1.weight")),
             model.out.register_forward_pre_hook(grab("out.weight"))]
    stats = collect_stats.collect_stats(model, batches)
    for h in hooks:
        h.remove()
    assert sorted(stats) == ["attn.1.weight", "out.weight"], sorted(stats)  # "unused" saw nothing
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for hdtype in ("F32", "F64"):
            path = os.path.join(tmp, "stats.safetensors")
            collect_stats.write_stats(path, stats, hessian_dtype=hdtype)
            got = read_file(path)
            for name, xs in captured.items():
                x = np.concatenate(xs)
                want = {"hessian": x.T @ x, "in_sum": x.sum(0), "in_sum2": (x * x).sum(0),
                        "in_abs_sum": np.abs(x).sum(0), "in_abs_max": np.abs(x).max(0)}
                g = got[name]
                assert g["count"][0] == "I64" and g["count"][1].tolist() == [x.shape[0]], g["count"]
                for field, w in want.items():
                    dtype, arr = g[field]
                    assert dtype == (hdtype if field == "hessian" else "F32"), (field, dtype)
                    assert arr.shape == w.shape, (name, field, arr.shape)
                    tol = 1e-12 if dtype == "F64" else 2e-6
                    err = np.max(np.abs(arr - w)) / max(np.max(np.abs(w)), 1e-30)
                    if err > tol:
                        print("FAIL %s.%s (%s): relative error %g" % (name, field, dtype, err))
                        failures += 1
                h = g["hessian"][1]
                assert np.array_equal(h, h.T), "the Hessian is written exactly symmetric"
        demo = os.path.join(tmp, "demo.safetensors")
        sys.argv = ["collect_stats.py", "--demo", demo]
        collect_stats.main()
        fresh = read_file(demo)
        committed = read_file(os.path.join(HERE, "data", "collect_stats_demo.safetensors"))
        assert sorted(fresh) == sorted(committed) == ["fc1.weight", "fc2.weight"]
        for name in fresh:
            for field, (dtype, arr) in fresh[name].items():
                cdtype, carr = committed[name][field]
                exact = name == "fc1.weight"  # exact inputs; fc2's come from float matmuls
                ok = dtype == cdtype and (np.array_equal(arr, carr) if exact else np.allclose(arr, carr, rtol=1e-5))
                if not ok:
                    print("FAIL demo %s.%s differs from the committed file" % (name, field))
                    failures += 1
    print("%d passed, %d failed" % (1 if failures == 0 else 0, 1 if failures else 0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
