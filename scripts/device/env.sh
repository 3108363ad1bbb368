# Sourced on the device machine, in the repository root, after the bundle was
# carried there (scripts/device/bundle.sh): puts the tools on PATH and points
# them at this copy's datasets/.
export PATH="$PWD/.devcarry/bin:$PATH"
export LD_LIBRARY_PATH="$PWD/.devcarry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export GPT2_DATASETS_DIR="$PWD/datasets"
export GPT2_GIT_COMMIT="$(cat "$PWD/.devcarry/COMMIT" 2>/dev/null || echo unknown)"
