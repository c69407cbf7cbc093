// libFuzzer target: any bytes, tokenised as one text and as a pair with BERT-base uncased.
//
// Checks that no input crashes, trips a sanitizer, or breaks an Encoding's invariants (equal
// lengths, ids in the vocabulary, offsets inside the text and non-decreasing). The vocabulary is
// $ISTAR_VOCAB, or ../shared/data/bert-base-uncased/vocab.txt from the repository root.
//
// Built and run by hand from the repository root (not wired into CMake yet):
//
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     fuzz/tokenizer_fuzzer.cc tokenizers/*.cc tokenizers/internal/*.cc -o /tmp/tokenizer_fuzzer \
//     $(pkg-config --libs libutf8proc sentencepiece) -labsl_statusor -labsl_status \
//     -labsl_strings -labsl_strings_internal -labsl_str_format_internal -labsl_cord \
//     -labsl_cordz_info -labsl_cord_internal -labsl_cordz_functions -labsl_cordz_handle \
//     -labsl_synchronization -labsl_time -labsl_int128 -labsl_raw_logging_internal \
//     -labsl_throw_delegate -labsl_base -labsl_spinlock_wait
//   ISTAR_VOCAB=../shared/data/bert-base-uncased/vocab.txt /tmp/tokenizer_fuzzer -max_total_time=60
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "tokenizers/tokenizer.h"

namespace {

using istar::tokenizers::Encoding;
using istar::tokenizers::Tokenizer;

const Tokenizer& Bert() {
  static const Tokenizer* const tokenizer = [] {
    const char* env = std::getenv("ISTAR_VOCAB");
    const std::string path = env != nullptr ? env : "../shared/data/bert-base-uncased/vocab.txt";
    absl::StatusOr<std::unique_ptr<Tokenizer>> loaded = istar::tokenizers::LoadWordPieceVocab(path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "tokenizer_fuzzer: %s (set ISTAR_VOCAB)\n",
                   std::string(loaded.status().message()).c_str());
      std::abort();
    }
    return loaded->release();
  }();
  return *tokenizer;
}

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "tokenizer_fuzzer: broken invariant: %s\n", what);
    std::abort();
  }
}

void CheckEncoding(const Encoding& encoding, std::string_view first, std::string_view second) {
  const size_t n = encoding.ids.size();
  Check(encoding.offsets.size() == n && encoding.sequence_ids.size() == n &&
            encoding.token_type_ids.size() == n && encoding.attention_mask.size() == n,
        "equal lengths");
  int64_t last_begin[2] = {0, 0}, last_end[2] = {0, 0};
  for (size_t i = 0; i < n; ++i) {
    Check(encoding.ids[i] >= 0 && encoding.ids[i] < Bert().vocab_size(), "id in range");
    const int sequence = encoding.sequence_ids[i];
    if (sequence < 0) continue;
    const auto [begin, end] = encoding.offsets[i];
    const int64_t size = static_cast<int64_t>(sequence == 0 ? first.size() : second.size());
    Check(0 <= begin && begin <= end && end <= size, "offsets inside the text");
    Check(last_begin[sequence] <= begin && last_end[sequence] <= end, "offsets non-decreasing");
    last_begin[sequence] = begin;
    last_end[sequence] = end;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Encoding> single = Bert().Encode(input, {.max_length = 1 << 20});
  Check(single.ok(), "a single text always encodes");
  CheckEncoding(*single, input, {});
  // The first byte picks max_length and the strategy; the rest splits at its middle.
  if (size < 1) return 0;
  const istar::tokenizers::EncodeOptions options{
      .max_length = data[0] & 0x3F,
      .truncation = static_cast<istar::tokenizers::Truncation>((data[0] >> 6) & 3)};
  const std::string_view rest = input.substr(1);
  const std::string_view first = rest.substr(0, rest.size() / 2);
  const std::string_view second = rest.substr(rest.size() / 2);
  absl::StatusOr<Encoding> pair = Bert().EncodePair(first, second, options);
  if (pair.ok()) CheckEncoding(*pair, first, second);
  const int64_t index = istar::tokenizers::ByteOffsetToCodePointIndex(input, size / 2);
  Check(istar::tokenizers::CodePointIndexToByteOffset(input, index) <= static_cast<int64_t>(size),
        "code point round trip");
  return 0;
}
