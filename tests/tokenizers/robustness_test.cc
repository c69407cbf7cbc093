#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/tokenizers/test_data.h"
#include "tokenizers/tokenizer.h"

namespace istar::tokenizers {
namespace {

using ::testing::ElementsAre;

// The invariants every encoding keeps, whatever the text.
void ExpectWellFormed(const Tokenizer& tokenizer, const Encoding& encoding, std::string_view first,
                      std::string_view second = {}) {
  const size_t n = encoding.ids.size();
  ASSERT_EQ(encoding.token_type_ids.size(), n);
  ASSERT_EQ(encoding.attention_mask.size(), n);
  ASSERT_EQ(encoding.offsets.size(), n);
  ASSERT_EQ(encoding.sequence_ids.size(), n);
  std::pair<int64_t, int64_t> last[2] = {{0, 0}, {0, 0}};
  for (size_t i = 0; i < n; ++i) {
    ASSERT_GE(encoding.ids[i], 0);
    ASSERT_LT(encoding.ids[i], tokenizer.vocab_size());
    ASSERT_EQ(encoding.attention_mask[i], 1);
    const int sequence = encoding.sequence_ids[i];
    const auto [begin, end] = encoding.offsets[i];
    if (sequence < 0) {
      ASSERT_EQ(begin, 0);
      ASSERT_EQ(end, 0);
      continue;
    }
    ASSERT_LE(sequence, 1);
    const std::string_view text = sequence == 0 ? first : second;
    ASSERT_LE(0, begin);
    ASSERT_LE(begin, end);
    ASSERT_LE(end, static_cast<int64_t>(text.size()));
    ASSERT_LE(last[sequence].first, begin) << "token " << i;
    ASSERT_LE(last[sequence].second, end) << "token " << i;
    last[sequence] = {begin, end};
  }
}

class RobustnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ISTAR_SKIP_WITHOUT_SHARED_DATA(testing::kBertVocab);
    bert_ = testing::BertUncased();
    ASSERT_NE(bert_, nullptr);
  }
  const Tokenizer* bert_ = nullptr;
};

TEST_F(RobustnessTest, BlankAndControlTextGivesOnlySpecialTokens) {
  for (const std::string& text : {std::string(), std::string(" "), std::string("\t\n\r \v\f"),
                                  std::string("\x01\x02\x7F\x1B", 4), std::string("\0\0", 2),
                                  std::string("\u200B\u200D\uFEFF\u00AD"), std::string("\uFFFD")}) {
    absl::StatusOr<Encoding> encoding = bert_->Encode(text);
    ASSERT_TRUE(encoding.ok()) << encoding.status();
    EXPECT_THAT(encoding->ids, ElementsAre(101, 102));
  }
}

TEST_F(RobustnessTest, InvalidUtf8BytesAreDropped) {
  const std::vector<std::string> bad = {"\x80",
                                        "\xBF\xBF",
                                        "\xC3",
                                        "\xE2\x82",
                                        "\xF0\x9F\x98",
                                        "\xC0\xAF",
                                        "\xE0\x80\xAF",
                                        "\xED\xA0\x80",
                                        "\xF4\x90\x80\x80",
                                        "\xFF\xFE",
                                        "\xF8\x88\x80\x80\x80"};
  for (const std::string& bytes : bad) {
    absl::StatusOr<Encoding> encoding = bert_->Encode("ab" + bytes + "cd");
    ASSERT_TRUE(encoding.ok()) << encoding.status();
    // The bad bytes vanish, so "ab" and "cd" join into the word "abcd" that spans all of it.
    EXPECT_EQ(encoding->ids, bert_->Encode("abcd")->ids);
    EXPECT_EQ(encoding->offsets[1].first, 0);
    EXPECT_EQ(encoding->offsets.end()[-2].second, static_cast<int64_t>(bytes.size() + 4));
  }
}

TEST_F(RobustnessTest, TenThousandCharacterWordIsOneUnknownToken) {
  const std::string word(10'000, 'x');
  absl::StatusOr<Encoding> encoding = bert_->Encode(word);
  ASSERT_TRUE(encoding.ok()) << encoding.status();
  EXPECT_THAT(encoding->ids, ElementsAre(101, 100, 102));
  EXPECT_EQ(encoding->offsets[1], std::make_pair(int64_t{0}, int64_t{10'000}));
}

TEST_F(RobustnessTest, RandomBytesKeepTheInvariants) {
  std::mt19937 random(20240601);
  std::uniform_int_distribution<int> byte(0, 255), length(0, 48);
  for (int trial = 0; trial < 20'000; ++trial) {
    std::string text(length(random), '\0');
    for (char& c : text) c = static_cast<char>(byte(random));
    absl::StatusOr<Encoding> encoding = bert_->Encode(text, {.max_length = 40});
    ASSERT_TRUE(encoding.ok()) << encoding.status();
    ASSERT_LE(encoding->ids.size(), 40u);
    ASSERT_NO_FATAL_FAILURE(ExpectWellFormed(*bert_, *encoding, text));
  }
}

// Code points from the scripts and categories that exercise normalisation: ASCII, Latin with
// accents, combining marks, Cyrillic, Hangul (NFD splits syllables), CJK, emoji, joiners,
// controls, private use, unassigned.
std::string RandomUnicode(std::mt19937& random, int length) {
  static const std::pair<char32_t, char32_t> kRanges[] = {
      {0x20, 0x7E},     {0x00, 0x1F},     {0xC0, 0x17F},        {0x300, 0x36F},   {0x400, 0x4FF},
      {0xAC00, 0xD7A3}, {0x4E00, 0x9FFF}, {0x1F300, 0x1F6FF},   {0x2000, 0x206F}, {0xE000, 0xE0FF},
      {0x0E00, 0x0E7F}, {0x1780, 0x17FF}, {0x10FFF0, 0x10FFFF}, {0xFF00, 0xFFEF}, {0x3000, 0x303F}};
  std::uniform_int_distribution<size_t> pick(0, std::size(kRanges) - 1);
  std::string text;
  for (int i = 0; i < length; ++i) {
    const auto [lo, hi] = kRanges[pick(random)];
    const char32_t cp = std::uniform_int_distribution<char32_t>(lo, hi)(random);
    if (cp < 0x80) {
      text += static_cast<char>(cp);
    } else if (cp < 0x800) {
      text += {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
    } else if (cp < 0x10000) {
      text += {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
               static_cast<char>(0x80 | (cp & 0x3F))};
    } else {
      text += {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
               static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
    }
  }
  return text;
}

TEST_F(RobustnessTest, RandomUnicodePairsKeepTheInvariants) {
  std::mt19937 random(7);
  std::uniform_int_distribution<int> length(0, 40), max_length(3, 60), strategy(0, 3);
  for (int trial = 0; trial < 10'000; ++trial) {
    const std::string first = RandomUnicode(random, length(random));
    const std::string second = RandomUnicode(random, length(random));
    const EncodeOptions options{.max_length = max_length(random),
                                .truncation = static_cast<Truncation>(strategy(random))};
    absl::StatusOr<Encoding> encoding = bert_->EncodePair(first, second, options);
    if (!encoding.ok()) {
      // Only the strategies that cut one text may find the cut impossible.
      ASSERT_EQ(encoding.status().code(), absl::StatusCode::kInvalidArgument);
      ASSERT_TRUE(options.truncation == Truncation::kOnlyFirst ||
                  options.truncation == Truncation::kOnlySecond);
      continue;
    }
    if (options.truncation != Truncation::kDoNotTruncate) {
      ASSERT_LE(static_cast<int64_t>(encoding->ids.size()), options.max_length);
    }
    ASSERT_NO_FATAL_FAILURE(ExpectWellFormed(*bert_, *encoding, first, second));
  }
}

}  // namespace
}  // namespace istar::tokenizers
