#!/usr/bin/python3
"""Generate (and verify) eigenq's linear-quantization golden files from PyTorch.

Reference: Debian's python3-torch (torch.__version__ == "1.13.0a0"), run with
/usr/bin/python3.  CI never runs this script; it only reads the committed
output files:

    tests/golden/linear_pytorch.txt     quantize + params cases
    tests/golden/observers_pytorch.txt  moving-average and streaming min-max observer cases

Usage:
    /usr/bin/python3 tests/golden/make_linear_golden.py            # regenerate
    /usr/bin/python3 tests/golden/make_linear_golden.py --verify   # re-read the
        files and check them against float32 numpy re-implementations
        (prints the arithmetic findings recorded in README.md)

The output is deterministic: every case seeds torch with
torch.manual_seed(crc32(case name)) before drawing its data, so adding or
removing a case does not change the others.  See README.md for the format.
"""

import argparse
import math
import os
import sys
import warnings
import zlib
from fractions import Fraction

import numpy as np
import torch
from torch.ao.quantization import (
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver,
    PerChannelMinMaxObserver,
)

warnings.filterwarnings("ignore")  # reduce_range deprecation chatter
torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
LINEAR_FILE = os.path.join(HERE, "linear_pytorch.txt")
OBSERVERS_FILE = os.path.join(HERE, "observers_pytorch.txt")

F32 = np.float32
DTYPES = {"qint8": torch.qint8, "quint8": torch.quint8}
DTYPE_RANGE = {"qint8": (-128, 127), "quint8": (0, 255)}
QSCHEMES = {
    "per_tensor_affine": torch.per_tensor_affine,
    "per_tensor_symmetric": torch.per_tensor_symmetric,
    "per_channel_affine": torch.per_channel_affine,
    "per_channel_symmetric": torch.per_channel_symmetric,
}


# --------------------------------------------------------------------------
# formatting helpers
# --------------------------------------------------------------------------

def f32_bits(values):
    a = np.ascontiguousarray(np.asarray(values, dtype=F32)).reshape(-1)
    return ["%08x" % int(b) for b in a.view(np.uint32)]


def bits_to_f32(tokens):
    return np.array([int(t, 16) for t in tokens], dtype=np.uint32).view(F32)


def seed_for(name):
    torch.manual_seed(zlib.crc32(name.encode()))


class Record:
    def __init__(self, name):
        assert " " not in name, name
        self.name = name
        self.lines = []
        self.keys = set()

    def add(self, key, *tokens):
        assert key not in self.keys, (self.name, key)
        self.keys.add(key)
        self.lines.append(" ".join([key] + [str(t) for t in tokens]))

    def vec_f32(self, key, values):
        b = f32_bits(values)
        self.add(key, len(b), *b)

    def vec_int(self, key, values):
        v = [int(x) for x in np.asarray(values).reshape(-1)]
        self.add(key, len(v), *v)

    def text(self):
        return "\n".join(["case " + self.name] + self.lines + ["end"]) + "\n"


def header(title):
    return [
        "# eigenq golden file: %s" % title,
        "# generator: tests/golden/make_linear_golden.py (run with /usr/bin/python3)",
        "# reference: torch %s (Debian python3-torch), numpy %s" % (torch.__version__, np.__version__),
        "# floats are IEEE-754 binary32 bit patterns in hex; vectors are '<key> <count> <values...>'",
    ]


def cpu_capability():
    cfg = torch.__config__.show()
    marker = "CPU capability usage:"
    if marker in cfg:
        return cfg.split(marker)[1].split()[0]
    return "unknown"


# --------------------------------------------------------------------------
# data generators (all torch, all seeded by the caller)
# --------------------------------------------------------------------------

def rand_floats(n, emin, emax):
    """n positive float64 values, each exactly a float32: (1 + m/2^23) * 2^e with a
    random 23-bit mantissa m and a random exponent e in [emin, emax].
    Built from torch.randint only (no transcendental functions), so the data do
    not depend on the CPU capability torch dispatches to."""
    m = torch.randint(0, 1 << 23, (n,), dtype=torch.int64).tolist()
    e = torch.randint(emin, emax + 1, (n,), dtype=torch.int64).tolist()
    return np.array([math.ldexp(1.0 + mi / float(1 << 23), ei) for mi, ei in zip(m, e)], dtype=np.float64)


def rand_signs(n, p_pos=0.5):
    u = np.array(torch.randint(0, 1 << 20, (n,), dtype=torch.int64).tolist())
    return np.where(u < p_pos * (1 << 20), 1.0, -1.0)


def rand_unit(n):
    """uniform in [0, 1) on a 2^-24 grid."""
    return np.array(torch.randint(0, 1 << 24, (n,), dtype=torch.int64).tolist(), dtype=np.float64) / float(1 << 24)


def make_data(shape, mode):
    """float32 test data; all arithmetic here is exact or IEEE-rounded float64."""
    n = int(np.prod(shape))
    mag = float(rand_floats(1, -3, 2)[0])
    if mode == "mixed":
        x = rand_signs(n) * rand_floats(n, -6, 0) * mag
    elif mode == "skew":
        x = rand_signs(n, 0.8) * rand_floats(n, -6, 0) * mag + 0.75 * mag
    elif mode == "pos":
        x = rand_floats(n, -6, 0) * mag + 0.125 * mag
    elif mode == "neg":
        x = -(rand_floats(n, -6, 0) * mag + 0.125 * mag)
    elif mode == "uniform":
        x = (2.0 * rand_unit(n) - 1.0) * mag
    else:
        raise ValueError(mode)
    return torch.from_numpy(x.astype(F32).reshape(shape))


# --------------------------------------------------------------------------
# observer-driven quantize cases
# --------------------------------------------------------------------------

def make_observer(cls, dtype, qscheme, reduce_range, qrange, axis=None, **kw):
    args = dict(dtype=DTYPES[dtype], qscheme=QSCHEMES[qscheme], reduce_range=reduce_range)
    if qrange is not None:
        args["quant_min"], args["quant_max"] = qrange
    if axis is not None:
        args["ch_axis"] = axis
    args.update(kw)
    return cls(**args)


def observer_fields(rec, obs, dtype, qscheme, axis):
    rec.add("dtype", dtype)
    rec.add("qscheme", qscheme)
    rec.add("axis", axis)
    rec.add("quant_min", obs.quant_min)
    rec.add("quant_max", obs.quant_max)
    rec.add("reduce_range", int(bool(obs.reduce_range)))
    rec.add("custom_range", int(bool(obs.has_customized_qrange)))


def quantize_with(x, dtype, per_channel, scale, zp, axis):
    if per_channel:
        q = torch.quantize_per_channel(x, scale.to(torch.float32), zp.to(torch.int64), axis, DTYPES[dtype])
    else:
        q = torch.quantize_per_tensor(x, float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0]), DTYPES[dtype])
    return q.int_repr().to(torch.int64), q.dequantize()


def fake_quant_with(x, per_channel, scale, zp, axis, qmin, qmax):
    """torch's fake quantization (clamps to quant_min/quant_max); None if torch rejects."""
    try:
        if per_channel:
            return torch.fake_quantize_per_channel_affine(
                x, scale.to(torch.float32), zp.to(torch.int32), axis, qmin, qmax)
        return torch.fake_quantize_per_tensor_affine(
            x, float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0]), qmin, qmax)
    except RuntimeError:
        return None


def observer_quantize_case(name, x, dtype, qscheme, reduce_range=False, qrange=None, axis=None):
    per_channel = qscheme.startswith("per_channel")
    if per_channel:
        obs = make_observer(PerChannelMinMaxObserver, dtype, qscheme, reduce_range, qrange, axis=axis)
    else:
        obs = make_observer(MinMaxObserver, dtype, qscheme, reduce_range, qrange)
    obs(x)
    scale, zp = obs.calculate_qparams()
    codes, deq = quantize_with(x, dtype, per_channel, scale, zp, axis)

    rec = Record(name)
    rec.add("kind", "quantize")
    rec.add("observer", type(obs).__name__)
    observer_fields(rec, obs, dtype, qscheme, axis if per_channel else -1)
    if not bool(torch.isfinite(scale).all()):
        rec.add("note", "max-min_overflows_float32:scale_is_inf,codes_are_zero_point,dequant_is_NaN")
    rec.add("shape", x.dim(), *x.shape)
    rec.vec_f32("input", x.numpy())
    rec.vec_f32("observed_min", obs.min_val.reshape(-1).numpy())
    rec.vec_f32("observed_max", obs.max_val.reshape(-1).numpy())
    rec.vec_f32("scale", scale.reshape(-1).numpy())
    rec.vec_int("zero_point", zp.reshape(-1).numpy())
    rec.vec_int("codes", codes.numpy())
    rec.vec_f32("dequant", deq.numpy())
    dmin, dmax = DTYPE_RANGE[dtype]
    if (obs.quant_min, obs.quant_max) != (dmin, dmax):
        fq = fake_quant_with(x, per_channel, scale, zp, axis, obs.quant_min, obs.quant_max)
        if fq is not None:
            rec.vec_f32("fake_quant", fq.numpy())
    return rec


def explicit_quantize_case(name, x, dtype, scales, zps, axis=-1, fake_range=None, ub=False, note=None):
    """quantize_per_tensor / quantize_per_channel with caller-chosen parameters."""
    x = torch.as_tensor(np.asarray(x, dtype=F32))
    per_channel = axis >= 0
    scale = torch.tensor(np.asarray(scales, dtype=F32).reshape(-1))
    zp = torch.tensor(np.asarray(zps, dtype=np.int64).reshape(-1))
    codes, deq = quantize_with(x, dtype, per_channel, scale, zp, axis)
    dmin, dmax = DTYPE_RANGE[dtype]
    rec = Record(name)
    rec.add("kind", "quantize")
    rec.add("observer", "none")
    rec.add("dtype", dtype)
    rec.add("qscheme", "per_channel_affine" if per_channel else "per_tensor_affine")
    rec.add("axis", axis)
    qmin, qmax = fake_range if fake_range else (dmin, dmax)
    rec.add("quant_min", qmin)
    rec.add("quant_max", qmax)
    rec.add("reduce_range", 0)
    rec.add("custom_range", int(fake_range is not None))
    if ub:
        rec.add("torch_ub", 1)
    if note:
        rec.add("note", note)
    rec.add("shape", x.dim(), *x.shape)
    rec.vec_f32("input", x.numpy())
    rec.vec_f32("scale", scale.numpy())
    rec.vec_int("zero_point", zp.numpy())
    rec.vec_int("codes", codes.numpy())
    rec.vec_f32("dequant", deq.numpy())
    if fake_range is not None:
        fq = fake_quant_with(x, per_channel, scale, zp, axis, qmin, qmax)
        assert fq is not None, name
        rec.vec_f32("fake_quant", fq.numpy())
    return rec


# Observer configurations: (dtype, scheme kind, reduce_range, custom range or None)
def observer_configs():
    cfgs = []
    for dtype in ("qint8", "quint8"):
        customs = [(-8, 7), (-127, 127)] if dtype == "qint8" else [(0, 15), (0, 127)]
        for sym in (False, True):
            for rr, qrange in ((False, None), (True, None), (False, customs[0]), (False, customs[1]),
                               (True, customs[0])):
                if rr and sym and dtype == "quint8":
                    continue  # torch: "Cannot reduce range for symmetric quantization for quint8"
                cfgs.append((dtype, sym, rr, qrange))
    return cfgs


def cfg_tag(dtype, sym, rr, qrange):
    tag = "%s_%s_rr%d" % (dtype, "sym" if sym else "aff", int(rr))
    if qrange is not None:
        tag += "_q%d_%d" % qrange
    return tag


def per_tensor_observer_cases():
    out = []
    shapes = [(7,), (3, 13), (37,), (1,), (1, 1)]
    modes = ["mixed", "skew", "pos", "neg", "uniform"]
    plan = []
    k = 0
    for cfg in observer_configs():
        for rep in range(2):
            plan.append((cfg, shapes[k % len(shapes)], modes[(k // 2 + rep) % len(modes)]))
            k += 1
    # a few larger tensors (vectorised body + scalar tail in torch's kernels)
    plan.append((("qint8", False, False, None), (5, 9, 3), "mixed"))
    plan.append((("quint8", False, False, None), (2, 3, 5, 7), "skew"))
    plan.append((("qint8", True, False, (-8, 7)), (5, 9, 3), "uniform"))
    for (dtype, sym, rr, qrange), shape, mode in plan:
        qscheme = "per_tensor_symmetric" if sym else "per_tensor_affine"
        name = "obs_pt_%s_%s_%s" % (cfg_tag(dtype, sym, rr, qrange), "x".join(map(str, shape)), mode)
        seed_for(name)
        x = make_data(shape, mode)
        out.append(observer_quantize_case(name, x, dtype, qscheme, rr, qrange))
    return out


def per_channel_observer_cases():
    out = []
    # (shape, axis, how many configs)
    plan = [
        ((3, 13), 0, 3), ((3, 13), 1, 3),
        ((5, 9, 3), 0, 1), ((5, 9, 3), 1, 1), ((5, 9, 3), 2, 1),
        ((2, 3, 5, 7), 3, 1), ((2, 3, 5, 7), 1, 1),
        # rank-1 inputs are rejected by PerChannelMinMaxObserver in torch 1.13 (flatten(start_dim=1))
        ((7, 1), 0, 4), ((1, 5), 0, 3), ((1, 1), 0, 2), ((1, 1), 1, 2),
    ]
    cfgs = observer_configs()
    modes = ["mixed", "skew", "uniform", "pos", "neg"]
    k = 0
    for shape, axis, count in plan:
        for _ in range(count):
            dtype, sym, rr, qrange = cfgs[k % len(cfgs)]
            mode = modes[k % len(modes)]
            k += 1
            qscheme = "per_channel_symmetric" if sym else "per_channel_affine"
            name = "obs_pc_%s_%s_ax%d_%s" % (cfg_tag(dtype, sym, rr, qrange), "x".join(map(str, shape)), axis, mode)
            seed_for(name)
            x = make_data(shape, mode)
            if k % 3 == 0 and shape[axis] > 1:
                # give every channel its own magnitude
                sh = [1] * len(shape)
                sh[axis] = shape[axis]
                factor = rand_floats(shape[axis], -5, 4).astype(F32).reshape(sh)
                x = torch.from_numpy((x.numpy() * factor).astype(F32))
            out.append(observer_quantize_case(name, x, dtype, qscheme, rr, qrange, axis=axis))
    return out


def all_schemes():
    for dtype in ("qint8", "quint8"):
        for qs in ("per_tensor_affine", "per_tensor_symmetric"):
            yield dtype, qs


def edge_observer_cases():
    out = []
    t = lambda v: torch.tensor(np.asarray(v, dtype=F32))

    special = {
        "seed_worked_example": None,  # handled below
        "tiny_pos": t([1e-38, 3e-35, 1e-30, 2.5e-32, 7e-37, 1e-33, 4e-31]),
        "tiny_mixed": t([-1e-30, 5e-31, -2e-38, 1e-38, 0.0, -7.5e-31, 1e-30]),
        "huge_mixed": t([-1e30, 5e29, -2.5e29, 1e30, 0.0, 7.7e29, -9.9e29]),
        "huge_pos": t([1e30, 3e38, 2e37, 5e35, 1.5e38, 3e38, 1e36]),
        "huge_full": t([-3e38, 3e38, 1e38, -1e38, 0.0, 2e37, -3e38]),
        "equal_pos": t([2.5] * 7),
        "equal_neg": t([-3.25] * 7),
        "zeros": t([0.0] * 7),
        "neg_zeros": t([-0.0, 0.0, -0.0, 0.0, -0.0, -0.0, 0.0]),
        "denormal_mixed": t([1e-40, -1e-42, 0.75, -0.3, 0.0, -0.0, 1.4e-45, -1e-40, 0.5]),
        "denormal_only": t([1e-40, -1e-42, 1.4e-45, -1e-40, 0.0, 5e-41, -3e-39]),
    }
    # seed worked example from the design notes: quint8 affine on [-1, 0.5, 1]
    out.append(observer_quantize_case("seed_example_quint8_aff_neg1_0.5_1",
                                      t([-1.0, 0.5, 1.0]), "quint8", "per_tensor_affine"))
    for key, x in special.items():
        if x is None:
            continue
        for dtype, qs in all_schemes():
            name = "edge_obs_%s_%s_%s" % (key, dtype, "sym" if qs.endswith("symmetric") else "aff")
            out.append(observer_quantize_case(name, x, dtype, qs))
    # a few with reduce_range / custom range on the special data
    out.append(observer_quantize_case("edge_obs_tiny_mixed_qint8_aff_q-8_7", special["tiny_mixed"], "qint8",
                                      "per_tensor_affine", qrange=(-8, 7)))
    out.append(observer_quantize_case("edge_obs_equal_pos_quint8_aff_q0_15", special["equal_pos"], "quint8",
                                      "per_tensor_affine", qrange=(0, 15)))
    out.append(observer_quantize_case("edge_obs_equal_neg_qint8_sym_rr1", special["equal_neg"], "qint8",
                                      "per_tensor_symmetric", reduce_range=True))

    # per channel: one channel per regime (axis 0 and axis 1 of the same data)
    rows = np.array([
        [1e-38, -1e-30, 5e-31, 0.0, 2e-35, -4e-32, 1e-30],         # tiny
        [1e30, -3e29, 0.0, 7e29, -1e30, 2e29, 5e28],               # huge
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],                       # zeros
        [-1.75, -1.75, -1.75, -1.75, -1.75, -1.75, -1.75],         # equal negative
        [4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0],                       # equal positive
        [1e-40, -1e-42, 0.75, -0.3, 0.0, -0.0, 0.5],               # denormals
    ], dtype=F32)
    for dtype in ("qint8", "quint8"):
        for qs in ("per_channel_affine", "per_channel_symmetric"):
            tag = "%s_%s" % (dtype, "sym" if qs.endswith("symmetric") else "aff")
            out.append(observer_quantize_case("edge_obs_pc_regimes_%s_ax0" % tag, t(rows), dtype, qs, axis=0))
            out.append(observer_quantize_case("edge_obs_pc_regimes_%s_ax1" % tag, t(rows.T.copy()), dtype, qs,
                                              axis=1))
    return out


def tie_inputs(scale, lo_k, hi_k):
    """float32 inputs near (k+0.5)*scale: exact ties of x*(1/scale), and
    inputs where x*(1/scale) and x/scale round to different integers."""
    s = F32(scale)
    inv = F32(F32(1.0) / s)
    exact, differ = [], []
    for k in range(lo_k, hi_k):
        target = k + 0.5
        x0 = F32(np.float64(target) * np.float64(s))
        cand = [x0]
        up = dn = x0
        for _ in range(48):
            up = np.nextafter(up, F32(np.inf), dtype=F32)
            dn = np.nextafter(dn, F32(-np.inf), dtype=F32)
            cand += [up, dn]
        for x in cand:
            mul = F32(x * inv)
            div = F32(np.float64(x) / np.float64(s))  # correctly rounded f32 division
            if mul == F32(target) and x not in exact:
                exact.append(x)
            if np.rint(mul) != np.rint(div) and x not in differ:
                differ.append(x)
    exact.sort(key=lambda v: abs(float(v)))
    differ.sort(key=lambda v: abs(float(v)))
    return exact, differ


def explicit_cases():
    out = []
    # --- exact .5 ties ------------------------------------------------------
    for scale in (1.0, 0.5, 0.25, 0.1, 0.3, 0.00214854861, 1.0 / 255.0, 2.0 / 255.0):
        s = F32(scale)
        exact, differ = tie_inputs(s, -6, 6)
        xs = exact[:20] + differ[:12]
        if scale == 0.00214854861:
            xs.append(F32(0.273939937))  # fbgemm's example: x*inv = 127.5, x/s = 127.4999
        vals = np.array(xs + [F32(0.0), F32(-0.0)], dtype=F32)
        for dtype, zp in (("qint8", 0), ("qint8", 3), ("quint8", 128), ("quint8", 127)):
            name = "ties_%s_s%08x_zp%d" % (dtype, int(np.array([s]).view(np.uint32)[0]), zp)
            out.append(explicit_quantize_case(name, vals, dtype, [s], [zp],
                                              note="x*(1/scale)_hits_k+0.5_or_x/scale_rounds_differently"))
    # --- saturation (well-defined in torch) -----------------------------------
    sat = [12.7, 12.74, 12.75, 12.76, 12.8, 12.85, 13.0, 100.0, 1e4, 1e6, 1e9, 1e12, 1e17,
           -12.8, -12.84, -12.85, -12.86, -12.9, -13.0, -100.0, -1e4, -1e6, -1e9, -1e12, -1e17,
           0.0, -0.0, 0.05, -0.05, 0.15, -0.15]
    out.append(explicit_quantize_case("saturate_qint8_s0.1_zp0", sat, "qint8", [0.1], [0]))
    out.append(explicit_quantize_case("saturate_qint8_s0.1_zp-5", sat, "qint8", [0.1], [-5]))
    out.append(explicit_quantize_case("saturate_quint8_s0.1_zp128", sat, "quint8", [0.1], [128]))
    out.append(explicit_quantize_case("saturate_quint8_s0.1_zp0", sat, "quint8", [0.1], [0]))
    out.append(explicit_quantize_case("saturate_quint8_s0.05_zp255", sat, "quint8", [0.05], [255]))
    # --- custom quant range clamping (fake_quantize clamps, quantize does not) --
    fr = np.arange(-10.0, 10.01, 0.25, dtype=F32)
    out.append(explicit_quantize_case("fake_range_qint8_q-8_7_s0.5_zp0", fr, "qint8", [0.5], [0], fake_range=(-8, 7)))
    out.append(explicit_quantize_case("fake_range_quint8_q0_15_s0.75_zp3", fr, "quint8", [0.75], [3],
                                      fake_range=(0, 15)))
    # --- UB in torch: float->int64 conversion overflow ------------------------
    # torch computes static_cast<int64_t>(zp + nearbyint(x * inv_scale)): undefined once that
    # float is >= 2^63 in magnitude, inf or NaN.  x86 cvttss2si returns INT64_MIN, which the
    # clamp turns into the dtype minimum -- right for -inf/-huge, wrong for +inf/+huge.
    ub = [1e18, 1e19, 1e30, 3e38, 3.4028235e38, float("inf"), -1e18, -1e19, -1e30, -3e38, -3.4028235e38,
          float("-inf"), 12.8, -12.9, 0.0]
    for dtype, zp in (("qint8", 0), ("quint8", 128)):
        out.append(explicit_quantize_case("overflow_ub_%s_s0.1_zp%d" % (dtype, zp), ub, dtype, [0.1], [zp], ub=True,
                                          note="x*(1/scale)>=2^63_or_inf_is_UB_in_torch:x86_gives_quant_min"))
    # --- denormal inputs with a FLT_MIN scale, huge / tiny explicit scales -----
    den = np.array([1.4e-45, 2.8e-45, 7e-45, 1e-42, -1e-42, 1e-40, -1e-40, 5.8774718e-39, 1.1754942e-38,
                    1.1754944e-38, -1.1754944e-38, 1.5e-38, 1e-36, -1e-36, 0.0, -0.0], dtype=F32)
    out.append(explicit_quantize_case("denormal_inputs_qint8_sFLT_MIN_zp0", den, "qint8", [1.1754944e-38], [0]))
    out.append(explicit_quantize_case("denormal_inputs_quint8_s2^-120_zp100", den, "quint8", [2.0 ** -120], [100]))
    out.append(explicit_quantize_case("denormal_scale_ub_quint8_s2^-140_zp100", den, "quint8", [2.0 ** -140], [100],
                                      ub=True, note="1/scale_overflows_to_inf:x*inf_and_0*inf_are_UB_in_torch"))
    out.append(explicit_quantize_case("denormal_inputs_qint8_s0.01_zp1", den, "qint8", [0.01], [1]))
    hug = np.array([1e30, -1e30, 3e38, -3e38, 1.2e38, 2.5e37, -6e37, 0.0], dtype=F32)
    out.append(explicit_quantize_case("huge_inputs_qint8_s2.4e36_zp0", hug, "qint8", [2.4e36], [0]))
    out.append(explicit_quantize_case("huge_inputs_quint8_s1e36_zp128", hug, "quint8", [1e36], [128]))
    # --- per-channel explicit: ties with different scales per channel -----------
    rows = []
    scales = [F32(1.0), F32(0.5), F32(0.1), F32(0.3)]
    for s in scales:
        exact, differ = tie_inputs(s, -3, 3)
        r = (exact + differ + [F32(0.0)] * 10)[:10]
        rows.append(r)
    rows = np.array(rows, dtype=F32)
    out.append(explicit_quantize_case("ties_pc_qint8_ax0", rows, "qint8", scales, [0, 1, -1, 5], axis=0))
    out.append(explicit_quantize_case("ties_pc_quint8_ax1", rows.T.copy(), "quint8", scales, [128, 127, 3, 0], axis=1))
    return out


# --------------------------------------------------------------------------
# params-only cases
# --------------------------------------------------------------------------

def params_pairs():
    seed_for("params_pairs")
    n_rand = 272
    # magnitudes roughly log-uniform in [2^-20, 2^20) ~ [1e-6, 1e6], full random mantissas
    a = rand_floats(n_rand, -20, 19)
    b = rand_floats(n_rand, -20, 19)
    kind = torch.randint(0, 6, (n_rand,))
    pairs = []
    for i in range(n_rand):
        ai, bi, k = float(a[i]), float(b[i]), int(kind[i])
        if k <= 2:    # min <= 0 <= max
            lo, hi = -ai, bi
        elif k == 3:  # both positive
            lo, hi = min(ai, bi), max(ai, bi)
        elif k == 4:  # both negative
            lo, hi = -max(ai, bi), -min(ai, bi)
        else:         # near-symmetric
            lo, hi = -ai, ai * (1 + 0.001 * bi / (1 + bi))
        pairs.append((F32(lo), F32(hi)))
    specials = [
        (0.0, 0.0), (-1.0, 1.0), (-1.0, 0.5), (0.0, 1.0), (-1.0, 0.0), (-0.5, 0.5),
        (-128.0, 127.0), (-127.5, 127.5), (-2.0, 3.0), (1e-30, 1e-30), (-1e-38, 1e-38),
        (-1e-40, 1e-40), (0.0, 1e-5), (-1e-5, 0.0), (2.5, 2.5), (-3.25, -3.25),
        (-3e38, 3e38), (-3.4028235e38, 3.4028235e38), (0.0, 3.4028235e38), (-1e30, 1e30),
        # min/scale lands exactly on k+0.5 with k even: pins round-half-even in the zero point
        (-0.5, 2.5), (-0.5, 14.5), (-0.5, 50.5), (-0.5, 254.5), (-5.0, 249.0), (-0.5, 126.5),
        (-1.5, 3.5), (-5.0, 9.0),
    ]
    pairs += [(F32(a), F32(b)) for a, b in specials]
    return pairs


PARAM_VARIANTS = [
    ("qint8", "per_tensor_affine", False, None),
    ("quint8", "per_tensor_affine", False, None),
    ("qint8", "per_tensor_symmetric", False, None),
    ("quint8", "per_tensor_symmetric", False, None),
    ("qint8", "per_tensor_affine", True, None),
    ("quint8", "per_tensor_affine", True, None),
    ("qint8", "per_tensor_symmetric", True, None),
    ("qint8", "per_tensor_affine", True, (-8, 7)),
    ("qint8", "per_tensor_affine", False, (-8, 7)),
    ("qint8", "per_tensor_symmetric", False, (-8, 7)),
    ("quint8", "per_tensor_affine", False, (0, 15)),
    ("quint8", "per_tensor_symmetric", False, (0, 15)),
    ("qint8", "per_tensor_symmetric", False, (-127, 127)),
]


def params_cases():
    out = []
    pairs = params_pairs()
    for dtype, qs, rr, qrange in PARAM_VARIANTS:
        name = "params_%s" % cfg_tag(dtype, qs.endswith("symmetric"), rr, qrange)
        mins, maxs, scales, zps = [], [], [], []
        obs = None
        for lo, hi in pairs:
            obs = make_observer(MinMaxObserver, dtype, qs, rr, qrange)
            obs(torch.tensor(np.array([lo, hi], dtype=F32)))
            assert obs.min_val.numpy().view(np.uint32) == np.array([lo]).view(np.uint32), (lo, hi)
            assert obs.max_val.numpy().view(np.uint32) == np.array([hi]).view(np.uint32), (lo, hi)
            s, z = obs.calculate_qparams()
            mins.append(lo)
            maxs.append(hi)
            scales.append(s.reshape(-1).numpy()[0])
            zps.append(int(z.reshape(-1)[0]))
        rec = Record(name)
        rec.add("kind", "params")
        rec.add("observer", "MinMaxObserver")
        observer_fields(rec, obs, dtype, qs, -1)
        rec.add("note", "entry_i_is_an_independent_observer_fed_[observed_min_i,observed_max_i]")
        rec.vec_f32("observed_min", mins)
        rec.vec_f32("observed_max", maxs)
        rec.vec_f32("scale", scales)
        rec.vec_int("zero_point", zps)
        out.append(rec)
    return out


# --------------------------------------------------------------------------
# moving-average observers (separate file)
# --------------------------------------------------------------------------

def moving_average_cases():
    out = []
    shape = (4, 7)
    nb = 5
    plan = []
    for c in (0.01, 0.5):
        plan.append((MovingAverageMinMaxObserver, c, "quint8", "per_tensor_affine", -1))
        plan.append((MovingAverageMinMaxObserver, c, "qint8", "per_tensor_symmetric", -1))
        for axis in (0, 1):
            plan.append((MovingAveragePerChannelMinMaxObserver, c, "quint8", "per_channel_affine", axis))
            plan.append((MovingAveragePerChannelMinMaxObserver, c, "qint8", "per_channel_symmetric", axis))
    for cls, c, dtype, qs, axis in plan:
        short = "pt" if axis < 0 else "pc_ax%d" % axis
        name = "ma_%s_c%s_%s_%s" % (short, c, dtype, "sym" if qs.endswith("symmetric") else "aff")
        seed_for(name)
        kw = dict(averaging_constant=c)
        obs = make_observer(cls, dtype, qs, False, None, axis=None if axis < 0 else axis, **kw)
        rec = Record(name)
        rec.add("kind", "moving_average")
        rec.add("observer", cls.__name__)
        rec.add("averaging_constant", repr(c))
        observer_fields(rec, obs, dtype, qs, axis)
        rec.add("shape", 2, *shape)
        rec.add("batches", nb)
        for b in range(nb):
            # drifting location and spread so the running min/max keep moving
            loc = float(rand_signs(1)[0] * rand_floats(1, -2, 1)[0])
            spread = float(rand_floats(1, -2, 1)[0])
            n = int(np.prod(shape))
            x = rand_signs(n) * rand_floats(n, -5, 0) * spread + loc
            x = torch.from_numpy(x.astype(F32).reshape(shape))
            obs(x)
            s, z = obs.calculate_qparams()
            rec.vec_f32("input.%d" % b, x.numpy())
            rec.vec_f32("observed_min.%d" % b, obs.min_val.reshape(-1).numpy())
            rec.vec_f32("observed_max.%d" % b, obs.max_val.reshape(-1).numpy())
            rec.vec_f32("scale.%d" % b, s.reshape(-1).numpy())
            rec.vec_int("zero_point.%d" % b, z.reshape(-1).numpy())
        out.append(rec)
    return out


def minmax_stream_cases():
    """(PerChannel)MinMaxObserver fed several batches: the running min/max and
    the parameters after every batch (the streaming side of MinMaxObserver)."""
    out = []
    shape = (5, 6)
    nb = 4
    plan = []
    for dtype, qs in (("quint8", "affine"), ("qint8", "symmetric")):
        plan.append((MinMaxObserver, dtype, "per_tensor_" + qs, -1))
        for axis in (0, 1):
            plan.append((PerChannelMinMaxObserver, dtype, "per_channel_" + qs, axis))
    for cls, dtype, qs, axis in plan:
        short = "pt" if axis < 0 else "pc_ax%d" % axis
        name = "mm_stream_%s_%s_%s" % (short, dtype, "sym" if qs.endswith("symmetric") else "aff")
        seed_for(name)
        obs = make_observer(cls, dtype, qs, False, None, axis=None if axis < 0 else axis)
        rec = Record(name)
        rec.add("kind", "minmax_stream")
        rec.add("observer", cls.__name__)
        observer_fields(rec, obs, dtype, qs, axis)
        rec.add("shape", 2, *shape)
        rec.add("batches", nb)
        for b in range(nb):
            # drifting location and spread so some batches widen the range and some do not
            loc = float(rand_signs(1)[0] * rand_floats(1, -2, 1)[0])
            spread = float(rand_floats(1, -2, 1)[0])
            n = int(np.prod(shape))
            x = rand_signs(n) * rand_floats(n, -5, 0) * spread + loc
            x = torch.from_numpy(x.astype(F32).reshape(shape))
            obs(x)
            s, z = obs.calculate_qparams()
            rec.vec_f32("input.%d" % b, x.numpy())
            rec.vec_f32("observed_min.%d" % b, obs.min_val.reshape(-1).numpy())
            rec.vec_f32("observed_max.%d" % b, obs.max_val.reshape(-1).numpy())
            rec.vec_f32("scale.%d" % b, s.reshape(-1).numpy())
            rec.vec_int("zero_point.%d" % b, z.reshape(-1).numpy())
        out.append(rec)
    return out


# --------------------------------------------------------------------------
# main: generate
# --------------------------------------------------------------------------

def write_file(path, title, records):
    names = [r.name for r in records]
    assert len(names) == len(set(names)), "duplicate case names"
    with open(path, "w", newline="\n") as f:
        f.write("\n".join(header(title)) + "\n")
        f.write("# cases: %d\n" % len(records))
        for r in records:
            f.write("\n")
            f.write(r.text())
    return os.path.getsize(path)


def generate():
    linear = []
    linear += edge_observer_cases()
    linear += per_tensor_observer_cases()
    linear += per_channel_observer_cases()
    linear += explicit_cases()
    linear += params_cases()
    size1 = write_file(LINEAR_FILE, "linear quantization (quantize + params)", linear)
    obs = moving_average_cases() + minmax_stream_cases()
    size2 = write_file(OBSERVERS_FILE, "moving-average and streaming min-max observers", obs)
    kinds = {}
    for r in linear + obs:
        k = [l.split()[1] for l in r.lines if l.startswith("kind ")][0]
        kinds[k] = kinds.get(k, 0) + 1
    print("%s: %d cases, %d bytes" % (LINEAR_FILE, len(linear), size1))
    print("%s: %d cases, %d bytes" % (OBSERVERS_FILE, len(obs), size2))
    print("kinds:", kinds)
    print("ATen CPU capability used: %s (outputs were checked identical under default/avx2/avx512)"
          % cpu_capability())


# --------------------------------------------------------------------------
# --verify: read back and compare with float32 numpy re-implementations
# --------------------------------------------------------------------------

def read_golden(path):
    cases, cur = [], None
    with open(path) as f:
        for ln, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            tok = line.split()
            if tok[0] == "case":
                assert cur is None, ln
                cur = {"name": tok[1]}
            elif tok[0] == "end":
                cases.append(cur)
                cur = None
            else:
                assert tok[0] not in cur, ln
                cur[tok[0]] = tok[1:]
    assert cur is None
    return cases


def vf(case, key):
    t = case[key]
    assert int(t[0]) == len(t) - 1
    return bits_to_f32(t[1:])


def vi(case, key):
    t = case[key]
    assert int(t[0]) == len(t) - 1
    return np.array([int(v) for v in t[1:]], dtype=np.int64)


def channel_index(case, n):
    """per element: index of its channel (0 for per tensor)."""
    axis = int(case["axis"][0])
    if axis < 0:
        return np.zeros(n, dtype=np.int64)
    shape = [int(v) for v in case["shape"][1:]]
    idx = np.indices(shape)[axis].reshape(-1)
    return idx


def bits_equal(a, b):
    a = np.asarray(a, dtype=F32).reshape(-1)
    b = np.asarray(b, dtype=F32).reshape(-1)
    return a.view(np.uint32) == b.view(np.uint32)


def np_fma_f32(a, b, c):
    """float32 fma(a, b, c) with a single rounding, computed with exact rationals."""
    out = []
    for x, y, z in zip(np.asarray(a, F32).reshape(-1), np.asarray(b, F32).reshape(-1), np.asarray(c, F32).reshape(-1)):
        if not (np.isfinite(x) and np.isfinite(y) and np.isfinite(z)):
            out.append(F32(np.float64(x) * np.float64(y) + np.float64(z)))
            continue
        exact = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
        out.append(round_fraction_to_f32(exact))
    return np.array(out, dtype=F32)


def round_fraction_to_f32(fr):
    """Round an exact rational to the nearest float32 (ties to even)."""
    d = F32(float(fr))  # may be double-rounded; fix up by checking the neighbours
    cands = [np.nextafter(d, F32(-np.inf), dtype=F32), d, np.nextafter(d, F32(np.inf), dtype=F32)]
    def err(v):
        return abs(Fraction(float(v)) - fr) if np.isfinite(v) else None
    best, best_err = None, None
    for v in cands:
        e = err(v)
        if e is None:
            continue
        if best is None or e < best_err or (e == best_err and (int(np.array([v]).view(np.uint32)[0]) & 1) == 0):
            best, best_err = v, e
    return best


def verify():
    lin = read_golden(LINEAR_FILE)
    obsf = read_golden(OBSERVERS_FILE)
    print("read %d + %d cases" % (len(lin), len(obsf)))
    eps = F32(np.finfo(F32).eps)
    report = {}

    def tally(key, ok, total):
        a = report.setdefault(key, [0, 0])
        a[0] += int(ok)
        a[1] += int(total)

    # ---- parameter choice --------------------------------------------------
    # Candidate formulas.  Everything is float32 unless stated otherwise.
    #   scale (affine)    S_div  : f32(max_pos - min_neg) / f32(qmax - qmin)        (f32 division)
    #                     S_rcp  : f32(max_pos - min_neg) * f32(1 / (qmax - qmin))  (reciprocal multiply)
    #                     S_f64  : f32((double(max_pos) - double(min_neg)) / (qmax - qmin))
    #   scale (symmetric) S_div  : max(-min_neg, max_pos) / f32((qmax - qmin) / 2)
    #                     S_rcp  : max(-min_neg, max_pos) * f32(2 / (qmax - qmin))
    #                     S_f64  : f32(double(max(...)) / ((qmax - qmin) / 2))
    #   then scale = max(scale, FLT_EPSILON)
    #   zero point (affine, given the true scale)
    #                     Z_div  : qmin - rint_half_even(f32(min_neg / scale)), clamped
    #                     Z_rcp  : qmin - rint_half_even(f32(min_neg * f32(1/scale))), clamped
    #                     Z_away : qmin - round_half_away(f32(min_neg / scale)), clamped
    def scale_of(mn, mx, qs, qmin, qmax, variant):
        mn_neg = min(F32(mn), F32(0.0))
        mx_pos = max(F32(mx), F32(0.0))
        with np.errstate(all="ignore"):
            if qs.endswith("symmetric"):
                m = max(-mn_neg, mx_pos)
                half = float(qmax - qmin) / 2
                s = {"S_div": lambda: F32(m / F32(half)),
                     "S_rcp": lambda: F32(m * F32(1.0 / half)),
                     "S_f64": lambda: F32(np.float64(m) / half)}[variant]()
            else:
                d = float(qmax - qmin)
                s = {"S_div": lambda: F32(F32(mx_pos - mn_neg) / F32(d)),
                     "S_rcp": lambda: F32(F32(mx_pos - mn_neg) * F32(1.0 / d)),
                     "S_f64": lambda: F32((np.float64(mx_pos) - np.float64(mn_neg)) / d)}[variant]()
        return max(s, eps)

    def zp_of(mn, s, dtype, qs, qmin, qmax, custom, variant):
        if qs.endswith("symmetric"):
            if dtype == "quint8":
                return (qmin + qmax) // 2 if custom else 128
            return 0
        mn_neg = min(F32(mn), F32(0.0))
        with np.errstate(all="ignore"):
            if variant == "Z_rcp":
                r = F32(mn_neg * F32(F32(1.0) / s))
            else:
                r = F32(mn_neg / s)
        if not np.isfinite(r):
            return None
        if variant == "Z_away":
            q = float(np.sign(r) * np.floor(abs(np.float64(r)) + 0.5))
        else:
            q = float(np.rint(r))
        return min(max(qmin - int(q), qmin), qmax)

    zp_ties = 0
    for c in lin + obsf:
        kind = c["kind"][0]
        if kind == "quantize" and "observed_min" not in c:
            continue
        dtype, qs = c["dtype"][0], c["qscheme"][0]
        qmin, qmax = int(c["quant_min"][0]), int(c["quant_max"][0])
        custom = c["custom_range"][0] == "1"
        sk = "sym" if qs.endswith("symmetric") else "aff"
        suffixes = [""] if kind not in ("moving_average", "minmax_stream") else [".%d" % b for b in range(int(c["batches"][0]))]
        for sfx in suffixes:
            mins, maxs = vf(c, "observed_min" + sfx), vf(c, "observed_max" + sfx)
            scales, zps = vf(c, "scale" + sfx), vi(c, "zero_point" + sfx)
            for i in range(len(mins)):
                for v in ("S_div", "S_rcp", "S_f64"):
                    s = scale_of(mins[i], maxs[i], qs, qmin, qmax, v)
                    tally("scale %s %s" % (sk, v), bits_equal(s, scales[i])[0], 1)
                if sk == "aff":
                    with np.errstate(all="ignore"):
                        r = F32(min(mins[i], F32(0)) / scales[i])
                    if np.isfinite(r) and abs(r - np.trunc(r)) == 0.5:
                        zp_ties += 1
                for v in ("Z_div", "Z_rcp", "Z_away"):
                    z = zp_of(mins[i], scales[i], dtype, qs, qmin, qmax, custom, v)
                    tally("zero_point %s %s" % (sk, v), z == zps[i], 1)
    print("affine zero-point computations that hit an exact .5 tie: %d" % zp_ties)

    # ---- quantize / dequantize ----------------------------------------------
    mism_examples = []
    for c in lin:
        if c["kind"][0] != "quantize":
            continue
        ub = "torch_ub" in c
        x = vf(c, "input")
        n = len(x)
        ch = channel_index(c, n)
        s = vf(c, "scale")[ch]
        z = vi(c, "zero_point")[ch]
        dtype = c["dtype"][0]
        dmin, dmax = DTYPE_RANGE[dtype]
        codes = vi(c, "codes")
        deq = vf(c, "dequant")
        with np.errstate(all="ignore"):
            inv = (F32(1.0) / s).astype(F32)
            prod = (x * inv).astype(F32)
            div = (x / s).astype(F32)

            def to_code(v, qlo, qhi, add_first=False):
                r = np.where(np.isfinite(v), v, np.where(v > 0, np.float64(1e300), -1e300)).astype(np.float64)
                if add_first:
                    q = np.rint(r + z)
                else:
                    q = np.rint(r) + z
                return np.clip(q, qlo, qhi).astype(np.int64)

            mul_codes = to_code(prod, dmin, dmax)
            div_codes = to_code(div, dmin, dmax)
            addfirst_codes = to_code(prod, dmin, dmax, add_first=True)
        tag = "ub" if ub else "defined"
        tally("codes == clamp(zp + rint_even(f32(x * f32(1/scale)))) [%s]" % tag, (mul_codes == codes).sum(), n)
        tally("codes == clamp(zp + rint_even(f32(x / scale))) [%s]" % tag, (div_codes == codes).sum(), n)
        tally("codes == clamp(rint_even(f32(x * f32(1/scale)) + zp)) [%s]" % tag, (addfirst_codes == codes).sum(), n)
        if not ub and (mul_codes != codes).any():
            i = np.nonzero(mul_codes != codes)[0][0]
            mism_examples.append((c["name"], float(x[i]), int(codes[i]), int(mul_codes[i])))
        if ub:
            # torch's x86 result: conversion overflow yields INT64_MIN -> quant_min of dtype
            big = ~np.isfinite(prod) | (np.abs(prod.astype(np.float64)) >= 2.0 ** 63)
            ub_codes = np.where(big, dmin, mul_codes)
            tally("UB elements: codes == dtype min where |x*inv| >= 2^63 or inf", (ub_codes == codes).sum(), n)
        qz = (codes - z).astype(F32)
        with np.errstate(all="ignore"):
            d_mul = (qz * s).astype(F32)
            premul = (F32(-1.0) * z.astype(F32) * s).astype(F32)
            d_fma = np_fma_f32(s, codes.astype(F32), premul)
            d_two = (codes.astype(F32) * s - (z.astype(F32) * s).astype(F32)).astype(F32)
        per = "per_channel" if int(c["axis"][0]) >= 0 else "per_tensor"
        tally("dequant == f32((q - zp) * scale) [%s]" % per, bits_equal(d_mul, deq).sum(), n)
        tally("dequant == fma(scale, q, f32(-zp*scale)) [%s]" % per, bits_equal(d_fma, deq).sum(), n)
        tally("dequant == f32(q*scale) - f32(zp*scale) [%s]" % per, bits_equal(d_two, deq).sum(), n)
        if "fake_quant" in c:
            qmin, qmax = int(c["quant_min"][0]), int(c["quant_max"][0])
            fq = vf(c, "fake_quant")
            fcodes = to_code(prod, qmin, qmax)
            tally("fake_quant == f32((clamp(zp + rint(x*inv), qmin, qmax) - zp) * scale)",
                  bits_equal(((fcodes - z).astype(F32) * s).astype(F32), fq).sum(), n)
        # codes outside [quant_min, quant_max] (only possible with reduce_range/custom ranges)
        qmin, qmax = int(c["quant_min"][0]), int(c["quant_max"][0])
        if c["observer"][0] != "none":
            outside = ((codes < qmin) | (codes > qmax)).sum()
            tally("observer cases: codes inside [quant_min, quant_max]", n - outside, n)
            if outside:
                mism_examples.append(("OUTSIDE " + c["name"], int(outside), qmin, qmax))

    # ---- moving average update / streaming min-max -------------------------
    for c in obsf:
        if c["kind"][0] == "minmax_stream":
            shape = [int(v) for v in c["shape"][1:]]
            axis = int(c["axis"][0])
            run_min = run_max = None
            for b in range(int(c["batches"][0])):
                x = vf(c, "input.%d" % b).reshape(shape)
                if axis < 0:
                    cur_min, cur_max = np.array([x.min()]), np.array([x.max()])
                else:
                    y = np.moveaxis(x, axis, 0).reshape(shape[axis], -1)
                    cur_min, cur_max = y.min(axis=1), y.max(axis=1)
                run_min = cur_min if run_min is None else np.minimum(run_min, cur_min)
                run_max = cur_max if run_max is None else np.maximum(run_max, cur_max)
                om, oM = vf(c, "observed_min.%d" % b), vf(c, "observed_max.%d" % b)
                tally("streaming min-max: min/max == running min/max of the batches",
                      bits_equal(run_min, om).sum() + bits_equal(run_max, oM).sum(), 2 * len(om))
            continue
        cval = float(c["averaging_constant"][0])
        nb = int(c["batches"][0])
        axis = int(c["axis"][0])
        shape = [int(v) for v in c["shape"][1:]]
        prev_min = prev_max = None
        for b in range(nb):
            x = vf(c, "input.%d" % b).reshape(shape)
            if axis < 0:
                cur_min, cur_max = np.array([x.min()]), np.array([x.max()])
            else:
                y = np.moveaxis(x, axis, 0).reshape(shape[axis], -1)
                cur_min, cur_max = y.min(axis=1), y.max(axis=1)
            om, oM = vf(c, "observed_min.%d" % b), vf(c, "observed_max.%d" % b)
            if prev_min is None:
                em, eM = cur_min, cur_max
                em2, eM2 = em, eM
            else:
                cf = F32(cval)
                em = (prev_min + (cf * (cur_min - prev_min).astype(F32)).astype(F32)).astype(F32)
                eM = (prev_max + (cf * (cur_max - prev_max).astype(F32)).astype(F32)).astype(F32)
                # alternative: constant kept in double for the product
                em2 = (prev_min + ((cval * (cur_min - prev_min).astype(F32).astype(np.float64)).astype(F32))).astype(F32)
                eM2 = (prev_max + ((cval * (cur_max - prev_max).astype(F32).astype(np.float64)).astype(F32))).astype(F32)
            tally("moving average: min/max == m + f32(c) * (cur - m), all f32",
                  bits_equal(em, om).sum() + bits_equal(eM, oM).sum(), 2 * len(om))
            tally("moving average: min/max == m + f32(double(c) * (cur - m))",
                  bits_equal(em2, om).sum() + bits_equal(eM2, oM).sum(), 2 * len(om))
            prev_min, prev_max = om, oM

    width = max(len(k) for k in report)
    for k in sorted(report):
        ok, tot = report[k]
        print("%-*s  %6d / %6d %s" % (width, k, ok, tot, "ALL" if ok == tot else "MISMATCH"))
    for e in mism_examples[:20]:
        print("  example:", e)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--verify", action="store_true", help="check the committed files instead of writing them")
    ap.add_argument("--outdir", default=HERE, help="directory for the golden files (default: next to this script)")
    args = ap.parse_args()
    global LINEAR_FILE, OBSERVERS_FILE
    LINEAR_FILE = os.path.join(args.outdir, "linear_pytorch.txt")
    OBSERVERS_FILE = os.path.join(args.outdir, "observers_pytorch.txt")
    if args.verify:
        verify()
    else:
        generate()


if __name__ == "__main__":
    main()
