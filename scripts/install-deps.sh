#!/usr/bin/env bash
# Installs the Debian packages dimgrad needs to build, test and train.
# Usage: scripts/install-deps.sh [--bench]   (--bench adds PyTorch/LibTorch for benchmarks and fixtures)
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev libopenblas-openmp-dev libomp-dev zlib1g-dev
  ocl-icd-opencl-dev   # oneDNN's CMake package (built with the OpenCL GPU runtime) requires OpenCL; only Recommended by libdnnl-dev
  libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  dataset-fashion-mnist python3-numpy
  clang libclang-rt-14-dev   # the libFuzzer targets (fuzz/), run by scripts/test.sh
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-torch libtorch-dev libblis-dev linux-perf libopenblas0-pthread)  # PyTorch/LibTorch measured with the default (pthread) OpenBLAS
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
