#!/usr/bin/env bash
# Packs what the device machine needs to run the built tools: build/bin's
# binaries and the shared libraries they use that are not part of glibc or
# libstdc++ (the device runs a newer Linux, whose glibc and libstdc++ run
# binaries built here), the libraries xz-compressed (oneDNN alone is 40 MB;
# the device tool carries at most 64 MiB). Writes .devcarry/ (git-ignored),
# for the device tool's `carry`. On the device: source scripts/device/env.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.devcarry
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
# BUNDLE_BINS="gpt2 gpt2-bench" packs only those (a call carries 64 MiB in all).
bins=(gpt2 gpt2-bench gpt2-goldens gpt2-convert gpt2-microbench gpt2-tokenizer-bench gpt2-serve
      gpt2_tests gpt2_full_tests gpt2_cuda_tests gpt2_server_tests)
if [ -n "${BUNDLE_BINS:-}" ]; then read -r -a bins <<<"$BUNDLE_BINS"; fi
for b in "${bins[@]}"; do
  if [ -x "build/bin/$b" ]; then cp "build/bin/$b" "$out/bin/" && strip "$out/bin/$b"; fi
done
# CUDA's runtime, cuBLAS and NCCL come from the device machine's own toolkit
# (far larger than a call carries): env.sh puts them on the library path.
for b in "$out"/bin/*; do
  ldd "$b" | awk '/=> \//{print $3}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*|libstdc++.so.*|libgcc_s.so.*) ;;
    libcudart.so.*|libcublas.so.*|libcublasLt.so.*|libnccl.so.*|libcuda.so.*) ;;
    *) cp -L "$lib" "$out/lib/" ;;
  esac
done
# CTest's files, so that `ctest --test-dir build` runs there (env.sh links the
# build folder and this checkout's path).
(cd build && find . -name CTestTestfile.cmake -o -name '*_tests[_[]*.cmake' -o -name '*_include.cmake') |
  while read -r f; do mkdir -p "$out/build/$(dirname "$f")" && cp "build/$f" "$out/build/$f"; done
mv "$out/bin" "$out/build/bin"
ln -s build/bin "$out/bin"
pwd > "$out/SOURCE_DIR"
tar -C "$out" -cJf "$out/lib.tar.xz" lib && rm -rf "$out/lib"
git rev-parse --short=12 HEAD > "$out/COMMIT"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then sed -i 's/$/-dirty/' "$out/COMMIT"; fi
du -sh "$out" "$out"/* | sed 's/^/  /'
