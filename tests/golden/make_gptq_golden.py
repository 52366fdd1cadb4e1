#!/usr/bin/python3
"""Golden cases for eigenq's GPTQ (include/eigenq/methods/gptq.hpp): a PyTorch 1.13 transcription,
in float64, of the reference algorithm (IST-DASLab/gptq, gptq.py, GPTQ.fasterquant), run with
eigenq's linear quantizer (Linear, PyTorch profile: its float32 parameter and rounding rules), so
that the codes can be compared one for one.

    /usr/bin/python3 tests/golden/make_gptq_golden.py            # writes tests/golden/gptq_reference.txt
    /usr/bin/python3 tests/golden/make_gptq_golden.py --outdir D  # elsewhere

The weights W and the calibration rows X of every case come from a small integer generator
(SplitMix64) that tests/methods/gptq_golden_test.cpp repeats exactly; every value is a short
dyadic fraction, so H = X^T X is exact in float64 on both sides, whatever the summation order.
The file keeps the generator's seed and the reference's results: the damping used, the codes,
every parameter set and the layer error ||(W - W^) X^T||^2.

What the transcription follows from the reference, step by step (fasterquant):
  - per channel (groupsize -1): find_params on the whole original W, before dead inputs are zeroed;
  - dead inputs: H[dead, dead] = 1, W[:, dead] = 0;
  - static_groups: every group fitted on W (after zeroing), in the original column order;
  - actorder: perm = argsort(diag(H), descending) - here a stable sort (ties keep column order;
    torch.argsort leaves them unspecified), W and H permuted;
  - damp = percdamp * mean(diag(H)); H += damp I; Hinv = cholesky(cholesky_inverse(cholesky(H)), upper);
    the reference stops when H is not positive definite; here (as in eigenq) percdamp is multiplied
    by 10 and the factorization retried, at most 4 times, then U = diag(1 / sqrt(H_jj + damp));
  - blocks of 128 columns: quantize column, err = (w - q) / d, W1[:, i:] -= err Hinv1[i, i:];
    dynamic groups fitted at (i1 + i) % groupsize == 0 on W[:, i1 + i : i1 + i + groupsize] (W, not
    W1: the lazy updates of finished blocks only); after the block W[:, i2:] -= Err1 Hinv[i1:i2, i2:].
eigenq's quantizer replaces the reference's quant.py Quantizer: for affine codes [0, 2^b - 1] both
fit scale = (max(x,0) - min(x,0)) / (2^b - 1) and zero = round(-min / scale); eigenq in float32
with its rounding rule (x * (1/scale), half to even), which is what this script reproduces.
"""

import argparse
import os
import sys

import numpy as np
import torch

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform_int(self, k):
        """An integer in [-k, k]."""
        return int(self.next() % (2 * k + 1)) - k


def make_data(seed, out, inp, samples, dead, outliers, flat=False):
    """W [out, in] and X [samples, in] as float64 arrays of dyadic values (see the C++ twin)."""
    g = SplitMix64(seed)
    w = np.zeros((out, inp))
    for r in range(out):
        row_scale = 2.0 ** ((r % 3) - 1)
        for c in range(inp):
            s = sum(g.uniform_int(127) for _ in range(4))
            w[r, c] = s / 256.0 * row_scale
    z = np.zeros((samples, inp))
    for t in range(samples):
        for j in range(inp):
            z[t, j] = sum(g.uniform_int(63) for _ in range(3)) / 64.0
    col_scale = np.array([1.0 if flat else 2.0 ** ((j * 7) % 5 - 2) for j in range(inp)])
    for j in outliers:
        col_scale[j] *= 16.0
    x = np.zeros((samples, inp))
    for j in range(inp):
        x[:, j] = (z[:, j] + 0.5 * z[:, (j - 1) % inp] + 0.25 * z[:, (j + 3) % inp]) * col_scale[j]
    for j in dead:
        x[:, j] = 0.0
    return w, x


class EigenqLinear:
    """eigenq::Linear, PyTorch profile, with_bits(bits): symmetric -> int8 codes
    [-2^(b-1), 2^(b-1) - 1], zero point 0; affine -> uint8 codes [0, 2^b - 1]."""

    def __init__(self, bits, symmetric):
        self.symmetric = symmetric
        if symmetric:
            self.qmin, self.qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        else:
            self.qmin, self.qmax = 0, (1 << bits) - 1

    def fit(self, block):
        """Per-row (scale float32, zero point int) of a [rows, n] float64 block (cast to float32)."""
        b = block.astype(np.float32)
        mn = b.min(axis=1)
        mx = b.max(axis=1)
        f = np.float32
        min_neg = np.minimum(mn, f(0))
        max_pos = np.maximum(mx, f(0))
        eps = np.finfo(np.float32).eps
        if self.symmetric:
            amax = np.maximum(-min_neg, max_pos)
            half = f((self.qmax - self.qmin) / 2.0)
            scale = np.maximum(amax / half, eps).astype(np.float32)
            zp = np.zeros(len(scale), dtype=np.int64)
        else:
            levels = f(self.qmax - self.qmin)
            scale = np.maximum((max_pos - min_neg) / levels, eps).astype(np.float32)
            zpf = f(self.qmin) - np.rint(min_neg / scale)
            zp = np.clip(zpf, f(self.qmin), f(self.qmax)).astype(np.int64)
        return scale, zp

    def quantize(self, x, scale, zp):
        """Codes and dequantized values (float64) of a column x (float64, one value per row)."""
        x32 = x.astype(np.float32)
        inv = np.float32(1.0) / scale
        scaled = np.rint(x32 * inv)
        shifted = scaled + zp.astype(np.float32)
        codes = np.clip(shifted, self.qmin, self.qmax).astype(np.int64)
        deq = (codes.astype(np.float32) - zp.astype(np.float32)) * scale
        return codes, deq.astype(np.float64)


def factor(H, percdamp, max_retries=4, growth=10.0):
    """Upper Cholesky factor of the damped inverse Hessian, with the retries; (U, percdamp, retries, fallback)."""
    n = H.shape[0]
    mean_diag = torch.mean(torch.diag(H)).item()
    retries = 0
    for attempt in range(max_retries + 1):
        damp = percdamp * mean_diag
        Hd = H.clone()
        Hd[range(n), range(n)] += damp
        L, info = torch.linalg.cholesky_ex(Hd)
        if info.item() == 0:
            Hinv = torch.cholesky_inverse(L)
            U, info2 = torch.linalg.cholesky_ex(Hinv, upper=True)
            if info2.item() == 0 and torch.isfinite(U).all():
                return U, percdamp, damp, retries, False
        if attempt < max_retries:
            retries += 1
            percdamp *= growth
    d = torch.diag(H) + damp
    return torch.diag(1.0 / torch.sqrt(d)), percdamp, damp, retries, True


def gptq_reference(W, H, quant, groupsize, actorder, static_groups, blocksize=128, percdamp=0.01):
    W = torch.tensor(W, dtype=torch.float64)
    H = torch.tensor(H, dtype=torch.float64)
    rows, columns = W.shape
    ngroups = 1 if groupsize <= 0 else (columns + groupsize - 1) // groupsize
    params = [None] * ngroups
    current = None
    if groupsize <= 0:
        current = quant.fit(W.numpy())
        params[0] = current
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    if groupsize > 0 and static_groups:
        for g in range(ngroups):
            params[g] = quant.fit(W[:, g * groupsize:(g + 1) * groupsize].numpy())
    perm = np.arange(columns)
    if actorder:
        perm = np.argsort(-torch.diag(H).numpy(), kind="stable")
        W = W[:, perm]
        H = H[perm][:, perm]
    codes = np.zeros((rows, columns), dtype=np.int64)
    Q = torch.zeros_like(W)
    Hinv, used_percdamp, damp, retries, fallback = factor(H, percdamp)
    for i1 in range(0, columns, blocksize):
        i2 = min(i1 + blocksize, columns)
        count = i2 - i1
        W1 = W[:, i1:i2].clone()
        Q1 = torch.zeros_like(W1)
        Err1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        for i in range(count):
            w = W1[:, i]
            d = Hinv1[i, i]
            if groupsize > 0:
                if not static_groups:
                    if (i1 + i) % groupsize == 0:
                        g = (i1 + i) // groupsize
                        params[g] = quant.fit(W[:, (i1 + i):(i1 + i + groupsize)].numpy())
                        current = params[g]
                else:
                    current = params[perm[i1 + i] // groupsize]
            c, q = quant.quantize(w.numpy(), *current)
            codes[:, perm[i1 + i]] = c
            q = torch.tensor(q, dtype=torch.float64)
            Q1[:, i] = q
            err1 = (w - q) / d
            W1[:, i:] -= err1.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
            Err1[:, i] = err1
        Q[:, i1:i2] = Q1
        W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
    if actorder:
        invperm = np.argsort(perm)
        Q = Q[:, invperm]
    return codes, Q.numpy(), params, used_percdamp, retries, fallback


def rtn(W, quant, groupsize):
    rows, columns = W.shape
    g = columns if groupsize <= 0 else groupsize
    out = np.zeros_like(W)
    for c0 in range(0, columns, g):
        scale, zp = quant.fit(W[:, c0:c0 + g])
        for c in range(c0, min(c0 + g, columns)):
            out[:, c] = quant.quantize(W[:, c], scale, zp)[1]
    return out


def layer_error(W, W_hat, H):
    D = W - W_hat
    return float(np.sum((D @ H) * D))


def f32hex(v):
    return "%08x" % np.float32(v).view(np.uint32)


# name, out, in, samples, bits, group (0: per channel), symmetric, act_order, static, dead, outliers, indefinite
CASES = [
    ("pc_4bit_sym", 32, 64, 256, 4, 0, True, False, False, [], [], False),
    ("g32_4bit_affine", 32, 128, 256, 4, 32, False, False, False, [], [5, 70], False),
    ("g128_3bit_sym", 24, 256, 384, 3, 128, True, False, False, [], [], False),
    ("g64_2bit_affine_ragged", 16, 200, 256, 2, 64, False, False, False, [], [], False),
    ("pc_8bit_affine_actorder", 32, 96, 192, 8, 0, False, True, False, [], [3], False),
    ("g32_4bit_sym_actorder_static", 32, 128, 256, 4, 32, True, True, True, [], [9, 100], False),
    ("g32_4bit_sym_static", 32, 128, 256, 4, 32, True, False, True, [], [], False),
    ("g16_3bit_affine_dead", 32, 64, 128, 3, 16, False, False, False, [0, 7, 8, 33, 63], [], False),
    ("pc_4bit_sym_rank_deficient", 32, 64, 24, 4, 0, True, False, False, [], [], False),
    ("pc_3bit_sym_indefinite", 16, 64, 24, 3, 0, True, False, False, [], [], True),
    ("g128_4bit_sym_actorder_static_dead", 48, 384, 512, 4, 128, True, True, True, [2, 150, 383], [40], False),
    ("g64_8bit_sym_dead_actorder", 16, 128, 160, 8, 64, True, True, True, [10, 11], [], False),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--outdir", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    torch.set_num_threads(1)
    lines = [
        "# GPTQ golden cases: tests/golden/make_gptq_golden.py (PyTorch %s, float64 transcription of" % torch.__version__,
        "# IST-DASLab/gptq fasterquant with eigenq's Linear quantizer). Read by tests/methods/gptq_golden_test.cpp.",
        "# Per case: the generator inputs, then the reference's damping, codes (two hex digits per code,",
        "# code - qmin, row-major [out, in]), parameters (row-major [out, groups]) and layer errors.",
        "",
    ]
    for k, (name, out, inp, samples, bits, group, sym, act, static, dead, outl, indefinite) in enumerate(CASES):
        seed = 0x6770747100 + k
        W, X = make_data(seed, out, inp, samples, dead, outl, flat=indefinite)
        H = X.T @ X
        shift = 0.0
        if indefinite:
            # A Hessian that 1% damping cannot make positive definite: X^T X minus a multiple of
            # the identity (a power of two, so H stays exact) larger than the damping.
            # With fewer rows than inputs X^T X is singular, so H has eigenvalues -shift.
            shift = 2.0 ** np.floor(np.log2(0.9 * np.min(np.diag(H))))
            assert samples < inp and 0.01 * np.mean(np.diag(H) - shift) < shift
            H = H - shift * np.eye(inp)
        quant = EigenqLinear(bits, sym)
        codes, Q, params, percdamp, retries, fallback = gptq_reference(W, H, quant, group, act, static)
        Hx = X.T @ X  # the calibration rows themselves (the indefinite case changed H only)
        err = layer_error(W, Q, Hx)
        err_rtn = layer_error(W, rtn(W, quant, group), Hx)
        groups = len(params)
        scales = [params[g][0][r] for r in range(out) for g in range(groups)]
        zps = [int(params[g][1][r]) for r in range(out) for g in range(groups)]
        lines.append("case " + name)
        lines.append("seed %d" % seed)
        lines.append("shape 2 %d %d" % (out, inp))
        lines.append("samples %d" % samples)
        lines.append("bits %d" % bits)
        lines.append("group %d" % group)
        lines.append("symmetric %d" % int(sym))
        lines.append("act_order %d" % int(act))
        lines.append("static_groups %d" % int(static))
        lines.append("dead %d%s" % (len(dead), "".join(" %d" % d for d in dead)))
        lines.append("outliers %d%s" % (len(outl), "".join(" %d" % d for d in outl)))
        lines.append("flat_columns %d" % int(indefinite))
        lines.append("diagonal_shift %r" % shift)
        lines.append("percdamp %r" % percdamp)
        lines.append("damp_retries %d" % retries)
        lines.append("diagonal_fallback %d" % int(fallback))
        lines.append("codes_hex " + "".join("%02x" % (c - quant.qmin) for c in codes.reshape(-1)))
        lines.append("scale %d %s" % (len(scales), " ".join(f32hex(s) for s in scales)))
        lines.append("zero_point %d %s" % (len(zps), " ".join(str(z) for z in zps)))
        lines.append("layer_error %r" % err)
        lines.append("rtn_layer_error %r" % err_rtn)
        lines.append("end")
        lines.append("")
        print("%-40s layer error %.6g (rtn %.6g, %.1f%%), percdamp %g, retries %d" %
              (name, err, err_rtn, 100.0 * err / err_rtn, percdamp, retries), file=sys.stderr)
    path = os.path.join(args.outdir, "gptq_reference.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)), file=sys.stderr)


if __name__ == "__main__":
    main()
