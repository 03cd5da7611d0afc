#!/usr/bin/env bash
# Flat memory: trains the MLP preset (784-512-512-10, batch 128, SGD momentum)
# for STEPS steps (default 10,000) and checks that peak RSS after step 100 stays
# within a few MiB of the RSS at step 100 (tests/reliability/memory_test.cpp;
# CI runs 1,500 steps). Prints VmRSS every 500 steps.
#
# Usage: scripts/memory_soak.sh [STEPS]      build folder: $DG_BUILD_DIR (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${DG_BUILD_DIR:-build}"
[[ -f "$build_dir/CMakeCache.txt" ]] || cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" --parallel "$(nproc)" --target test_reliability
DG_SOAK_STEPS="${1:-10000}" "$build_dir/tests/test_reliability" --gtest_filter='FlatMemory.*' --gtest_color=no
