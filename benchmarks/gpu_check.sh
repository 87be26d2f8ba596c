#!/usr/bin/env bash
# The GPU paths in one command, printed as one table; exit status 1 when any check fails.
#
#   benchmarks/gpu_check.sh                        # CUDA: ResNet50 224 bf16 + channels_last + compile
#                                                  # (real shards vs synthetic), 1-GPU torchrun/nccl,
#                                                  # evaluate, embed, one serve request (< 8 min, 16 cores)
#   benchmarks/gpu_check.sh --device cpu --tiny    # the same checks at tiny sizes on CPU, in seconds
#   benchmarks/gpu_check.sh --keep DIR             # keep the shards, the run and the logs in DIR
#
# PYTHON picks the interpreter (default: the project's .venv). The checks are in gpu_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" benchmarks/gpu_check.py "$@"
