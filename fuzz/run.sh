#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang 14 under AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs each for a while. Not part of the tests (it needs minutes).
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET]      (default 60; builds into build-fuzz/)
#
# The targets are compiled straight from the module sources (both modules are LibTorch-free), so
# this needs no CMake configure with clang. Each run prints libFuzzer's summary; a crash leaves
# its input as build-fuzz/crash-* and makes this script exit non-zero.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
out=$root/build-fuzz
mkdir -p "$out"
cd "$root"
clang=$(command -v clang++-14 || command -v clang++) || {
  echo "fuzz/run.sh: clang++ is needed (apt-get install clang-14)" >&2; exit 1; }
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I"$root")
absl_libs=$(pkg-config --libs absl_statusor absl_strings absl_str_format)
data=$(cd "$root/.." && pwd)/shared/data

echo "building tokenizer_fuzzer"
"$clang" "${flags[@]}" fuzz/tokenizer_fuzzer.cc tokenizers/*.cc tokenizers/internal/*.cc \
  base/check.cc $(pkg-config --libs libutf8proc sentencepiece) $absl_libs \
  -o "$out/tokenizer_fuzzer"
echo "building safetensors_fuzzer"
"$clang" "${flags[@]}" fuzz/safetensors_fuzzer.cc arrays/safetensors.cc arrays/array_file.cc \
  arrays/internal/*.cc base/check.cc $absl_libs -o "$out/safetensors_fuzzer"

mkdir -p "$out/tokenizer_corpus" "$out/safetensors_corpus"
cd "$out"
ISTAR_VOCAB="$data/bert-base-uncased/vocab.txt" ./tokenizer_fuzzer \
  -max_total_time="$seconds" -print_final_stats=1 tokenizer_corpus
./safetensors_fuzzer -max_total_time="$seconds" -print_final_stats=1 safetensors_corpus \
  "$data/tiny-bert-jammi"
