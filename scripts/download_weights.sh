#!/usr/bin/env bash
# Downloads real GPT-2 weights into datasets/models/ (for machines with internet access; the
# project's own build and CI machines have none, and this script has not been run there).
#
#   scripts/download_weights.sh                 llm.c's gpt2_124M.bin (the lab's model), which
#                                               then becomes the commands' default model
#   scripts/download_weights.sh --hf 355M       Hugging Face openai-community/gpt2-medium:
#                                               model.safetensors, config.json and the tokenizer
#                                               files, into datasets/models/gpt2-medium/
#   scripts/download_weights.sh --hf all --convert
#                                               all four sizes, each also converted to llm.c's
#                                               format (datasets/models/gpt2_<size>.bin) with
#                                               build/bin/gpt2-convert
#
# Options (any order, repeatable): --llmc, --hf 124M|355M|774M|1558M|all, --convert,
# --dest DIR (default: datasets/models). Files are downloaded to a temporary name and renamed
# only when complete, so an interrupted run leaves nothing half-written; files already present
# are kept (delete them to download again). Sizes: 124M 0.5 GB, 355M 1.4 GB, 774M 3.1 GB,
# 1558M 6.2 GB (float32), plus the same again for each --convert.
set -euo pipefail
cd "$(dirname "$0")/.."

LLMC_URL="https://huggingface.co/datasets/karpathy/llmc-starter-pack/resolve/main/gpt2_124M.bin"
HF_BASE="https://huggingface.co/openai-community"
HF_FILES=(config.json model.safetensors)              # required
HF_TOKENIZER_FILES=(vocab.json merges.txt tokenizer.json)  # fetched when available

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() { echo "download_weights.sh: $*" >&2; exit 1; }

dest="datasets/models"
want_llmc=0
hf_sizes=()
convert=0
while [ $# -gt 0 ]; do
  case "$1" in
    --llmc) want_llmc=1 ;;
    --hf)
      [ $# -ge 2 ] || die "--hf needs a size: 124M, 355M, 774M, 1558M or all"
      case "$2" in
        124M|355M|774M|1558M) hf_sizes+=("$2") ;;
        all) hf_sizes+=(124M 355M 774M 1558M) ;;
        *) die "unknown size '$2' (known: 124M, 355M, 774M, 1558M, all)" ;;
      esac
      shift ;;
    --convert) convert=1 ;;
    --dest)
      [ $# -ge 2 ] || die "--dest needs a folder"
      dest="$2"
      shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
if [ "$want_llmc" -eq 0 ] && [ ${#hf_sizes[@]} -eq 0 ]; then want_llmc=1; fi

if command -v curl >/dev/null 2>&1; then
  fetch() { curl --fail --location --retry 3 --retry-delay 5 --show-error --progress-bar -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget --tries=3 --progress=bar:force -O "$2" "$1"; }
else
  die "neither curl nor wget is installed (apt-get install curl)"
fi

# download URL FILE [optional]: fetches into FILE.part-<pid>, checks it is not empty, renames it
# to FILE. A failure ends the script, or only warns when "optional" is given.
download() {
  local url="$1" file="$2" optional="${3:-}"
  if [ -s "$file" ]; then
    echo "have $file"
    return 0
  fi
  mkdir -p "$(dirname "$file")"
  local part="$file.part-$$"
  trap 'rm -f "$part"' EXIT
  echo "fetching $url"
  if ! fetch "$url" "$part"; then
    rm -f "$part"
    trap - EXIT
    if [ "$optional" = optional ]; then
      echo "skipped $file: could not download $url" >&2
      return 0
    fi
    die "could not download $url (no internet access here, or the file moved)"
  fi
  [ -s "$part" ] || { rm -f "$part"; die "$url: the download is empty"; }
  mv -f "$part" "$file"
  trap - EXIT
  echo "wrote $file ($(wc -c <"$file") bytes)"
}

hf_repo() {
  case "$1" in
    124M) echo gpt2 ;;
    355M) echo gpt2-medium ;;
    774M) echo gpt2-large ;;
    1558M) echo gpt2-xl ;;
  esac
}

if [ "$want_llmc" -eq 1 ]; then
  download "$LLMC_URL" "$dest/gpt2_124M.bin"
fi

for size in "${hf_sizes[@]}"; do
  repo="$(hf_repo "$size")"
  for f in "${HF_FILES[@]}"; do
    download "$HF_BASE/$repo/resolve/main/$f" "$dest/$repo/$f"
  done
  for f in "${HF_TOKENIZER_FILES[@]}"; do
    download "$HF_BASE/$repo/resolve/main/$f" "$dest/$repo/$f" optional
  done
  if [ "$convert" -eq 1 ]; then
    converter="build/bin/gpt2-convert"
    [ -x "$converter" ] || die "$converter is not built (cmake -S . -B build && cmake --build build)"
    out="$dest/gpt2_$size.bin"
    if [ -s "$out" ]; then
      echo "have $out"
    else
      "$converter" "$dest/$repo" "$out"
    fi
  fi
done

echo "done. Run a model with: build/bin/gpt2 --model $dest/<file or folder> 31373 612 338 635 281"
