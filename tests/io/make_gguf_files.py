#!/usr/bin/env python3
"""Writes the GGUF and imatrix test files, byte by byte, without eigenq or ggml:

  tests/io/data/gguf_bad/   files each wrong in exactly one way, and MANIFEST.tsv naming for each
                            the byte offset and the field eigenq's reader must report;
  tests/fuzz/corpus/gguf/   good small files the gguf fuzzer starts from.

The outputs are committed; run this again after changing it (python3, standard library only):
  python3 tests/io/make_gguf_files.py
"""
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BAD = os.path.join(HERE, "data", "gguf_bad")
SEEDS = os.path.join(HERE, "..", "fuzz", "corpus", "gguf")

# GGUF value types (ggml's enum gguf_type).
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
# The three ggml tensor types these files use: id, elements per block, bytes per block.
GGML_F32, GGML_F16, GGML_Q8_0 = (0, 1, 4), (1, 1, 2), (8, 32, 34)


def p32(v): return struct.pack("<I", v)
def i32(v): return struct.pack("<i", v)
def p64(v): return struct.pack("<Q", v)
def i64(v): return struct.pack("<q", v)
def f32(v): return struct.pack("<f", v)
def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return p64(len(b)) + b


class Gguf:
    """Builds a GGUF file piece by piece and remembers where each piece starts."""

    def __init__(self):
        self.buf = bytearray()
        self.marks = {}

    def put(self, data, mark=None):
        if mark is not None:
            self.marks[mark] = len(self.buf)
        self.buf += data
        return self

    def pad(self, alignment):
        self.buf += b"\0" * (-len(self.buf) % alignment)
        return self


def kv(key, vtype, payload):
    """A key/value pair: key, value type, value bytes; returns (bytes, offset of type, offset of value)."""
    k = gstr(key)
    return k + i32(vtype) + payload, len(k), len(k) + 4


def arr(etype, items):
    return i32(etype) + p64(len(items)) + b"".join(items)


def tensor_bytes(ggml_type, ne):
    _, block, size = ggml_type
    n = 1
    for d in ne:
        n *= d
    return n // block * size


def model(kvs=None, tensors=None, version=3, alignment=32, data_override=None, marks=True):
    """A small valid model; kvs: list of (key, type, payload); tensors: list of (name, type, ne, data or None)."""
    if kvs is None:
        kvs = [("general.architecture", STR, gstr("llama")),
               ("general.name", STR, gstr("tiny")),
               ("llama.context_length", U32, p32(128)),
               ("general.flag", BOOL, b"\x01"),
               ("tokenizer.ggml.tokens", ARR, arr(STR, [gstr("<s>"), gstr("a")])),
               ("tokenizer.ggml.scores", ARR, arr(F32, [f32(0.0), f32(-1.0)]))]
    if tensors is None:
        tensors = [("tok_embd.weight", GGML_F32, [8, 2], None),
                   ("blk.0.w", GGML_Q8_0, [32, 2], None),
                   ("output_norm.weight", GGML_F16, [8], None)]
    g = Gguf()
    g.put(b"GGUF", "magic").put(p32(version), "version")
    g.put(i64(len(tensors)), "tensor_count").put(i64(len(kvs)), "kv_count")
    for i, (key, vtype, payload) in enumerate(kvs):
        g.put(gstr(key), f"kv{i}").put(i32(vtype), f"kv{i}.type").put(payload, f"kv{i}.value")
    offset = 0
    blobs = []
    for i, (name, gtype, ne, data) in enumerate(tensors):
        if data is None:
            data = bytes((7 * k + i) & 0xFF for k in range(tensor_bytes(gtype, ne)))
        g.put(gstr(name), f"t{i}").put(p32(len(ne)), f"t{i}.n_dims")
        for j, d in enumerate(ne):
            g.put(i64(d), f"t{i}.ne{j}")
        g.put(i32(gtype[0]), f"t{i}.type").put(p64(offset), f"t{i}.offset")
        blobs.append((offset, data))
        offset += len(data) + (-len(data) % alignment)
    g.marks["infos_end"] = len(g.buf)
    if tensors:
        g.pad(alignment)
    g.marks["data"] = len(g.buf)
    for off, data in blobs:
        g.put(data)
        g.pad(alignment)
    if data_override is not None:
        g.buf = g.buf[:g.marks["data"]] + data_override
    return g


def imatrix_gguf(entries=None, kvs=None, version=3):
    """llama-imatrix's GGUF format: NAME.in_sum2 F32 [ne0(, n_mat)], NAME.counts F32 [1(, n_mat)]."""
    if kvs is None:
        kvs = [("general.type", STR, gstr("imatrix")),
               ("imatrix.datasets", ARR, arr(STR, [gstr("wiki.train.raw")])),
               ("imatrix.chunk_count", U32, p32(10)),
               ("imatrix.chunk_size", U32, p32(512))]
    if entries is None:
        entries = [("blk.0.ffn_down.weight", [4.0, 8.0, 0.5, 12.0], [2.0])]
    tensors = []
    for name, sums, counts in entries:
        n_mat = len(counts)
        ne0 = len(sums) // n_mat
        tensors.append((name + ".in_sum2", GGML_F32, [ne0] if n_mat == 1 else [ne0, n_mat],
                        b"".join(f32(v) for v in sums)))
        tensors.append((name + ".counts", GGML_F32, [1] if n_mat == 1 else [1, n_mat],
                        b"".join(f32(v) for v in counts)))
    return model(kvs=kvs, tensors=tensors, version=version)


def dat(entries, trailer=(10, "wiki.train.raw"), n_entries=None):
    """Legacy .dat: i32 n; per entry i32 len, name, i32 ncall, i32 nval, floats; i32 chunks, i32 len, dataset."""
    b = bytearray(i32(len(entries) if n_entries is None else n_entries))
    marks = {}
    for k, (name, ncall, values) in enumerate(entries):
        nb = name.encode()
        marks[f"e{k}"] = len(b)
        b += i32(len(nb))
        marks[f"e{k}.name"] = len(b)
        b += nb
        marks[f"e{k}.ncall"] = len(b)
        b += i32(ncall)
        marks[f"e{k}.nval"] = len(b)
        b += i32(len(values))
        marks[f"e{k}.values"] = len(b)
        b += b"".join(f32(v) for v in values)
    marks["trailer"] = len(b)
    if trailer is not None:
        b += i32(trailer[0])
        marks["dataset_len"] = len(b)
        b += i32(len(trailer[1])) + trailer[1].encode()
    marks["end"] = len(b)
    return bytes(b), marks


GOOD_DAT = [("blk.0.attn_q.weight", 10, [40.0, 20.0, 0.0, 10.0]),
            ("blk.0.ffn_down.weight", 10, [5.0, 15.0])]


def patch(buf, at, data):
    b = bytearray(buf)
    b[at:at + len(data)] = data
    return bytes(b)


def bad_files():
    """Yields (file name, bytes, byte offset, field, what is wrong)."""
    g = model()
    m, b = g.marks, bytes(g.buf)
    yield "bad_magic.gguf", patch(b, 0, b"GGUG"), 0, "magic", "magic is GGUG"
    yield "version_1.gguf", patch(b, 4, p32(1)), 4, "version", "version 1 (32-bit counts) is refused"
    yield "version_4.gguf", patch(b, 4, p32(4)), 4, "version", "a version from the future"
    yield "big_endian.gguf", patch(b, 4, struct.pack(">I", 3)), 4, "version", "version 3 written big-endian"
    yield "truncated_header.gguf", b[:12], 8, "tensor_count", "the file ends inside the tensor count"
    yield "tensor_count_huge.gguf", patch(b, 8, i64(1 << 40)), 8, "tensor_count", "2^40 tensors in a small file"
    yield "tensor_count_negative.gguf", patch(b, 8, i64(-1)), 8, "tensor_count", "-1 tensors"
    yield "kv_count_huge.gguf", patch(b, 16, i64(1 << 50)), 16, "metadata_kv_count", "2^50 pairs in a small file"

    # Key/value pairs: rebuild the file with one pair replaced.
    def with_kv(index, key, vtype, payload):
        kvs = [("general.architecture", STR, gstr("llama")),
               ("general.name", STR, gstr("tiny")),
               ("llama.context_length", U32, p32(128))]
        kvs[index] = (key, vtype, payload)
        return model(kvs=kvs)

    g2 = with_kv(1, "", STR, gstr("tiny"))
    yield "key_empty.gguf", bytes(g2.buf), g2.marks["kv1"], "metadata key 1", "an empty key"
    g2 = model()
    huge_key = patch(bytes(g2.buf), g2.marks["kv1"], p64(1 << 62))
    yield "key_length_huge.gguf", huge_key, g2.marks["kv1"], "metadata key 1 length", "a key of 2^62 bytes"
    g2 = with_kv(2, "general.architecture", U32, p32(1))
    yield "duplicate_key.gguf", bytes(g2.buf), g2.marks["kv2"], "metadata key 2 'general.architecture'", "a key twice"
    g2 = with_kv(2, "llama.context_length", 13, p32(128))
    yield "value_type_unknown.gguf", bytes(g2.buf), g2.marks["kv2.type"], \
        "metadata 'llama.context_length' value type", "value type 13"
    g2 = with_kv(2, "general.flag", BOOL, b"\x02")
    yield "bool_not_0_or_1.gguf", bytes(g2.buf), g2.marks["kv2.value"], "metadata 'general.flag'", "a bool of 2"
    g2 = model()
    huge_str = patch(bytes(g2.buf), g2.marks["kv1.value"], p64(1000))
    yield "string_past_eof.gguf", huge_str, g2.marks["kv1.value"], "metadata 'general.name' length", \
        "a string of 1000 bytes in a small file"
    g2 = with_kv(2, "tokenizer.ggml.scores", ARR, i32(F32) + p64(1 << 60))
    yield "array_length_huge.gguf", bytes(g2.buf), g2.marks["kv2.value"] + 4, \
        "metadata 'tokenizer.ggml.scores' array length", "an array of 2^60 floats"
    g2 = with_kv(2, "tokenizer.ggml.scores", ARR, i32(99) + p64(0))
    yield "array_type_unknown.gguf", bytes(g2.buf), g2.marks["kv2.value"], \
        "metadata 'tokenizer.ggml.scores' array element type", "arrays of type 99"
    nested = arr(U8, [b"\x01"])
    for _ in range(16):
        nested = arr(ARR, [nested])
    g2 = with_kv(2, "deep", ARR, nested)
    yield "arrays_nested_17_deep.gguf", bytes(g2.buf), g2.marks["kv2.value"] + 15 * 12, \
        "metadata 'deep'" + "[0]" * 15 + " array element type", "arrays nested 17 deep"
    g2 = with_kv(2, "general.alignment", I32, i32(32))
    yield "alignment_not_u32.gguf", bytes(g2.buf), g2.marks["kv2.type"], \
        "metadata 'general.alignment' value type", "general.alignment as i32"
    g2 = with_kv(2, "general.alignment", U32, p32(24))
    yield "alignment_24.gguf", bytes(g2.buf), g2.marks["kv2.value"], "metadata 'general.alignment'", \
        "an alignment that is not a power of two"
    g2 = with_kv(2, "general.alignment", U32, p32(0))
    yield "alignment_0.gguf", bytes(g2.buf), g2.marks["kv2.value"], "metadata 'general.alignment'", "alignment 0"

    # Tensor infos.
    def with_tensors(tensors, **kw):
        return model(tensors=tensors, **kw)

    base = [("tok_embd.weight", GGML_F32, [8, 2], None), ("blk.0.w", GGML_Q8_0, [32, 2], None)]

    def replaced(i, t):
        ts = list(base)
        ts[i] = t
        return ts

    g2 = with_tensors(replaced(1, ("", GGML_Q8_0, [32, 2], None)))
    yield "tensor_name_empty.gguf", bytes(g2.buf), g2.marks["t1"], "tensor 1 name", "an empty tensor name"
    g2 = with_tensors(replaced(1, ("tok_embd.weight", GGML_Q8_0, [32, 2], None)))
    yield "tensor_name_twice.gguf", bytes(g2.buf), g2.marks["t1"], "tensor 'tok_embd.weight' name", "a name twice"
    g2 = model()
    yield "n_dims_0.gguf", patch(bytes(g2.buf), g2.marks["t1.n_dims"], p32(0)), g2.marks["t1.n_dims"], \
        "tensor 'blk.0.w' n_dims", "a tensor of rank 0"
    g2 = with_tensors(replaced(1, ("blk.0.w", GGML_F32, [2, 2, 2, 2, 2], None)))
    yield "n_dims_5.gguf", bytes(g2.buf), g2.marks["t1.n_dims"], "tensor 'blk.0.w' n_dims", "a tensor of rank 5"
    g2 = model()
    yield "dim_0.gguf", patch(bytes(g2.buf), g2.marks["t0.ne1"], i64(0)), g2.marks["t0.ne1"], \
        "tensor 'tok_embd.weight' ne[1]", "a dimension of 0"
    yield "dim_negative.gguf", patch(bytes(g2.buf), g2.marks["t0.ne0"], i64(-8)), g2.marks["t0.ne0"], \
        "tensor 'tok_embd.weight' ne[0]", "a dimension of -8"
    g2 = with_tensors(replaced(1, ("blk.0.w", GGML_F32, [1 << 32, 1 << 32], b"")))
    yield "elements_overflow.gguf", bytes(g2.buf), g2.marks["t1.ne1"], "tensor 'blk.0.w' ne[1]", \
        "2^64 elements"
    g2 = with_tensors(replaced(1, ("blk.0.w", GGML_F32, [1 << 31, 1 << 31], b"")))
    yield "bytes_overflow.gguf", bytes(g2.buf), g2.marks["t1.type"], "tensor 'blk.0.w' type", \
        "2^62 f32 elements: 2^64 bytes"
    g2 = model()
    yield "type_unknown.gguf", patch(bytes(g2.buf), g2.marks["t0.type"], i32(1000)), g2.marks["t0.type"], \
        "tensor 'tok_embd.weight' type", "ggml type 1000"
    yield "type_removed_q4_2.gguf", patch(bytes(g2.buf), g2.marks["t0.type"], i32(4)), g2.marks["t0.type"], \
        "tensor 'tok_embd.weight' type", "ggml type 4 (Q4_2, removed from ggml)"
    g2 = with_tensors(replaced(1, ("blk.0.w", GGML_Q8_0, [48, 2], b"\0" * 102)))
    yield "row_not_whole_blocks.gguf", bytes(g2.buf), g2.marks["t1.type"], "tensor 'blk.0.w' type", \
        "q8_0 rows of 48 elements"
    g2 = model()
    yield "offset_misaligned.gguf", patch(bytes(g2.buf), g2.marks["t1.offset"], p64(68)), g2.marks["t1.offset"], \
        "tensor 'blk.0.w' offset", "offset 68, not a multiple of 32"
    yield "tensors_overlap.gguf", patch(bytes(g2.buf), g2.marks["t1.offset"], p64(32)), g2.marks["t1.offset"], \
        "tensor 'blk.0.w' offset", "the second tensor starts inside the first"
    b2 = bytes(g2.buf)
    assert g2.marks["infos_end"] % 32 != 0, "data_section_past_eof.gguf needs unaligned tensor infos"
    yield "data_truncated.gguf", b2[:g2.marks["data"] + 64 + 32], g2.marks["t1.offset"], \
        "tensor 'blk.0.w' offset", "the file ends inside the second tensor's data"
    yield "data_section_past_eof.gguf", b2[:g2.marks["infos_end"]], g2.marks["infos_end"], "data section", \
        "the file ends where the tensor infos end"
    yield "truncated_in_tensor_info.gguf", b2[:g2.marks["t1.ne1"] + 3], g2.marks["t1.ne1"], \
        "tensor 'blk.0.w' ne[1]", "the file ends inside a dimension"

    # GGUF importance matrices.
    g2 = imatrix_gguf()
    good = bytes(g2.buf)
    yield "imatrix_nan.gguf", patch(good, g2.marks["data"] + 8, f32(float("nan"))), g2.marks["data"] + 8, \
        "tensor 'blk.0.ffn_down.weight.in_sum2' [2, 0]", "a NaN sum"
    yield "imatrix_negative_sum.gguf", patch(good, g2.marks["data"] + 4, f32(-8.0)), g2.marks["data"] + 4, \
        "tensor 'blk.0.ffn_down.weight.in_sum2' [1, 0]", "a negative sum of squares"
    yield "imatrix_zero_count.gguf", patch(good, g2.marks["data"] + 32, f32(0.0)), g2.marks["data"] + 32, \
        "tensor 'blk.0.ffn_down.weight.counts'", "a count of 0"
    yield "imatrix_fractional_count.gguf", patch(good, g2.marks["data"] + 32, f32(1e-30)), g2.marks["data"] + 32, \
        "tensor 'blk.0.ffn_down.weight.counts' [0]", "a count of 1e-30 (sums / count would overflow)"
    tensors = [("blk.0.ffn_down.weight.in_sum2", GGML_F32, [4], b"".join(f32(v) for v in [1, 2, 3, 4]))]
    g3 = model(kvs=[("general.type", STR, gstr("imatrix")),
                    ("imatrix.datasets", ARR, arr(STR, [gstr("wiki.train.raw")])),
                    ("imatrix.chunk_count", U32, p32(10)),
                    ("imatrix.chunk_size", U32, p32(512))], tensors=tensors)
    yield "imatrix_sums_without_counts.gguf", bytes(g3.buf), g3.marks["t0"], \
        "tensor 'blk.0.ffn_down.weight.in_sum2'", "in_sum2 without its counts"
    g3 = model(kvs=[("general.type", STR, gstr("imatrix")),
                    ("imatrix.datasets", ARR, arr(STR, [gstr("wiki.train.raw")])),
                    ("imatrix.chunk_count", U32, p32(10)),
                    ("imatrix.chunk_size", U32, p32(512))],
               tensors=[("w.in_sum2", GGML_F32, [4], b"".join(f32(v) for v in [1, 2, 3, 4])),
                        ("w.counts", GGML_F32, [1, 2], f32(1) + f32(1))])
    yield "imatrix_counts_shape.gguf", bytes(g3.buf), g3.marks["t1.ne0"], "tensor 'w.counts' ne", \
        "two counts for one matrix"
    g3 = model(kvs=[("general.type", STR, gstr("imatrix")),
                    ("imatrix.datasets", ARR, arr(STR, [gstr("wiki.train.raw")])),
                    ("imatrix.chunk_count", U32, p32(10)),
                    ("imatrix.chunk_size", U32, p32(512))],
               tensors=[("w.in_sum2", GGML_F16, [4], b"\0" * 8), ("w.counts", GGML_F32, [1], f32(1))])
    yield "imatrix_sums_f16.gguf", bytes(g3.buf), g3.marks["t0.type"], "tensor 'w.in_sum2' type", \
        "in_sum2 stored as f16"
    g3 = imatrix_gguf(kvs=[("general.type", STR, gstr("imatrix")),
                           ("imatrix.datasets", ARR, arr(STR, [gstr("wiki.train.raw")])),
                           ("imatrix.chunk_count", U32, p32(10))])
    yield "imatrix_no_chunk_size.gguf", bytes(g3.buf), 16, "metadata_kv_count", "imatrix.chunk_size missing"
    g3 = imatrix_gguf(kvs=[("general.type", STR, gstr("imatrix")),
                           ("imatrix.datasets", ARR, arr(STR, [gstr("wiki.train.raw")])),
                           ("imatrix.chunk_count", I32, i32(10)),
                           ("imatrix.chunk_size", U32, p32(512))])
    yield "imatrix_chunk_count_i32.gguf", bytes(g3.buf), g3.marks["kv2.type"], \
        "metadata 'imatrix.chunk_count' value type", "imatrix.chunk_count as i32"
    g3 = imatrix_gguf(kvs=[("general.type", STR, gstr("model")),
                           ("imatrix.datasets", ARR, arr(STR, [gstr("wiki.train.raw")])),
                           ("imatrix.chunk_count", U32, p32(10)),
                           ("imatrix.chunk_size", U32, p32(512))])
    yield "imatrix_general_type_model.gguf", bytes(g3.buf), g3.marks["kv0"], "metadata 'general.type'", \
        "general.type says model"

    # Legacy .dat importance matrices.
    good_dat, dm = dat(GOOD_DAT)
    yield "legacy_entry_count_0.dat", patch(good_dat, 0, i32(0)), 0, "entry count", "0 entries"
    yield "legacy_entry_count_huge.dat", patch(good_dat, 0, i32(1 << 30)), 0, "entry count", "2^30 entries"
    yield "legacy_name_length_negative.dat", patch(good_dat, dm["e1"], i32(-5)), dm["e1"], \
        "entry 1 name length", "a name length of -5"
    yield "legacy_name_length_huge.dat", patch(good_dat, dm["e1"], i32(1 << 30)), dm["e1"], \
        "entry 1 name length", "a name of 2^30 bytes"
    yield "legacy_ncall_0.dat", patch(good_dat, dm["e0.ncall"], i32(0)), dm["e0.ncall"], \
        "entry 0 'blk.0.attn_q.weight' ncall", "a count of 0"
    yield "legacy_nval_huge.dat", patch(good_dat, dm["e1.nval"], i32(1000)), dm["e1.nval"], \
        "entry 1 'blk.0.ffn_down.weight' nval", "1000 values in a small file"
    yield "legacy_nan.dat", patch(good_dat, dm["e0.values"] + 8, f32(float("nan"))), dm["e0.values"] + 8, \
        "entry 0 'blk.0.attn_q.weight' value 2", "a NaN importance"
    yield "legacy_negative_value.dat", patch(good_dat, dm["e1.values"] + 4, f32(-1.0)), dm["e1.values"] + 4, \
        "entry 1 'blk.0.ffn_down.weight' value 1", "a negative importance"
    twice, tm = dat([GOOD_DAT[0], GOOD_DAT[0]])
    yield "legacy_name_twice.dat", twice, tm["e1.name"], "entry 1 'blk.0.attn_q.weight' name", "a name twice"
    yield "legacy_trailing_bytes.dat", good_dat + b"\0\0", dm["end"], "end of file", \
        "two bytes after the dataset name"
    yield "legacy_trailer_truncated.dat", good_dat[:dm["trailer"] + 6], dm["dataset_len"], \
        "dataset name length", "the file ends inside the dataset name length"
    yield "legacy_dataset_length_huge.dat", patch(good_dat, dm["dataset_len"], i32(1 << 20)), dm["dataset_len"], \
        "dataset name length", "a dataset name of 2^20 bytes"


def seed_files():
    """Good files for the fuzzer's seed corpus."""
    yield "model_v3.gguf", bytes(model().buf)
    yield "model_v2.gguf", bytes(model(version=2).buf)
    yield "alignment_64.gguf", bytes(model(kvs=[("general.alignment", U32, p32(64)),
                                                ("general.name", STR, gstr("x"))], alignment=64).buf)
    nested = arr(ARR, [arr(I16, [struct.pack("<h", -3)]), arr(STR, [gstr("q")]), arr(BOOL, [])])
    yield "every_type.gguf", bytes(model(kvs=[
        ("u8", U8, b"\xff"), ("i8", I8, b"\x80"), ("u16", U16, struct.pack("<H", 65535)),
        ("i16", I16, struct.pack("<h", -2)), ("u32", U32, p32(7)), ("i32", I32, i32(-7)),
        ("f32", F32, f32(1.5)), ("bool", BOOL, b"\x00"), ("str", STR, gstr("s")),
        ("u64", U64, p64(1 << 63)), ("i64", I64, i64(-1)), ("f64", F64, struct.pack("<d", -0.25)),
        ("nested", ARR, nested)], tensors=[]).buf)
    yield "imatrix.gguf", bytes(imatrix_gguf().buf)
    yield "imatrix_moe.gguf", bytes(imatrix_gguf(entries=[("blk.0.ffn_up_exps.weight",
                                                          [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2.0, 0.0, 3.0])]).buf)
    yield "imatrix.dat", dat(GOOD_DAT)[0]
    yield "imatrix_no_trailer.dat", dat(GOOD_DAT, trailer=None)[0]


def main():
    shutil.rmtree(BAD, ignore_errors=True)
    os.makedirs(BAD)
    rows = []
    for name, data, offset, field, what in bad_files():
        with open(os.path.join(BAD, name), "wb") as f:
            f.write(data)
        rows.append(f"{name}\t{offset}\t{field}\t{what}\n")
    with open(os.path.join(BAD, "MANIFEST.tsv"), "w") as f:
        f.write("# file\tbyte offset\tfield\twhat is wrong (written by tests/io/make_gguf_files.py)\n")
        f.writelines(rows)
    shutil.rmtree(SEEDS, ignore_errors=True)
    os.makedirs(SEEDS)
    for name, data in seed_files():
        with open(os.path.join(SEEDS, name), "wb") as f:
            f.write(data)
    print(f"{len(rows)} bad files in {BAD}, seeds in {os.path.normpath(SEEDS)}", file=sys.stderr)


if __name__ == "__main__":
    main()
