#!/usr/bin/env bash
# Installs what gpt2-bench builds with, from Debian 12's packages (nothing is
# downloaded at build time, nothing is vendored). Uses sudo when not root.
set -euo pipefail
packages=(
  build-essential cmake pkg-config git
  clang-14 libomp-14-dev
  # clang's sanitizer and libFuzzer runtimes (scripts/run-sanitizers.sh, scripts/fuzz.sh).
  libclang-rt-14-dev
  libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev libxxhash-dev
  libutf8proc-dev nlohmann-json3-dev
  # gpt2-serve (HTTP server) and gpt2-bench serve (its client).
  libcpp-httplib-dev
  # cuda-tp across processes: mpirun -n N, one process per GPU (Open MPI).
  libopenmpi-dev openmpi-bin
  # scripts/reports.py (the reports check in ctest) and the other scripts/*.py.
  python3
  # The library backends: BLIS in its OpenMP flavour, and oneDNN (whose CMake
  # package asks for OpenCL, a recommendation the line below does not install).
  libblis-openmp-dev libblis-dev libdnnl-dev ocl-icd-opencl-dev
)
# The official OpenAI client's runtime (ctest server.openai-client): Debian's
# nodejs and npm, unless a node with its own npm is already installed (as
# nodesource's nodejs package, which conflicts with Debian's npm).
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"
# The tests' official OpenAI client (tests/server/openai/, ctest
# server.openai-client), pinned by its package-lock.json, from the npm registry.
client="$(dirname "$0")/../tests/server/openai"
if command -v npm >/dev/null 2>&1; then
  (cd "$client" && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "setup-debian.sh: npm did not install: the openai client test will be skipped." >&2
fi
