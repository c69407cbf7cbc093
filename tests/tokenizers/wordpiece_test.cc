#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <utf8proc.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/tokenizers/test_data.h"
#include "tokenizers/tokenizer.h"

namespace istar::tokenizers {
namespace {

using testing::BertUncased;
using ::testing::ElementsAre;
using testing::PlainIds;
using testing::SharedData;

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// BERT-uncased normalisation written independently of the tokenizer: lower-case, NFD, drop Mn.
std::string LowerNoAccents(std::string_view text) {
  std::string out;
  utf8proc_int32_t cp;
  for (size_t pos = 0; pos < text.size();) {
    const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(&text[pos]),
                                    static_cast<utf8proc_ssize_t>(text.size() - pos), &cp);
    pos += n > 0 ? n : 1;
    utf8proc_int32_t parts[32];
    int boundclass = 0;
    const auto count = utf8proc_decompose_char(cp, parts, 32, UTF8PROC_DECOMPOSE, &boundclass);
    for (int i = 0; i < count; ++i) {
      if (utf8proc_category(parts[i]) == UTF8PROC_CATEGORY_MN) continue;
      utf8proc_uint8_t bytes[4];
      const auto length = utf8proc_encode_char(utf8proc_tolower(parts[i]), bytes);
      out.append(reinterpret_cast<const char*>(bytes), length);
    }
  }
  return out;
}

TEST(WordPieceTest, LlamaCppCasesGiveTheRecordedIds) {
  ISTAR_SKIP_WITHOUT_SHARED_DATA(testing::kLlamaCppCases);
  ASSERT_NE(BertUncased(), nullptr);
  const nlohmann::json cases = ReadJson(SharedData(testing::kLlamaCppCases))["cases"];
  ASSERT_EQ(cases.size(), 43u);
  for (const nlohmann::json& c : cases) {
    const std::string text = c["text"];
    EXPECT_EQ(PlainIds(*BertUncased(), text), c["ids"].get<std::vector<int32_t>>())
        << "text: " << text;
  }
}

TEST(WordPieceTest, OffsetsSliceTheTokenOutOfTheOriginalText) {
  ISTAR_SKIP_WITHOUT_SHARED_DATA(testing::kLlamaCppCases);
  const Tokenizer& bert = *BertUncased();
  int checked = 0;
  const nlohmann::json cases = ReadJson(SharedData(testing::kLlamaCppCases))["cases"];
  for (const nlohmann::json& c : cases) {
    const std::string text = c["text"];
    absl::StatusOr<Encoding> encoding = bert.Encode(text, {.max_length = 1000});
    ASSERT_TRUE(encoding.ok()) << encoding.status();
    for (size_t i = 0; i < encoding->ids.size(); ++i) {
      const auto [begin, end] = encoding->offsets[i];
      if (encoding->sequence_ids[i] < 0) {
        EXPECT_EQ(begin, 0);
        EXPECT_EQ(end, 0);
        continue;
      }
      ASSERT_LE(begin, end);
      ASSERT_LE(end, static_cast<int64_t>(text.size()));
      if (encoding->ids[i] == bert.unk_id()) continue;
      const std::optional<std::string> piece = bert.IdToToken(encoding->ids[i]);
      ASSERT_TRUE(piece.has_value()) << "id " << encoding->ids[i] << " has no token";
      std::string token = *piece;
      if (token.rfind("##", 0) == 0) token.erase(0, 2);
      EXPECT_EQ(LowerNoAccents(std::string_view(text).substr(begin, end - begin)), token)
          << "text: " << text << " token " << i;
      ++checked;
    }
  }
  EXPECT_GT(checked, 250);
}

TEST(WordPieceTest, SpecialIdsAndVocabularyLookupsFollowVocabTxt) {
  ISTAR_SKIP_WITHOUT_SHARED_DATA(testing::kBertVocab);
  const Tokenizer& bert = *BertUncased();
  EXPECT_EQ(bert.vocab_size(), 30522);
  EXPECT_EQ(bert.pad_id(), 0);
  EXPECT_EQ(bert.unk_id(), 100);
  EXPECT_EQ(bert.cls_id(), 101);
  EXPECT_EQ(bert.sep_id(), 102);
  EXPECT_EQ(bert.mask_id(), 103);
  EXPECT_EQ(bert.TokenToId("hello"), 7592);
  EXPECT_EQ(bert.IdToToken(2088), "world");
  EXPECT_EQ(bert.TokenToId("no-such-token"), std::nullopt);
  EXPECT_EQ(bert.IdToToken(30522), std::nullopt);
  EXPECT_EQ(bert.IdToToken(-1), std::nullopt);
}

TEST(WordPieceTest, SingleTextGetsClsAndSepAndByteOffsets) {
  ISTAR_SKIP_WITHOUT_SHARED_DATA(testing::kBertVocab);
  absl::StatusOr<Encoding> encoding = BertUncased()->Encode("Héllo, world");
  ASSERT_TRUE(encoding.ok()) << encoding.status();
  EXPECT_THAT(encoding->ids, ElementsAre(101, 7592, 1010, 2088, 102));
  EXPECT_THAT(encoding->token_type_ids, ElementsAre(0, 0, 0, 0, 0));
  EXPECT_THAT(encoding->attention_mask, ElementsAre(1, 1, 1, 1, 1));
  EXPECT_THAT(encoding->sequence_ids, ElementsAre(-1, 0, 0, 0, -1));
  using Range = std::pair<int64_t, int64_t>;  // "é" is two bytes
  EXPECT_THAT(encoding->offsets,
              ElementsAre(Range(0, 0), Range(0, 6), Range(6, 7), Range(8, 13), Range(0, 0)));
}

TEST(WordPieceTest, ChineseCharactersAreWordsOfTheirOwn) {
  ISTAR_SKIP_WITHOUT_SHARED_DATA(testing::kBertVocab);
  absl::StatusOr<Encoding> encoding = BertUncased()->Encode("我日apple");
  ASSERT_TRUE(encoding.ok()) << encoding.status();
  ASSERT_EQ(encoding->ids.size(), 5u);
  EXPECT_EQ(BertUncased()->IdToToken(encoding->ids[1]), "我");
  EXPECT_EQ(BertUncased()->IdToToken(encoding->ids[2]), "日");
  EXPECT_EQ(BertUncased()->IdToToken(encoding->ids[3]), "apple");
  using Range = std::pair<int64_t, int64_t>;
  EXPECT_THAT(encoding->offsets,
              ElementsAre(Range(0, 0), Range(0, 3), Range(3, 6), Range(6, 11), Range(0, 0)));
}

TEST(WordPieceTest, WordLongerThanTheLimitIsUnknown) {
  ISTAR_SKIP_WITHOUT_SHARED_DATA(testing::kBertVocab);
  EXPECT_THAT(PlainIds(*BertUncased(), std::string(101, 'a') + " the"), ElementsAre(100, 1996));
  absl::StatusOr<std::unique_ptr<Tokenizer>> strict =
      LoadWordPieceVocab(SharedData(testing::kBertVocab), {.max_input_chars_per_word = 4});
  ASSERT_TRUE(strict.ok()) << strict.status();
  EXPECT_THAT(PlainIds(**strict, "hello the"), ElementsAre(100, 1996));
}

TEST(WordPieceTest, CasedOptionsKeepCaseAndAccents) {
  ISTAR_SKIP_WITHOUT_SHARED_DATA(testing::kBertVocab);
  absl::StatusOr<std::unique_ptr<Tokenizer>> cased =
      LoadWordPieceVocab(SharedData(testing::kBertVocab), {.lowercase = false});
  ASSERT_TRUE(cased.ok()) << cased.status();
  // The uncased vocabulary has no "Hello", so keeping the case changes the split.
  EXPECT_NE(PlainIds(**cased, "Hello"), std::vector<int32_t>{7592});
  EXPECT_EQ(PlainIds(**cased, "hello"), std::vector<int32_t>{7592});
  absl::StatusOr<std::unique_ptr<Tokenizer>> accents = LoadWordPieceVocab(
      SharedData(testing::kBertVocab), {.lowercase = true, .strip_accents = false});
  ASSERT_TRUE(accents.ok()) << accents.status();
  EXPECT_NE(PlainIds(**accents, "café"), PlainIds(*BertUncased(), "café"));
}

TEST(WordPieceTest, VocabErrorsCarryTheRightCode) {
  EXPECT_EQ(LoadWordPieceVocab("/nonexistent/vocab.txt").status().code(),
            absl::StatusCode::kNotFound);
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "istar_vocab_errors";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "empty.txt").close();
  std::ofstream(dir / "no_unk.txt") << "[CLS]\n[SEP]\nhello\n";
  std::ofstream(dir / "no_cls.txt") << "[UNK]\n[SEP]\nhello\n";
  EXPECT_EQ(LoadWordPieceVocab((dir / "empty.txt").string()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadWordPieceVocab((dir / "no_unk.txt").string()).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status no_cls = LoadWordPieceVocab((dir / "no_cls.txt").string()).status();
  EXPECT_EQ(no_cls.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(no_cls.message()), ::testing::HasSubstr("[CLS]"));
  std::filesystem::remove_all(dir);
}

TEST(WordPieceTest, CodePointIndicesAndByteOffsetsConvertBothWays) {
  const std::string text = "añb€c\xF0\x9F\xA6\x99";  // 1 + 2 + 1 + 3 + 1 + 4 bytes
  const std::vector<int64_t> starts = {0, 1, 3, 4, 7, 8, 12};
  for (int64_t i = 0; i < static_cast<int64_t>(starts.size()); ++i) {
    EXPECT_EQ(CodePointIndexToByteOffset(text, i), starts[i]);
    EXPECT_EQ(ByteOffsetToCodePointIndex(text, starts[i]), i);
  }
  EXPECT_EQ(ByteOffsetToCodePointIndex(text, 2), 1);  // inside "ñ"
  EXPECT_EQ(CodePointIndexToByteOffset(text, 7), -1);
  EXPECT_EQ(CodePointIndexToByteOffset(text, -1), -1);
  EXPECT_EQ(ByteOffsetToCodePointIndex(text, 13), -1);
  EXPECT_EQ(CodePointIndexToByteOffset("a\x80z", 2), 2);  // an invalid byte is one code point
}

}  // namespace
}  // namespace istar::tokenizers
