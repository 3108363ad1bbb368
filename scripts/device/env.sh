# Sourced on the device machine, in the repository root, after the bundle was
# carried there (scripts/device/bundle.sh): puts the tools on PATH and points
# them at this copy's datasets/.
export PATH="$PWD/.devcarry/bin:$PATH"
if [ ! -d /tmp/gpt2-devlib/lib ]; then
  mkdir -p /tmp/gpt2-devlib && tar -C /tmp/gpt2-devlib -xJf "$PWD/.devcarry/lib.tar.xz"
fi
export LD_LIBRARY_PATH="/tmp/gpt2-devlib/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export GPT2_DATASETS_DIR="$PWD/datasets"
export GPT2_GIT_COMMIT="$(cat "$PWD/.devcarry/COMMIT" 2>/dev/null || echo unknown)"
