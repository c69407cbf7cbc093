// Paths of the shared data the tokenizer tests read, and a skip when it is absent.
#ifndef ISTAR_TESTS_TOKENIZERS_TEST_DATA_H_
#define ISTAR_TESTS_TOKENIZERS_TEST_DATA_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "tokenizers/tokenizer.h"

namespace istar::tokenizers::testing {

inline std::string SharedData(const std::string& relative) {
  return std::string(ISTAR_SHARED_DATA_DIR) + "/" + relative;
}

inline const char kBertVocab[] = "bert-base-uncased/vocab.txt";
inline const char kLlamaCppCases[] = "bert-base-uncased/wordpiece_cases_llamacpp.json";
inline const char kTinyBertJson[] = "tiny-bert-jammi/tokenizer.json";

// BERT-base uncased, loaded once for all tests; nullptr when the shared data is absent.
inline const Tokenizer* BertUncased() {
  static const Tokenizer* const tokenizer = [] {
    absl::StatusOr<std::unique_ptr<Tokenizer>> loaded = LoadWordPieceVocab(SharedData(kBertVocab));
    return loaded.ok() ? loaded->release() : nullptr;
  }();
  return tokenizer;
}

#define ISTAR_SKIP_WITHOUT_SHARED_DATA(relative)                                         \
  if (!std::filesystem::exists(::istar::tokenizers::testing::SharedData(relative))) {    \
    GTEST_SKIP() << "shared data " << ::istar::tokenizers::testing::SharedData(relative) \
                 << " is absent (see shared/data/SOURCES.md)";                           \
  }

// Ids of `text` without [CLS]/[SEP] and without truncation.
inline std::vector<int32_t> PlainIds(const Tokenizer& tokenizer, std::string_view text) {
  absl::StatusOr<Encoding> encoding = tokenizer.Encode(
      text, {.truncation = Truncation::kDoNotTruncate, .add_special_tokens = false});
  EXPECT_TRUE(encoding.ok()) << encoding.status();
  return encoding.ok() ? encoding->ids : std::vector<int32_t>{};
}

}  // namespace istar::tokenizers::testing

#endif  // ISTAR_TESTS_TOKENIZERS_TEST_DATA_H_
