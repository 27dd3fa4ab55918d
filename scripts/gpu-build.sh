#!/usr/bin/env bash
# Builds sedenergy on a GPU node against PyTorch's LibTorch (CUDA), with the packages unpacked by
# scripts/gpu-node-deps.sh. BUILD_TARGETS (e.g. "bench_train_step"): only those targets, where a check needs no
# more (a fresh node's whole build, tests included, took about 200 s of a 600 s call).
# Usage: [BUILD_TARGETS="..."] scripts/gpu-build.sh [extra cmake args]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .deps/debs ] && [ ! -d .deps/prefix ]; then scripts/gpu-node-deps.sh unpack; fi
TORCH_CMAKE_PREFIX="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
export TORCH_CMAKE_PREFIX
cmake --preset cuda "$@"
# shellcheck disable=SC2086  # BUILD_TARGETS is a list of target names
cmake --build --preset cuda -j "$(nproc)" ${BUILD_TARGETS:+--target $BUILD_TARGETS}
echo "built: build-cuda/${BUILD_TARGETS:-sedenergy}"
