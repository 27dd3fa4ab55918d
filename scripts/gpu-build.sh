#!/usr/bin/env bash
# Builds sedenergy on a GPU node against PyTorch's LibTorch (CUDA), with the packages unpacked by
# scripts/gpu-node-deps.sh. Usage: scripts/gpu-build.sh [extra cmake args]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .deps/debs ] && [ ! -d .deps/prefix ]; then scripts/gpu-node-deps.sh unpack; fi
TORCH_CMAKE_PREFIX="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
export TORCH_CMAKE_PREFIX
cmake --preset cuda "$@"
cmake --build --preset cuda -j "$(nproc)"
echo "built: build-cuda/sedenergy"
