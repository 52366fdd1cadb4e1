#!/usr/bin/env python3
"""A reader of the eigenq quantized format written only from docs/format.md (numpy, no eigenq
code), and the test that it agrees with the eigenq tool.

For each scheme configuration it writes a small safetensors model with numpy, runs
`eigenq quantize` and `eigenq dequantize`, reconstructs every quantized tensor from the
quantized file with the formulas of docs/format.md section 5, and compares with what
`eigenq dequantize` wrote: bit for bit for linear, seed, log2 and codebook; within one float32
ulp for log, log-signed and exp (docs/format.md, "Exactness"). Plain tensors must come through
unchanged. Exit status 0 when everything agrees.

    read_eigenq_format.py --eigenq build/default/examples/cli/eigenq --work-dir /tmp/x
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I8": np.int8, "U8": np.uint8,
          "I16": np.int16, "U16": np.uint16, "I32": np.int32, "U32": np.uint32, "I64": np.int64,
          "U64": np.uint64, "BF16": np.uint16}  # BF16 kept as raw bits


# ---- safetensors (section 1)

def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors, dtypes = {}, {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])
        dtypes[name] = entry["dtype"]
    return tensors, dtypes, meta


def write_safetensors(path, tensors, meta=None):
    """tensors: list of (name, dtype string, numpy array of the stored bits)."""
    header = {"__metadata__": meta} if meta else {}
    offset, blobs = 0, []
    for name, dtype, array in tensors:
        blob = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


# ---- the eigenq format (sections 2-5)

def codes_of(stored, m):
    """Section 3: the codes as int64, in the logical shape."""
    shape = m["shape"]
    n = int(np.prod(shape, dtype=np.int64))
    f = m["storage_bits"]
    if f >= 8:
        return stored.astype(np.int64).reshape(shape)
    # One little-endian bit stream: code k is bits [k*f, k*f + f), possibly across two bytes.
    b = np.concatenate([stored.reshape(-1).astype(np.int64), np.zeros(1, dtype=np.int64)])
    bit = np.arange(n, dtype=np.int64) * f
    pair = b[bit // 8] | (b[bit // 8 + 1] << 8)
    field = (pair >> (bit % 8)) & ((1 << f) - 1)
    if m["code_dtype"] in ("I8", "I16"):
        field = np.where(field >= (1 << (f - 1)), field - (1 << f), field)
    return field.reshape(shape)


def parameter_index(m):
    """Section 4: a tuple of index arrays selecting each element's parameter set."""
    shape = m["shape"]
    granularity, axis = m["granularity"], m["axis"]
    grids = np.indices(shape) if shape else np.zeros((0,), dtype=np.int64)
    if granularity == "tensor":
        return (np.zeros(shape, dtype=np.int64),)
    if granularity == "channel":
        return (grids[axis],)
    index = [grids[d] for d in range(len(shape))]
    index[axis] = index[axis] // m["group_size"]
    return tuple(index)


def dequantize(name, tensors, m):
    """Section 5."""
    q = codes_of(tensors[name], m)
    p = parameter_index(m)
    param = {s: tensors[name + "." + s][p] for s in m["params"] if s not in ("codebook", "super_scale")}
    qmin, qmax = m["qmin"], m["qmax"]
    scheme, convention = m["scheme"], m["convention"]
    if "double_quant" in m:  # section 4: two-level scales, super-blocks of S groups along the axis
        block = list(p)
        block[m["axis"]] = block[m["axis"]] // m["double_quant"]["groups_per_block"]
        param["scale"] = param["scale_code"].astype(np.float32) * tensors[name + ".super_scale"][tuple(block)]
    if scheme.startswith("linear") and convention == "inference":
        zero = param["zero_point"] if "zero_point" in param else np.zeros(q.shape, np.int32)
        return (q.astype(np.float32) - zero.astype(np.float32)) * param["scale"].astype(np.float32)
    if scheme == "linear-affine" and convention in ("real-offset", "seed"):
        s = param["scale"].astype(np.float64)
        r_min = param["r_min"]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = (r_min.astype(np.float64) + (q.astype(np.float64) - qmin) / s).astype(np.float32)
        return np.where(s == 0, r_min, x)
    if scheme == "log":
        lo, hi = param["r_min"].astype(np.float64), param["r_max"].astype(np.float64)
        L = np.where(hi > lo, (np.log(hi) - np.log(lo)) / (qmax - qmin), 0.0)
        c = np.clip(q, qmin, qmax)
        return np.clip(np.exp(np.log(lo) + (c - qmin) * L), lo, hi).astype(np.float32)
    if scheme == "exp":
        lo, hi = param["r_min"].astype(np.float64), param["r_max"].astype(np.float64)
        W = hi - lo
        with np.errstate(divide="ignore", invalid="ignore"):
            L = np.log(qmax / qmin) / W
            c = np.clip(q, qmin, qmax)
            x = np.clip(lo + np.log(c / qmin) / L, lo, hi).astype(np.float32)
        return np.where(W <= 0, param["r_min"], x)
    if scheme == "log-signed":
        M = qmax
        lo, hi = param["m_min"].astype(np.float64), param["m_max"].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            L = np.where((M > 1) & (hi > lo) & (lo > 0), (np.log(hi) - np.log(lo)) / (M - 1), 0.0)
            lm = np.where(hi > 0, np.log(hi), 0.0)
        c = np.minimum(np.abs(q), M)
        mag = np.clip(np.exp(lm + (c - M) * L), lo, hi).astype(np.float32)
        return np.where(q == 0, np.float32(0), np.sign(q).astype(np.float32) * mag)
    if scheme == "log2":
        M = qmax
        e = param["max_exponent"].astype(np.int64)
        c = np.clip(np.abs(q), 1, M)
        mag = np.ldexp(np.float32(1), (e - (M - c)).astype(np.int32)).astype(np.float32)
        return np.where(q == 0, np.float32(0), np.sign(q).astype(np.float32) * mag)
    if scheme == "codebook":
        book = tensors[name + ".codebook"]
        k = book.shape[-1]
        return book[p + (np.clip(q - qmin, 0, k - 1),)].astype(np.float32)
    raise ValueError(f"{name}: unknown scheme {scheme} / {convention}")


def read_eigenq(path):
    """Every logical tensor of an eigenq file as numpy arrays (quantized ones dequantized)."""
    tensors, dtypes, meta = read_safetensors(path)
    if meta.get("eigenq.format") != "1":
        raise ValueError(f"{path}: eigenq.format is {meta.get('eigenq.format')!r}, this reader reads '1'")
    quantized = {k[len("eigenq:"):]: json.loads(v) for k, v in meta.items() if k.startswith("eigenq:")}
    params = {name + "." + s for name, m in quantized.items() for s in m["params"]}
    out = {}
    for name in tensors:
        if name in quantized:
            out[name] = dequantize(name, tensors, quantized[name])
        elif name not in params:
            out[name] = tensors[name]
    return out, quantized, dtypes


# ---- the test

def float32_ulps(a, b):
    """Distance in float32 units in the last place (0 for identical bits)."""
    ia = a.astype(np.float32).view(np.int32).astype(np.int64)
    ib = b.astype(np.float32).view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(1 << 31) - ia, ia)  # monotonic integer order of floats
    ib = np.where(ib < 0, -(1 << 31) - ib, ib)
    return np.abs(ia - ib)


def make_models(work):
    rng = np.random.default_rng(6)
    w = rng.standard_normal((8, 40)).astype(np.float32)
    cube = rng.standard_normal((4, 6, 10)).astype(np.float32) * 3
    bias = rng.standard_normal(16).astype(np.float32)
    half = rng.standard_normal((5, 12)).astype(np.float16)
    bf16_bits = (rng.standard_normal((3, 8)).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    ids = np.arange(7, dtype=np.int64)
    write_safetensors(os.path.join(work, "model.safetensors"),
                      [("layer.weight", "F32", w), ("layer.bias", "F32", bias), ("conv", "F32", cube),
                       ("embed", "F16", half), ("norm", "BF16", bf16_bits), ("ids", "I64", ids)],
                      {"format": "pt"})
    positive = np.abs(rng.standard_normal((6, 20))).astype(np.float32) + 0.05
    write_safetensors(os.path.join(work, "positive.safetensors"),
                      [("scales", "F32", positive), ("gain", "F32", positive[0] + 1)])
    np.save(os.path.join(work, "single.npy"), np.asfortranarray(w[:, :9]))


CASES = [
    ("default", "model", []),
    ("affine 4-bit groups", "model", ["--scheme", "linear-affine", "--bits", "4", "--granularity", "group",
                                      "--group-size", "8"]),
    ("affine 2-bit tensor", "model", ["--scheme", "linear-affine", "--bits", "2", "--granularity", "tensor"]),
    ("symmetric 3-bit onnx axis 1", "model", ["--bits", "3", "--axis", "1", "--profile", "onnx"]),
    ("symmetric 12-bit", "model", ["--bits", "12"]),
    ("vectors too", "model", ["--quantize-vectors"]),
    ("affine 10-bit tflite", "model", ["--scheme", "linear-affine", "--bits", "10", "--profile", "tflite"]),
    ("real-offset convention", "model", ["--scheme", "linear-affine", "--convention", "real-offset"]),
    ("real-offset 4-bit", "model", ["--scheme", "linear-affine", "--convention", "real-offset", "--bits", "4"]),
    ("percentile", "model", ["--calibration", "percentile:99"]),
    ("log 4-bit", "positive", ["--scheme", "log", "--bits", "4"]),
    ("log 8-bit groups", "positive", ["--scheme", "log", "--granularity", "group", "--group-size", "6"]),
    ("exp 5-bit", "model", ["--scheme", "exp", "--bits", "5", "--quantize-vectors"]),
    ("log-signed 4-bit groups", "model", ["--scheme", "log-signed", "--bits", "4", "--granularity", "group",
                                          "--group-size", "4", "--axis", "0"]),
    ("log-signed 8-bit", "model", ["--scheme", "log-signed", "--quantize-vectors"]),
    ("log2 4-bit", "model", ["--scheme", "log2", "--bits", "4"]),
    ("codebook 3-bit", "model", ["--scheme", "codebook", "--bits", "3"]),
    ("codebook 4-bit groups", "model", ["--scheme", "codebook", "--bits", "4", "--granularity", "group",
                                        "--group-size", "16"]),
    ("exclude", "model", ["--exclude", "bias|embed"]),
    ("double quantization", "model", ["--bits", "4", "--granularity", "group", "--group-size", "4",
                                      "--double-quant", "2"]),
    ("double quantization affine", "model", ["--scheme", "linear-affine", "--bits", "3", "--granularity", "group",
                                             "--group-size", "8", "--axis", "0", "--double-quant", "3"]),
]

EXACT = {"linear-affine", "linear-symmetric", "log2", "codebook"}


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {result.returncode}: {result.stderr.strip()}")


def check_case(eigenq, work, label, model, args):
    src = os.path.join(work, model + ".safetensors")
    quantized = os.path.join(work, "q.safetensors")
    restored = os.path.join(work, "d.safetensors")
    run([eigenq, "quantize", src, quantized, "--quiet", *args])
    run([eigenq, "dequantize", quantized, restored, "--quiet"])
    mine, meta, _ = read_eigenq(quantized)
    theirs, dtypes, user_meta = read_safetensors(restored)
    original, original_dtypes, original_meta = read_safetensors(src)
    failures = []
    if user_meta != original_meta:
        failures.append(f"metadata {user_meta} != {original_meta}")
    if sorted(mine) != sorted(theirs) or sorted(theirs) != sorted(original):
        failures.append(f"tensor names differ: {sorted(mine)} / {sorted(theirs)} / {sorted(original)}")
        return failures
    for name in original:
        a, b = mine[name], theirs[name]
        if name in meta:
            m = meta[name]
            if dtypes[name] != "F32" or list(b.shape) != m["shape"] or list(original[name].shape) != m["shape"]:
                failures.append(f"{name}: dequantized {dtypes[name]} {list(b.shape)}, expected F32 {m['shape']}")
                continue
            ulps = int(float32_ulps(a, b).max()) if a.size else 0
            allowed = 0 if m["scheme"] in EXACT else 1
            if ulps > allowed:
                failures.append(f"{name} ({m['scheme']}): {ulps} ulps from eigenq dequantize (allowed {allowed})")
            if m["dtype"] != original_dtypes[name]:
                failures.append(f"{name}: metadata dtype {m['dtype']} != {original_dtypes[name]}")
        else:
            if dtypes[name] != original_dtypes[name] or not np.array_equal(b, original[name]) \
                    or not np.array_equal(a, original[name]):
                failures.append(f"{name}: plain tensor changed")
    quantized_names = sorted(meta)
    print(f"  {label:28s} ok: {len(quantized_names)} quantized ({', '.join(quantized_names)})")
    return failures


def check_npy(eigenq, work):
    src = os.path.join(work, "single.npy")
    quantized = os.path.join(work, "single.safetensors")
    restored = os.path.join(work, "restored.npy")
    run([eigenq, "quantize", src, quantized, "--quiet", "--scheme", "linear-affine", "--bits", "4"])
    run([eigenq, "dequantize", quantized, restored, "--quiet"])
    mine, meta, _ = read_eigenq(quantized)
    theirs = np.load(restored)
    if list(meta) != ["single"] or theirs.dtype != np.float32 or theirs.shape != np.load(src).shape:
        return [f"npy: names {list(meta)}, restored {theirs.dtype} {theirs.shape}"]
    if int(float32_ulps(mine["single"], theirs).max()) != 0:
        return ["npy: reconstruction differs from eigenq dequantize"]
    print("  npy in, npy out              ok")
    return []


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eigenq", required=True, help="the eigenq binary")
    parser.add_argument("--work-dir", required=True, help="scratch folder (recreated)")
    args = parser.parse_args()
    shutil.rmtree(args.work_dir, ignore_errors=True)
    os.makedirs(args.work_dir)
    make_models(args.work_dir)
    failures = []
    for label, model, extra in CASES:
        for f in check_case(args.eigenq, args.work_dir, label, model, extra):
            failures.append(f"{label}: {f}")
    failures += check_npy(args.eigenq, args.work_dir)
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"all {len(CASES) + 1} cases agree with eigenq dequantize")
    return 0


if __name__ == "__main__":
    sys.exit(main())
