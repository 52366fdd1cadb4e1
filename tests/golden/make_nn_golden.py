#!/usr/bin/python3
"""Generate eigenq's quantized-Linear golden file from PyTorch.

Reference: Debian's python3-torch 1.13 (run with /usr/bin/python3). Debian's
build has no FBGEMM, so the quantized engine is oneDNN; its dynamic Linear
computes dequant(quantize_per_tensor_dynamic(x)) @ dequant(W)^T + b (checked
below to ~1e-7). CI never runs this script; it reads the committed output:

    tests/golden/dynamic_linear_pytorch.txt

Each case: a float Linear (weight [out, in], bias), converted with
torch.ao.quantization.quantize_dynamic (per-tensor or per-channel qint8
weights), an input batch, the weight codes/scales torch chose, the activation
scale/zero point of torch.quantize_per_tensor_dynamic(x, quint8, reduce_range)
(the same C++ ChooseQuantizationParams the dynamic Linear calls), and the
output of torch.ops.quantized.linear_dynamic(x, packed, reduce_range).
Format: as linear_pytorch.txt (see README.md): floats as float32 bit patterns.

Usage: /usr/bin/python3 tests/golden/make_nn_golden.py
"""

import os
import warnings
import zlib

import numpy as np
import torch

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
torch.backends.quantized.engine = "onednn"

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "dynamic_linear_pytorch.txt")


def hexf(values):
    a = np.asarray(values, dtype=np.float32).ravel()
    return " ".join("%08x" % v for v in a.view(np.uint32))


def vec(key, values, ints=False):
    a = np.asarray(values).ravel()
    body = " ".join(str(int(v)) for v in a) if ints else hexf(a)
    return "%s %d %s" % (key, a.size, body)


def make_case(name, batch, in_f, out_f, per_channel, reduce_range, x_scale, x_shift):
    torch.manual_seed(zlib.crc32(name.encode()))
    lin = torch.nn.Linear(in_f, out_f)
    # Rows with different spreads make per-channel scales matter.
    with torch.no_grad():
        lin.weight.mul_(torch.linspace(0.2, 3.0, out_f).unsqueeze(1))
    model = torch.nn.Sequential(lin)
    qconfig = (torch.ao.quantization.per_channel_dynamic_qconfig if per_channel
               else torch.ao.quantization.default_dynamic_qconfig)
    q = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear: qconfig}, dtype=torch.qint8)
    qlin = q[0]
    x = torch.randn(batch, in_f) * x_scale + x_shift
    packed = qlin._packed_params._packed_params
    y = torch.ops.quantized.linear_dynamic(x, packed, reduce_range=reduce_range)
    w = qlin.weight()
    if per_channel:
        w_scales = w.q_per_channel_scales().numpy()
        w_zps = w.q_per_channel_zero_points().numpy()
    else:
        w_scales = np.array([w.q_scale()])
        w_zps = np.array([w.q_zero_point()])
    xq = torch.quantize_per_tensor_dynamic(x, torch.quint8, reduce_range)
    # Sanity: the documented semantics reproduce torch's output closely.
    emu = xq.dequantize().double() @ w.dequantize().double().T + lin.bias.detach().double()
    err = (y.double() - emu).abs().max().item()
    assert err < 1e-5 * max(1.0, y.abs().max().item()), (name, err)
    lines = [
        "case " + name,
        "kind dynamic_linear",
        "engine onednn",
        "weight_qscheme " + ("per_channel_symmetric" if per_channel else "per_tensor_symmetric"),
        "reduce_range %d" % int(reduce_range),
        vec("shape", [batch, in_f, out_f], ints=True),
        vec("weight", lin.weight.detach().numpy()),
        vec("bias", lin.bias.detach().numpy()),
        vec("input", x.numpy()),
        vec("weight_codes", w.int_repr().numpy(), ints=True),
        vec("weight_scale", w_scales),
        vec("weight_zero_point", w_zps, ints=True),
        vec("input_scale", [xq.q_scale()]),
        vec("input_zero_point", [xq.q_zero_point()], ints=True),
        vec("input_codes", xq.int_repr().numpy(), ints=True),
        vec("output", y.numpy()),
        "end",
    ]
    return "\n".join(lines) + "\n"


def params_case(name, reduce_range):
    """Activation parameters of quantize_per_tensor_dynamic for many ranges."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    mins, maxs, scales, zps = [], [], [], []
    pairs = [(0.0, 0.0), (-1.0, 1.0), (0.0, 1.0), (-1.0, 0.0), (1e-9, 2e-9), (-3e-6, 1e-6),
             (-1e-30, 1e-30), (5.0, 5.0), (-2.0, -2.0), (-127.5, 127.5), (-3e38, 3e38)]
    while len(pairs) < 300:
        a = float(np.exp(rng.uniform(np.log(1e-7), np.log(1e5))))
        b = float(np.exp(rng.uniform(np.log(1e-7), np.log(1e5))))
        kind = rng.integers(0, 4)
        lo, hi = (-a, b) if kind < 2 else ((min(a, b), max(a, b)) if kind == 2 else (-max(a, b), -min(a, b)))
        pairs.append((lo, hi))
    for lo, hi in pairs:
        x = torch.tensor([lo, hi], dtype=torch.float32)
        xq = torch.quantize_per_tensor_dynamic(x, torch.quint8, reduce_range)
        mins.append(x[0].item())
        maxs.append(x[1].item())
        scales.append(xq.q_scale())
        zps.append(xq.q_zero_point())
    lines = ["case " + name, "kind dynamic_params", "reduce_range %d" % int(reduce_range),
             vec("observed_min", mins), vec("observed_max", maxs), vec("scale", scales),
             vec("zero_point", zps, ints=True), "end"]
    return "\n".join(lines) + "\n"


def main():
    cases = [params_case("dyn_params_rr0", False), params_case("dyn_params_rr1", True)]
    for per_channel in (False, True):
        for reduce_range in (True, False):
            for (batch, in_f, out_f, xs, xm) in [(1, 64, 10, 1.0, 0.0), (5, 37, 33, 3.0, 0.5),
                                                  (8, 40, 24, 0.5, -0.2), (3, 9, 70, 2.0, 1.0)]:
                name = "dyn_%s_rr%d_%dx%dx%d" % ("pc" if per_channel else "pt", int(reduce_range),
                                                  batch, in_f, out_f)
                cases.append(make_case(name, batch, in_f, out_f, per_channel, reduce_range, xs, xm))
    # All-positive inputs (zero point at the low end) and all-zero inputs.
    cases.append(make_case("dyn_pc_rr1_positive", 4, 32, 16, True, True, 1.0, 5.0))
    cases.append(make_case("dyn_pc_rr0_zeros", 2, 16, 8, True, False, 0.0, 0.0))
    with open(OUT, "w") as f:
        f.write("# eigenq golden file: dynamic quantized Linear\n")
        f.write("# generator: tests/golden/make_nn_golden.py (run with /usr/bin/python3)\n")
        f.write("# reference: torch %s (Debian python3-torch), engine onednn, numpy %s\n"
                % (torch.__version__, np.__version__))
        f.write("# cases: %d\n\n" % len(cases))
        f.write("\n".join(cases))
    print("wrote %d cases to %s" % (len(cases), OUT))


if __name__ == "__main__":
    main()
