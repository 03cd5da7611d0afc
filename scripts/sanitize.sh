#!/usr/bin/env bash
# The sanitizer suite: builds dimgrad, its tools and all tests with
# AddressSanitizer + UndefinedBehaviorSanitizer (the `asan` CMake preset: the
# system allocator instead of the caching one, so every buffer is checked) and
# runs the whole test suite with leak detection on; UBSan stops at the first
# error. Any report fails the run. Called by scripts/test.sh (CI).
#
# Usage: scripts/sanitize.sh [extra ctest args]   build folder: $DG_ASAN_BUILD_DIR (default build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
build_dir="${DG_ASAN_BUILD_DIR:-build-asan}"

# The same options at build time: gtest_discover_tests runs each test binary
# while building, and that run must be as strict as the tests.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# The crash-safety test spawns the sanitized CLI for every kill: fewer kills
# here, the full count runs in the release build (DG_KILL_COUNT overrides).
export DG_KILL_COUNT="${DG_KILL_COUNT:-10}"

cmake --preset asan -B "$build_dir" -DDG_BUILD_BENCH=OFF
cmake --build "$build_dir" --parallel "$(nproc)"
cd "$build_dir"
ctest --output-on-failure --parallel "$(nproc)" --timeout 1800 "$@"
