#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang 14 under AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs each for a while: the tokenizer, the safetensors parser,
# the sweep-file loader, config.json, the task readers (GLUE TSV, SST-5, SQuAD JSON), and the
# coordinator's request handlers (a real server on loopback fed mutated serialized requests).
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET]      (default 60; builds into build-fuzz/)
#   bash fuzz/run.sh --smoke [OUT_DIR]         (CI: each target for 3 s, built into OUT_DIR;
#                                               exit 77 where clang or protoc is missing)
#
# The targets are compiled straight from the module sources (all LibTorch-free; for the
# coordinator's, protoc generates the .proto's C++ into the build folder), so this needs no CMake
# configure with clang. Each run prints libFuzzer's summary; a crash leaves its input as
# build-fuzz/crash-* and makes this script exit non-zero.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "--smoke" ]; then
  seconds=3
  out=${2:-$root/build-fuzz}
else
  seconds=${1:-60}
  out=$root/build-fuzz
fi
mkdir -p "$out"
cd "$root"
clang=$(command -v clang++-14 || command -v clang++) || {
  echo "fuzz/run.sh: clang++ is needed (apt-get install clang-14)" >&2; exit 77; }
grpc_plugin=$(command -v grpc_cpp_plugin) && command -v protoc >/dev/null || {
  echo "fuzz/run.sh: protoc and grpc_cpp_plugin are needed (apt-get install" \
    "protobuf-compiler protobuf-compiler-grpc)" >&2; exit 77; }
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

echo "building sweep_fuzzer"
"$clang" "${flags[@]}" fuzz/sweep_fuzzer.cc sweeps/*.cc sweeps/internal/*.cc catalog/*.cc \
  base/check.cc -lyaml-cpp -lcrypto $absl_libs -o "$out/sweep_fuzzer"
echo "building config_fuzzer"
"$clang" "${flags[@]}" fuzz/config_fuzzer.cc models/config.cc base/check.cc $absl_libs \
  -o "$out/config_fuzzer"
echo "building task_reader_fuzzer"
"$clang" "${flags[@]}" fuzz/task_reader_fuzzer.cc tasks/glue_readers.cc tasks/squad_reader.cc \
  tasks/task.cc catalog/*.cc tasks/internal/text_file.cc tokenizers/*.cc tokenizers/internal/*.cc \
  base/check.cc \
  $(pkg-config --libs libutf8proc sentencepiece) $absl_libs -o "$out/task_reader_fuzzer"
echo "building coordinator_fuzzer"
mkdir -p "$out/proto"
protoc -I proto --cpp_out="$out/proto" --grpc_out="$out/proto" \
  --plugin=protoc-gen-grpc="$grpc_plugin" proto/istar/v1/coordinator.proto
"$clang" "${flags[@]}" -I"$out/proto" -DISTAR_SOURCE_ROOT="\"$root/\"" fuzz/coordinator_fuzzer.cc \
  fuzz/coordinator_fuzzer_input.cc coordinator/*.cc coordinator/internal/*.cc db/*.cc \
  db/internal/*.cc sweeps/*.cc sweeps/internal/*.cc catalog/*.cc base/check.cc base/clock.cc base/listen_address.cc \
  "$out"/proto/istar/v1/*.cc $(pkg-config --libs grpc++ protobuf sqlite3 absl_synchronization \
  absl_time) -lyaml-cpp -lcrypto $absl_libs -o "$out/coordinator_fuzzer"

mkdir -p "$out/tokenizer_corpus" "$out/safetensors_corpus"
cd "$out"
ISTAR_VOCAB="$data/bert-base-uncased/vocab.txt" ./tokenizer_fuzzer \
  -max_total_time="$seconds" -print_final_stats=1 tokenizer_corpus
./safetensors_fuzzer -max_total_time="$seconds" -print_final_stats=1 safetensors_corpus \
  "$data/tiny-bert-jammi"
# Seeds: the example sweeps; the real config.json; the head of each real task file behind the
# byte that picks its reader (task_reader_fuzzer.cc).
mkdir -p sweep_corpus config_corpus task_corpus task_seeds
cp "$root"/examples/*.yaml sweep_corpus/
cp "$data/tiny-bert-jammi/config.json" config_corpus/
for pick in "0 sst2/dev.tsv" "1 qnli/dev.tsv" "2 sst5/ids-sst-dev.csv" "3 squad-v1.1/dev-v1.1.json"; do
  set -- $pick
  { printf "\\x0$1"; head -c 3000 "$data/$2"; } > "task_seeds/$1"
done
./sweep_fuzzer -max_total_time="$seconds" -print_final_stats=1 sweep_corpus
./config_fuzzer -max_total_time="$seconds" -print_final_stats=1 config_corpus
./task_reader_fuzzer -max_total_time="$seconds" -print_final_stats=1 task_corpus task_seeds
# Seeds: one input per path through the handlers, written by the target itself (its trial ids
# come from the database it seeds; see coordinator_fuzzer_input.h).
mkdir -p coordinator_corpus
ISTAR_FUZZ_WRITE_SEEDS=coordinator_seeds ./coordinator_fuzzer
./coordinator_fuzzer -max_total_time="$seconds" -print_final_stats=1 coordinator_corpus \
  coordinator_seeds
