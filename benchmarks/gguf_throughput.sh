#!/usr/bin/env bash
# Scale check of `eigenq quantize IN OUT.gguf --type TYPE` (issue 12): builds a large float32
# safetensors file (default 64 tensors of 4096 x 4096, Gaussian with std 0.02 = 4 GiB), runs
# the tool on it under GNU time (wall time, CPU time, peak resident memory) with --jobs 1 and
# --jobs 2, then, in the same run, quantizes every tensor with ggml's own ggml_quantize_chunk
# (libggml-base.so through ctypes, single-threaded, input already in memory, the quantizer's
# CPU time only) and compares its bytes with the tensors of the tool's GGUF file, which it
# opens with ggml's gguf_init_from_file. Prints the tool's figures, ggml's and their ratio.
# The data is deleted afterwards.
#
#   benchmarks/gguf_throughput.sh [EIGENQ] [WORK_DIR]
#     EIGENQ    the eigenq binary (default: build/default/examples/cli/eigenq)
#     WORK_DIR  where the files go (default: /tmp/eigenq-gguf-throughput; needs ~7 GiB free)
#   Environment: EIGENQ_GGML_LIB_DIR (required: the folder of ggml's libggml-base.so, see
#                tests/ggml/README.md), TYPE (q4_K), TENSORS (64), ROWS (4096), COLS (4096),
#                EXTRA (more eigenq options, e.g. "--imatrix FILE").
#
# Needs /usr/bin/python3 with numpy and GNU time (apt-get install time).
# Goals (issue 12): peak RSS < 1 GiB; at least as fast as ggml's quantizer single-threaded.
set -euo pipefail

eigenq=${1:-build/default/examples/cli/eigenq}
work=${2:-/tmp/eigenq-gguf-throughput}
type=${TYPE:-q4_K}
tensors=${TENSORS:-64}
rows=${ROWS:-4096}
cols=${COLS:-4096}
extra=${EXTRA:-}
ggml_dir=${EIGENQ_GGML_LIB_DIR:-}

if [[ ! -x ${eigenq} ]]; then
  echo "no eigenq binary at ${eigenq} (build the eigenq_cli target, or pass its path)" >&2
  exit 2
fi
if [[ ! -x /usr/bin/time ]]; then
  echo "GNU time is missing: apt-get install time" >&2
  exit 2
fi
if [[ -z ${ggml_dir} || ! -f ${ggml_dir}/libggml-base.so ]]; then
  echo "set EIGENQ_GGML_LIB_DIR to the folder holding ggml's libggml-base.so" >&2
  exit 2
fi

mkdir -p "${work}"
model=${work}/model.safetensors
out=${work}/model.gguf
trap 'rm -f "${model}" "${out}" "${work}"/*.time "${work}/tool.log" "${work}/ggml.seconds"' EXIT

echo "writing ${tensors} tensors of ${rows} x ${cols} float32 to ${model} ..."
/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/write_f32_safetensors.py" "${model}" "${tensors}" "${rows}" "${cols}" \
  'blk.{i}.ffn_up.weight' 0.02
size=$(stat -c %s "${model}")
sync

# One run of the tool under GNU time; prints "wall user sys rss_kib".
run_tool() {
  local jobs=$1
  rm -f "${out}"
  # shellcheck disable=SC2086
  /usr/bin/time -v -o "${work}/tool.time" "${eigenq}" quantize "${model}" "${out}" --type "${type}" \
    --jobs "${jobs}" ${extra} > "${work}/tool.log" 2>&1
  awk -F': ' '
    /Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; wall = s}
    /User time/ {user = $2}
    /System time/ {sys = $2}
    /Maximum resident set size/ {rss = $2}
    END {print wall, user, sys, rss}' "${work}/tool.time"
}

echo "eigenq quantize --type ${type} --jobs 2 ..."
read -r wall2 user2 sys2 rss2 < <(run_tool 2)
echo "eigenq quantize --type ${type} --jobs 1 ..."
read -r wall1 user1 sys1 rss1 < <(run_tool 1)
out_size=$(stat -c %s "${out}")

echo "ggml_quantize_chunk on the same tensors, and the bytes compared ..."
/usr/bin/python3 - "${model}" "${out}" "${ggml_dir}/libggml-base.so" "${type}" > "${work}/ggml.seconds" <<'EOF'
import ctypes, json, struct, sys, time
import numpy as np
model, gguf, lib_path, type_name = sys.argv[1:5]
lib = ctypes.CDLL(lib_path)
lib.ggml_type_name.restype = ctypes.c_char_p
lib.ggml_type_name.argtypes = [ctypes.c_int]
ggml_type = next(t for t in range(64) if (lib.ggml_type_name(t) or b"").decode().lower() == type_name.lower())
lib.ggml_row_size.restype = ctypes.c_size_t
lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
lib.ggml_quantize_chunk.restype = ctypes.c_size_t
lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                    ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
lib.ggml_quantize_init.argtypes = [ctypes.c_int]
class InitParams(ctypes.Structure):
    _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.c_void_p)]
lib.gguf_init_from_file.restype = ctypes.c_void_p
lib.gguf_init_from_file.argtypes = [ctypes.c_char_p, InitParams]
lib.gguf_free.argtypes = [ctypes.c_void_p]
lib.gguf_get_data_offset.restype = ctypes.c_size_t
lib.gguf_get_data_offset.argtypes = [ctypes.c_void_p]
lib.gguf_find_tensor.restype = ctypes.c_int64
lib.gguf_find_tensor.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
lib.gguf_get_tensor_offset.restype = ctypes.c_size_t
lib.gguf_get_tensor_offset.argtypes = [ctypes.c_void_p, ctypes.c_int64]
lib.gguf_get_tensor_type.restype = ctypes.c_int
lib.gguf_get_tensor_type.argtypes = [ctypes.c_void_p, ctypes.c_int64]

ctx = lib.gguf_init_from_file(gguf.encode(), InitParams(True, None))
if not ctx:
    sys.exit(f"ggml's gguf_init_from_file refused {gguf}")
data_offset = lib.gguf_get_data_offset(ctx)
with open(model, "rb") as f:
    header_len = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(header_len))
src = np.memmap(model, dtype=np.uint8, mode="r")
dst_file = np.memmap(gguf, dtype=np.uint8, mode="r")
lib.ggml_quantize_init(ggml_type)
seconds = 0.0
for name, info in header.items():
    if name == "__metadata__":
        continue
    rows, cols = info["shape"]
    begin, end = info["data_offsets"]
    x = np.frombuffer(src[8 + header_len + begin:8 + header_len + end].tobytes(), dtype=np.float32)  # in memory
    row_bytes = lib.ggml_row_size(ggml_type, cols)
    q = np.empty(rows * row_bytes, dtype=np.uint8)
    t0 = time.thread_time()
    lib.ggml_quantize_chunk(ggml_type, x.ctypes.data, q.ctypes.data, 0, rows, cols, None)
    seconds += time.thread_time() - t0
    index = lib.gguf_find_tensor(ctx, name.encode())
    if index < 0 or lib.gguf_get_tensor_type(ctx, index) != ggml_type:
        sys.exit(f"{gguf}: {name} missing or not of type {type_name}")
    at = data_offset + lib.gguf_get_tensor_offset(ctx, index)
    if not np.array_equal(dst_file[at:at + q.size], q):
        sys.exit(f"{gguf}: {name} differs from ggml_quantize_chunk's bytes")
lib.gguf_free(ctx)
print(f"{seconds:.3f}")
EOF
ggml_seconds=$(cat "${work}/ggml.seconds")

awk -v size="${size}" -v out="${out_size}" -v type="${type}" -v g="${ggml_seconds}" \
    -v w1="${wall1}" -v u1="${user1}" -v s1="${sys1}" -v r1="${rss1}" \
    -v w2="${wall2}" -v u2="${user2}" -v s2="${sys2}" -v r2="${rss2}" 'BEGIN {
  gib = 1024 * 1024 * 1024
  printf "input:  %.2f GiB float32 safetensors; output %.2f GiB GGUF (%s), every tensor identical to ggml_quantize_chunk\n", size / gib, out / gib, type
  printf "eigenq quantize --jobs 1: %6.2f s wall (user %.2f s, sys %.2f s)  %.2f GiB/s  peak RSS %.1f MiB\n", w1, u1, s1, size / gib / w1, r1 / 1024
  printf "eigenq quantize --jobs 2: %6.2f s wall (user %.2f s, sys %.2f s)  %.2f GiB/s  peak RSS %.1f MiB\n", w2, u2, s2, size / gib / w2, r2 / 1024
  printf "ggml_quantize_chunk, one thread, quantizing only: %.2f s CPU  %.2f GiB/s\n", g, size / gib / g
  printf "ratio ggml CPU time / eigenq --jobs 1 wall time: %.2f (goal >= 1)\n", g / w1
  printf "peak RSS: %.1f MiB with --jobs 1, %.1f MiB with --jobs 2 (goal < 1024 MiB)\n", r1 / 1024, r2 / 1024
}'
