#!/usr/bin/env bash
# Runs every benchmark script; each prints its figures and ratios against a baseline of the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
for script in benchmarks/bench_*.py; do
  echo "== $script"
  .venv/bin/python "$script"
done
