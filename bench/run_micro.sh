#!/usr/bin/env bash
# dg_micro and libtorch_micro in alternating rounds (A B A B ...), each run with
# real-time priority where allowed (quiet.sh), then one Markdown table of medians and ratios.
#   bench/run_micro.sh [build-dir] [rounds] [repetitions] [benchmark filter]
# JSON results are kept in $OUT (default /tmp/dg-micro).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
rounds=${2:-2}
reps=${3:-5}
filter=${4:-.}
out=${OUT:-/tmp/dg-micro}
mkdir -p "$out"
rm -f "$out"/dg_*.json "$out"/torch_*.json
source "$here/quiet.sh"
args=(--benchmark_filter="$filter" --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true
      --benchmark_out_format=json)
for r in $(seq "$rounds"); do
  quiet "$build/bench/dg_micro" "${args[@]}" --benchmark_out="$out/dg_$r.json" > /dev/null
  if [[ -x "$build/bench/libtorch_micro" ]]; then
    # LibTorch's GEMM is OpenBLAS: its AVX-512 kernels need OPENBLAS_CORETYPE unset.
    quiet env -u OPENBLAS_CORETYPE "$build/bench/libtorch_micro" "${args[@]}" --benchmark_out="$out/torch_$r.json" > /dev/null
  fi
done
/usr/bin/python3 "$here/compare_micro.py" "$out"/dg_*.json -- "$out"/torch_*.json
