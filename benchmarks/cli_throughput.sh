#!/usr/bin/env bash
# Scale check of `eigenq quantize`: builds a large safetensors file (default 64 tensors of
# 4096 x 4096 float32 = 4 GiB), times `cp` of it and `eigenq quantize` (int8 per channel)
# of it on the same disk, and prints both throughputs, their ratio and eigenq's peak
# resident memory (from /usr/bin/time -v). The data is deleted afterwards.
#
#   benchmarks/cli_throughput.sh [EIGENQ] [WORK_DIR]
#     EIGENQ    the eigenq binary (default: build/default/examples/cli/eigenq)
#     WORK_DIR  where the files go (default: /tmp/eigenq-cli-throughput; needs ~6 GiB free)
#   Environment: TENSORS (64), ROWS (4096), COLS (4096), JOBS (eigenq --jobs, default 2),
#                RUNS (3: best of RUNS for each of cp and eigenq), EXTRA (more eigenq options).
#
# Needs /usr/bin/python3 with numpy (to write the file) and GNU time (apt-get install time).
# Goals (issue 6): peak RSS < 1 GiB, throughput >= 0.5 x cp.
set -euo pipefail

eigenq=${1:-build/default/examples/cli/eigenq}
work=${2:-/tmp/eigenq-cli-throughput}
tensors=${TENSORS:-64}
rows=${ROWS:-4096}
cols=${COLS:-4096}
jobs=${JOBS:-2}
runs=${RUNS:-3}
extra=${EXTRA:-}

if [[ ! -x ${eigenq} ]]; then
  echo "no eigenq binary at ${eigenq} (build the eigenq_cli target, or pass its path)" >&2
  exit 2
fi
if [[ ! -x /usr/bin/time ]]; then
  echo "GNU time is missing: apt-get install time" >&2
  exit 2
fi

mkdir -p "${work}"
model=${work}/model.safetensors
copy=${work}/copy.safetensors
quantized=${work}/quantized.safetensors
trap 'rm -f "${model}" "${copy}" "${quantized}" "${work}"/*.time' EXIT

echo "writing ${tensors} tensors of ${rows} x ${cols} float32 to ${model} ..."
/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/write_f32_safetensors.py" "${model}" "${tensors}" "${rows}" "${cols}" \
  'layers.{i}.weight' 1
size=$(stat -c %s "${model}")
sync

# Best of RUNS wall-clock seconds of a command; peak RSS (KiB) of the best run in ${work}/rss.
best_of() {
  local label=$1
  shift
  local best="" t
  for ((r = 0; r < runs; r++)); do
    rm -f "${copy}" "${quantized}"
    sync
    /usr/bin/time -v -o "${work}/${label}.time" "$@"
    t=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "${work}/${label}.time")
    if [[ -z ${best} ]] || awk -v a="${t}" -v b="${best}" 'BEGIN { exit !(a < b) }'; then
      best=${t}
      awk -F': ' '/Maximum resident set size/ {print $2}' "${work}/${label}.time" > "${work}/rss"
    fi
  done
  echo "${best}"
}

cp_seconds=$(best_of cp cp "${model}" "${copy}")
cp_rss=$(cat "${work}/rss")
# shellcheck disable=SC2086
eigenq_seconds=$(best_of eigenq "${eigenq}" quantize "${model}" "${quantized}" --scheme linear-symmetric --bits 8 \
  --granularity channel --jobs "${jobs}" --quiet ${extra})
eigenq_rss=$(cat "${work}/rss")
out_size=$(stat -c %s "${quantized}" 2>/dev/null || echo 0)

awk -v size="${size}" -v out="${out_size}" -v cs="${cp_seconds}" -v es="${eigenq_seconds}" \
    -v crss="${cp_rss}" -v erss="${eigenq_rss}" -v jobs="${jobs}" 'BEGIN {
  gib = 1024 * 1024 * 1024
  printf "input:            %.2f GiB (%.0f bytes)\n", size / gib, size
  printf "cp:               %.2f s  %.2f GiB/s  peak RSS %.1f MiB\n", cs, size / gib / cs, crss / 1024
  printf "eigenq quantize:  %.2f s  %.2f GiB/s  peak RSS %.1f MiB  (int8 per channel, --jobs %d, output %.2f GiB)\n", es, size / gib / es, erss / 1024, jobs, out / gib
  printf "throughput ratio eigenq / cp: %.2f (goal >= 0.5)\n", cs / es
  printf "peak RSS: %.1f MiB (goal < 1024 MiB)\n", erss / 1024
}'
