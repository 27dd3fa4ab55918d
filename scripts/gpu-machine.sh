#!/usr/bin/env bash
# The GPU node a result came from, for the machine.txt next to it: date, host, GPUs (index, name, driver,
# PCI bus id, power limit and draw, temperature), PyTorch and CUDA versions, CPU. Usage: scripts/gpu-machine.sh [label]
echo "== $(date -u +%FT%TZ) $(hostname) ${1:-}"
nvidia-smi --query-gpu=index,name,driver_version,pci.bus_id,power.limit,power.draw,temperature.gpu --format=csv
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
lscpu | grep -E '^(Model name|CPU\(s\)|Thread)'
