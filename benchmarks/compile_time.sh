#!/usr/bin/env bash
# What including eigenq costs a translation unit: compiles three small files at -O2 and prints
# their times and the ratios to the first.
#   eigen      includes <Eigen/Dense> and multiplies two matrices (the baseline)
#   quantize   includes <eigenq/quantize.hpp> and calls eigenq::quantize and dequantize once
#   umbrella   includes <eigenq/eigenq.hpp> and does the same
# Targets (issue 11): quantize <= 1.5x eigen, umbrella <= 2.5x eigen.
#
#   benchmarks/compile_time.sh [CXX]        (default: c++; RUNS=3, best of RUNS per file)
# Environment: CXXFLAGS (default "-O2 -std=c++17"), EIGEN_INCLUDE (default /usr/include/eigen3).
set -euo pipefail

cxx=${1:-c++}
runs=${RUNS:-3}
flags=${CXXFLAGS:--O2 -std=c++17}
eigen=${EIGEN_INCLUDE:-/usr/include/eigen3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT

cat > "${work}/eigen.cpp" <<'CPP'
#include <Eigen/Dense>
float run(const Eigen::MatrixXf& a) {
  Eigen::MatrixXf b = a * a.transpose();
  return b.sum();
}
CPP
for name in quantize umbrella; do
  header=eigenq/quantize.hpp
  [[ ${name} == umbrella ]] && header=eigenq/eigenq.hpp
  cat > "${work}/${name}.cpp" <<CPP
#include <cstdint>
#include <Eigen/Dense>
#include <${header}>
float run(const Eigen::MatrixXf& a) {
  auto q = eigenq::quantize(a, eigenq::Linear<std::int8_t>::symmetric(), eigenq::PerChannel{0});
  Eigen::MatrixXf b = eigenq::dequantize<Eigen::MatrixXf>(q);
  return b.sum();
}
CPP
done

# Best of ${runs} CPU seconds (user + system) for compiling one file to an object: CPU time
# moves less than wall time on a machine other jobs share.
best_time() {
  local best=""
  for ((i = 0; i < runs; ++i)); do
    local t
    # shellcheck disable=SC2086
    t=$( { TIMEFORMAT='%U %S'; time "${cxx}" ${flags} -I "${root}/include" -I "${eigen}" \
             -c "${work}/$1.cpp" -o "${work}/$1.o"; } 2>&1 )
    best=$(awk -v a="${best}" -v t="${t}" 'BEGIN { split(t, f, " "); b = f[1] + f[2]; print (a == "" || b < a) ? b : a }')
  done
  echo "${best}"
}

eigen_s=$(best_time eigen)
quantize_s=$(best_time quantize)
umbrella_s=$(best_time umbrella)
awk -v e="${eigen_s}" -v q="${quantize_s}" -v u="${umbrella_s}" -v cxx="$("${cxx}" --version | head -1)" \
    -v flags="${flags}" 'BEGIN {
  printf "compiler: %s, flags: %s\n", cxx, flags
  printf "%-32s %6.2f s\n", "<Eigen/Dense>", e
  printf "%-32s %6.2f s  %4.2fx  (target <= 1.5x: %s)\n", "<eigenq/quantize.hpp> + quantize", q, q / e, (q / e <= 1.5) ? "met" : "missed"
  printf "%-32s %6.2f s  %4.2fx  (target <= 2.5x: %s)\n", "<eigenq/eigenq.hpp> + quantize", u, u / e, (u / e <= 2.5) ? "met" : "missed"
}'
