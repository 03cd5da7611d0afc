#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS on its corpus (ASan + UBSan builds).
#
#   fuzz/run_fuzz.sh 30                    # every target, 30 s each (what CI runs)
#   fuzz/run_fuzz.sh 600 safetensors npy   # chosen targets, 10 minutes each
#
# Builds build-fuzz/ with clang if needed. New corpus entries go to
# build-fuzz/corpus/<target>/ (the committed seeds in fuzz/corpus/<target>/ are
# only read); crash inputs go to fuzz/artifacts/<target>/. Before fuzzing, the
# inputs of past findings in fuzz/regressions/<target>/ are run once each (libFuzzer
# runs files given as arguments), so a fix that regresses fails here even when the
# fuzzer would not find the input again in SECONDS. Exits non-zero when any target
# found something. Prints executions per target.
set -euo pipefail
secs=${1:-30}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
build=${DG_FUZZ_BUILD:-$root/build-fuzz}
all=(safetensors npy idx cifar10 csv model_file checkpoint)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

cmake -S "$root/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
printf '%-12s %12s %10s %s\n' target executions exec/s result
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  artifacts="$root/fuzz/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  dict=()
  [ -f "$root/fuzz/$t.dict" ] && dict=("-dict=$root/fuzz/$t.dict")
  log="$build/fuzz_$t.log"
  set +e
  regressions=()
  [ -d "$root/fuzz/regressions/$t" ] && mapfile -t regressions < <(find "$root/fuzz/regressions/$t" -type f | sort)
  if [ ${#regressions[@]} -gt 0 ]; then
    if ! "$build/fuzz_$t" -timeout=10 -rss_limit_mb=2048 "${regressions[@]}" >"$build/fuzz_$t.regressions.log" 2>&1; then
      printf '%-12s %12s %10s %s\n' "$t" - - "REGRESSION FAILED: see $build/fuzz_$t.regressions.log"
      status=1
      set -e
      continue
    fi
  fi
  "$build/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dict[@]}" "$work" "$root/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  if [ $rc -eq 0 ]; then
    result="ok ($(ls "$work" | wc -l) corpus files)"
  else
    result="FAILED (rc $rc): see $log and $artifacts"
    status=1
  fi
  printf '%-12s %12s %10s %s\n' "$t" "$execs" "$rate" "$result"
done
exit $status
