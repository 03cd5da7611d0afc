#!/usr/bin/env bash
# Runs bench/gemm_backends once per (backend, environment, threads), each in its
# own process (OpenBLAS and BLIS read their environment at load time), then
# bench/peak_flops for the FMA peak of this CPU.
#   bench/run_gemm_backends.sh [build-dir] [repeats]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
bin=$build/bench/gemm_backends
reps=${2:-7}
source "$here/quiet.sh"
run() {  # run <label> <env...>: the rest of the arguments go to env
  echo "## $1"; shift
  quiet env "$@"
}
quiet "$build/bench/peak_flops"
for t in 1 2; do
  run "oneDNN sgemm (OpenMP), $t thread(s)" OMP_NUM_THREADS=$t "$bin" onednn $t "$reps"
  run "OpenBLAS, OPENBLAS_CORETYPE=Haswell, $t thread(s)" OPENBLAS_CORETYPE=Haswell "$bin" openblas $t "$reps"
  run "OpenBLAS, OPENBLAS_CORETYPE unset, $t thread(s)" -u OPENBLAS_CORETYPE "$bin" openblas $t "$reps"
  run "BLIS (openmp), BLIS_ARCH_TYPE unset, $t thread(s)" -u BLIS_ARCH_TYPE OMP_NUM_THREADS=$t "$bin" blis $t "$reps"
done
