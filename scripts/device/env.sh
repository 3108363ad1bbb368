# Sourced on the device machine, in the repository root, after the bundle was
# carried there (scripts/device/bundle.sh): puts the tools on PATH and points
# them at this copy's datasets/.
export PATH="$PWD/.devcarry/bin:$PATH"
if [ ! -d /tmp/gpt2-devlib/lib ]; then
  mkdir -p /tmp/gpt2-devlib && tar -C /tmp/gpt2-devlib -xJf "$PWD/.devcarry/lib.tar.xz"
fi
export LD_LIBRARY_PATH="/tmp/gpt2-devlib/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The machine's own CUDA runtime and cuBLAS (bundle.sh leaves them out).
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
done
# The binaries name the source folder they were built in (datasets, the test
# binaries' folder, CTest's files): point it and its build/ here.
src="$(cat "$PWD/.devcarry/SOURCE_DIR" 2>/dev/null || true)"
if [ -n "$src" ] && [ "$src" != "$PWD" ] && [ ! -e "$src" ]; then
  mkdir -p "$(dirname "$src")" && ln -s "$PWD" "$src"
fi
[ -e "$PWD/build" ] || ln -s "$PWD/.devcarry/build" "$PWD/build"
export GPT2_DATASETS_DIR="$PWD/datasets"
export GPT2_GIT_COMMIT="$(cat "$PWD/.devcarry/COMMIT" 2>/dev/null || echo unknown)"
