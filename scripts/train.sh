#!/usr/bin/env bash
# Installs what is needed, builds, and trains the default model on Fashion-MNIST
# (`dimgrad train`: prints the test accuracy and writes a run folder with report.html).
# Extra arguments go to `dimgrad train` (see `build/tools/dimgrad train --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh >/dev/null
exec "${DG_BUILD_DIR:-build}"/tools/dimgrad train "$@"
