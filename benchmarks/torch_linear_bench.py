#!/usr/bin/python3
"""PyTorch's dynamic quantized Linear and float Linear at 4096x4096, batch 1
and 256, single thread; with --eigenq BENCH, also runs eigenq_bench's
linear_* benchmarks and prints the ratios.

Debian's python3-torch 1.13 has no FBGEMM: the quantized engine is oneDNN
(the x86 engine PyTorch also ships). Run with /usr/bin/python3:

    /usr/bin/python3 benchmarks/torch_linear_bench.py --eigenq build/bench/benchmarks/eigenq_bench
"""

import argparse
import json
import subprocess
import time
import warnings

import torch

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
torch.backends.quantized.engine = "onednn"


def best_time(f, min_seconds=1.0, repeats=5):
    """Best of `repeats` averages, each over at least min_seconds / repeats."""
    f()  # warm up (packing, first-call allocations)
    best = float("inf")
    for _ in range(repeats):
        n = 0
        t0 = time.perf_counter()
        while True:
            f()
            n += 1
            t = time.perf_counter() - t0
            if t > min_seconds / repeats:
                break
        best = min(best, t / n)
    return best


def torch_times(batch, n_in=4096, n_out=4096):
    torch.manual_seed(0)
    lin = torch.nn.Linear(n_in, n_out)
    with torch.no_grad():
        lin.weight.normal_(0.0, 0.02)
    # Per-channel symmetric qint8 weights, as eigenq's DynamicLinear default.
    lin.qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
    dyn = torch.ao.nn.quantized.dynamic.Linear.from_float(lin)
    x = torch.randn(batch, n_in)
    with torch.no_grad():
        t_dyn = best_time(lambda: dyn(x))
        t_f32 = best_time(lambda: lin(x))
    return t_dyn, t_f32


def eigenq_times(bench):
    out = subprocess.run([bench, "--benchmark_filter=^linear_", "--benchmark_format=json",
                          "--benchmark_min_time=1", "--benchmark_repetitions=3",
                          "--benchmark_report_aggregates_only=true"],
                         check=True, capture_output=True, text=True).stdout
    times = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        unit = {"us": 1e-6, "ms": 1e-3, "ns": 1e-9}[b["time_unit"]]
        name = b["run_name"]
        if name.endswith("/real_time"):
            name = name[: -len("/real_time")]
        times[name] = b["real_time"] * unit
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eigenq", help="path to eigenq_bench: also run its linear_* benchmarks")
    args = ap.parse_args()
    print("torch %s, engine %s, 1 thread" % (torch.__version__, torch.backends.quantized.engine))
    eq = eigenq_times(args.eigenq) if args.eigenq else {}
    print("%-22s %14s %14s %14s %14s %12s %12s" % ("shape", "torch dyn us", "torch f32 us", "eigenq dyn us",
                                                  "eigen f32 us", "vs torch dyn", "vs eigen f32"))
    for batch in (1, 256):
        t_dyn, t_f32 = torch_times(batch)
        shape = "%dx4096x4096" % batch
        e_dyn = eq.get("linear_dynamic/eigenq/" + shape)
        e_f32 = eq.get("linear_f32/eigen/" + shape)
        fmt = lambda t: "%14.1f" % (t * 1e6) if t else "%14s" % "-"
        ratio = lambda a, b: "%11.2fx" % (a / b) if a and b else "%12s" % "-"
        print("%-22s %s %s %s %s %s %s" % (shape, fmt(t_dyn), fmt(t_f32), fmt(e_dyn), fmt(e_f32),
                                           ratio(t_dyn, e_dyn), ratio(e_f32, e_dyn)))
    print("ratios: how many times faster eigenq's DynamicLinear is than each peer (> 1 is faster)")


if __name__ == "__main__":
    main()
