#!/usr/bin/env bash
# Installs what is needed, builds, and trains the default model on Fashion-MNIST.
# Extra arguments go to the training program.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh >/dev/null
exec "${DG_BUILD_DIR:-build}"/examples/two_layer_net "$@"
