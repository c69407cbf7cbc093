#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tests/tokenizers/train_sentencepiece.h"
#include "tokenizers/tokenizer.h"

namespace istar::tokenizers {
namespace {

using ::testing::ElementsAre;

const std::string kSpaceMark = "\xE2\x96\x81";  // U+2581

// Trains one tiny ALBERT-shaped model for the whole suite (see train_sentencepiece.h).
class SentencePieceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("istar_spiece_" + std::to_string(::getpid())));
    std::filesystem::create_directories(*dir_);
    std::string error;
    const std::string path = testing::TrainTinySentencePiece(dir_->string(), &error);
    ASSERT_FALSE(path.empty()) << error;
    absl::StatusOr<std::unique_ptr<Tokenizer>> loaded = LoadSentencePiece(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    albert_ = loaded->release();
  }
  static void TearDownTestSuite() {
    delete albert_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  void SetUp() override { ASSERT_NE(albert_, nullptr); }

  static std::vector<int32_t> Ids(std::string_view text) {
    absl::StatusOr<Encoding> encoding = albert_->Encode(text, {.add_special_tokens = false});
    EXPECT_TRUE(encoding.ok()) << encoding.status();
    return encoding.ok() ? encoding->ids : std::vector<int32_t>{};
  }
  // The pieces joined, with SentencePiece's space mark turned back into a space.
  static std::string Detokenize(const std::vector<int32_t>& ids) {
    std::string pieces;
    for (const int32_t id : ids) pieces += albert_->IdToToken(id).value();
    // Built anew rather than replaced in place: GCC 12 at -O3 misreads std::string::replace here
    // (a false -Wrestrict, GCC bug 105329).
    std::string text;
    for (size_t i = 0; i < pieces.size();) {
      if (pieces.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
        text += ' ';
        i += kSpaceMark.size();
      } else {
        text += pieces[i++];
      }
    }
    return text;
  }

  static std::filesystem::path* dir_;
  static Tokenizer* albert_;
};

std::filesystem::path* SentencePieceTest::dir_ = nullptr;
Tokenizer* SentencePieceTest::albert_ = nullptr;

TEST_F(SentencePieceTest, SpecialIdsAreAlbertS) {
  EXPECT_EQ(albert_->pad_id(), 0);
  EXPECT_EQ(albert_->unk_id(), 1);
  EXPECT_EQ(albert_->cls_id(), 2);
  EXPECT_EQ(albert_->sep_id(), 3);
  EXPECT_EQ(albert_->mask_id(), 4);
  EXPECT_EQ(albert_->IdToToken(2), "[CLS]");
  EXPECT_EQ(albert_->TokenToId("<unk>"), 1);
  EXPECT_EQ(albert_->TokenToId("no such piece"), std::nullopt);
  EXPECT_EQ(albert_->IdToToken(albert_->vocab_size()), std::nullopt);
}

TEST_F(SentencePieceTest, AlbertNormalisationLowersDropsAccentsAndFixesQuotes) {
  const std::vector<int32_t> ids = Ids("  Héllo   ``World''  ");
  EXPECT_EQ(ids, Ids("hello \"world\""));
  EXPECT_EQ(Detokenize(ids), " hello \"world\"");
  EXPECT_EQ(Ids("CAFÉ\tNAÏVE"), Ids("cafe naive"));
}

TEST_F(SentencePieceTest, PiecesRoundTripThroughIds) {
  const std::vector<int32_t> ids = Ids("the quick brown fox jumps over the lazy dog");
  ASSERT_FALSE(ids.empty());
  for (const int32_t id : ids) {
    EXPECT_NE(id, albert_->unk_id());
    EXPECT_EQ(albert_->TokenToId(albert_->IdToToken(id).value()), id);
  }
  EXPECT_EQ(Detokenize(ids), " the quick brown fox jumps over the lazy dog");
}

TEST_F(SentencePieceTest, PairGetsClsAndSepAndTokenTypes) {
  absl::StatusOr<Encoding> encoding = albert_->EncodePair("hello", "world");
  ASSERT_TRUE(encoding.ok()) << encoding.status();
  ASSERT_GE(encoding->ids.size(), 5u);
  EXPECT_EQ(encoding->ids.front(), 2);
  EXPECT_EQ(encoding->ids.back(), 3);
  const std::vector<int32_t> first = Ids("hello");
  EXPECT_EQ(encoding->ids[first.size() + 1], 3);
  for (size_t i = 0; i < encoding->ids.size(); ++i) {
    EXPECT_EQ(encoding->token_type_ids[i], i <= first.size() + 1 ? 0 : 1);
  }
}

TEST_F(SentencePieceTest, OffsetsPointIntoTheOriginalText) {
  const std::string text = "  Héllo   ``World'' the DOG";
  absl::StatusOr<Encoding> encoding = albert_->Encode(text);
  ASSERT_TRUE(encoding.ok()) << encoding.status();
  std::string covered;
  int64_t last_end = 0;
  for (size_t i = 0; i < encoding->ids.size(); ++i) {
    if (encoding->sequence_ids[i] < 0) continue;
    const auto [begin, end] = encoding->offsets[i];
    ASSERT_LE(last_end, begin);
    ASSERT_LE(begin, end);
    ASSERT_LE(end, static_cast<int64_t>(text.size()));
    covered += text.substr(begin, end - begin);
    last_end = end;
  }
  // Every character but the spaces belongs to exactly one piece, in order.
  EXPECT_EQ(covered, "Héllo``World''theDOG");
}

TEST_F(SentencePieceTest, DigitsBeforeACommaAreSplitFromIt) {
  for (const int32_t id : Ids("1,000, 9, 10, hello,")) {
    const std::string piece = albert_->IdToToken(id).value();
    EXPECT_FALSE(piece.size() > 1 && piece.back() == ',' && std::isdigit(piece[piece.size() - 2]))
        << piece;
  }
}

TEST_F(SentencePieceTest, OddTextNeverFails) {
  for (const std::string& text :
       {std::string(), std::string(" \t\n "), std::string("\x80\xFF\xC3", 3),
        std::string("a\0b", 3), std::string(5000, 'z'), std::string("[MASK] [CLS]")}) {
    absl::StatusOr<Encoding> encoding = albert_->EncodePair(text, text, {.max_length = 64});
    ASSERT_TRUE(encoding.ok()) << encoding.status();
    EXPECT_LE(encoding->ids.size(), 64u);
    for (const auto& [begin, end] : encoding->offsets) {
      EXPECT_LE(begin, end);
      EXPECT_LE(end, static_cast<int64_t>(text.size()));
    }
  }
}

TEST_F(SentencePieceTest, RandomTextKeepsOffsetsInOrderAndInBounds) {
  const std::vector<std::string> parts = {"a", "Z",  "é",    "e\u0301", "``", "''",   "9,",
                                          " ", "\t", "\x80", "\xC3",    "我", "😀",    "1,000,",
                                          "ﬁ", "Ⅻ",  "İ",    "\u00A0",  "h",  "ello", "\""};
  std::mt19937 random(11);
  std::uniform_int_distribution<size_t> pick(0, parts.size() - 1), length(0, 30);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text;
    for (size_t i = length(random); i > 0; --i) text += parts[pick(random)];
    absl::StatusOr<Encoding> encoding = albert_->Encode(text, {.max_length = 1000});
    ASSERT_TRUE(encoding.ok()) << encoding.status();
    std::pair<int64_t, int64_t> last{0, 0};
    for (size_t i = 0; i < encoding->ids.size(); ++i) {
      ASSERT_LT(encoding->ids[i], albert_->vocab_size());
      if (encoding->sequence_ids[i] < 0) continue;
      const auto [begin, end] = encoding->offsets[i];
      ASSERT_LE(last.first, begin) << text;
      ASSERT_LE(last.second, end) << text;
      ASSERT_LE(begin, end) << text;
      ASSERT_LE(end, static_cast<int64_t>(text.size())) << text;
      last = {begin, end};
    }
  }
}

TEST_F(SentencePieceTest, LoadErrorsCarryTheRightCode) {
  EXPECT_EQ(LoadSentencePiece((*dir_ / "absent.model").string()).status().code(),
            absl::StatusCode::kNotFound);
  std::ofstream(*dir_ / "garbage.model") << "not a model";
  EXPECT_EQ(LoadSentencePiece((*dir_ / "garbage.model").string()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SentencePieceTest, FolderWithOnlySpieceModelLoadsAlbert) {
  const std::filesystem::path folder = *dir_ / "albert";
  std::filesystem::create_directories(folder);
  std::filesystem::copy_file(*dir_ / "spiece.model", folder / "spiece.model");
  absl::StatusOr<std::unique_ptr<Tokenizer>> loaded = LoadTokenizerFromFolder(folder.string());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->cls_id(), 2);
}

}  // namespace
}  // namespace istar::tokenizers
