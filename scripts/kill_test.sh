#!/usr/bin/env bash
# Crash-safe saving: runs `dimgrad train` in a child process and kills it with
# SIGKILL at random moments during its checkpoint writes, KILLS times (default
# 200), resuming with --resume after each kill; every checkpoint left behind
# must load with its checksum verified, no half-written file may read as valid,
# and the resumed run must end with the weights of an uninterrupted one.
# (tests/reliability/kill_test.cpp; CI runs it with 50 kills.)
#
# Usage: scripts/kill_test.sh [KILLS] [SEED]      build folder: $DG_BUILD_DIR (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${DG_BUILD_DIR:-build}"
kills="${1:-200}"
seed="${2:-$(( (RANDOM << 15) | RANDOM ))}"
[[ -f "$build_dir/CMakeCache.txt" ]] || cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" --parallel "$(nproc)" --target test_reliability dimgrad_cli
echo "kill test: $kills kills, seed $seed (rerun the same kill moments with: $0 $kills $seed)"
DG_KILL_COUNT="$kills" DG_KILL_SEED="$seed" \
  "$build_dir/tests/test_reliability" --gtest_filter='CrashSafeSaving.*' --gtest_color=no
