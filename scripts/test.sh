#!/usr/bin/env bash
# Installs what the build needs, builds, and runs every check CI runs:
#   1. the whole test suite on the release build;
#   2. the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer,
#      leak detection on (scripts/sanitize.sh);
#   3. every libFuzzer target for 30 s on its committed corpus, after replaying
#      the regression inputs of past findings (fuzz/run_fuzz.sh).
# DG_TEST_QUICK=1 runs step 1 only (the quick loop while developing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
(cd "${DG_BUILD_DIR:-build}" && ctest --output-on-failure --parallel "$(nproc)" --timeout 600)
if [[ "${DG_TEST_QUICK:-0}" != 1 ]]; then
  scripts/sanitize.sh
  fuzz/run_fuzz.sh "${DG_FUZZ_SECONDS:-30}"
fi
