#!/usr/bin/env bash
# Installs what the build needs, builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd "${DG_BUILD_DIR:-build}"
ctest --output-on-failure --parallel "$(nproc)" --timeout 600
