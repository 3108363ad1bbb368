#!/usr/bin/env bash
# Builds gpt2-bench and runs every test the CI runs (README: "what runs where").
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
# Unit tests (tiny model) and the tests labelled "full" (the 124M default model).
ctest --test-dir build --output-on-failure -j"$jobs"
