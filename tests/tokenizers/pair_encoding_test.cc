#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/tokenizers/test_data.h"
#include "tokenizers/tokenizer.h"

namespace istar::tokenizers {
namespace {

using ::testing::ElementsAre;
using Range = std::pair<int64_t, int64_t>;

class PairEncodingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ISTAR_SKIP_WITHOUT_SHARED_DATA(testing::kBertVocab);
    bert_ = testing::BertUncased();
    ASSERT_NE(bert_, nullptr);
  }
  int32_t Id(const std::string& token) const { return bert_->TokenToId(token).value(); }

  // Each of these words is one token of BERT-uncased.
  const std::string five_ = "one two three four five";
  const std::string three_ = "red green blue";
  const Tokenizer* bert_ = nullptr;
};

TEST_F(PairEncodingTest, PairIsClsFirstSepSecondSepWithTypesAndOffsets) {
  absl::StatusOr<Encoding> encoding = bert_->EncodePair("hello world", "the world");
  ASSERT_TRUE(encoding.ok()) << encoding.status();
  EXPECT_THAT(encoding->ids, ElementsAre(101, 7592, 2088, 102, 1996, 2088, 102));
  EXPECT_THAT(encoding->token_type_ids, ElementsAre(0, 0, 0, 0, 1, 1, 1));
  EXPECT_THAT(encoding->sequence_ids, ElementsAre(-1, 0, 0, -1, 1, 1, -1));
  EXPECT_THAT(encoding->attention_mask, ElementsAre(1, 1, 1, 1, 1, 1, 1));
  EXPECT_THAT(encoding->offsets, ElementsAre(Range(0, 0), Range(0, 5), Range(6, 11), Range(0, 0),
                                             Range(0, 3), Range(4, 9), Range(0, 0)));
}

TEST_F(PairEncodingTest, LongestFirstCutsTheLongerTextFirst) {
  // 5 + 3 tokens into max_length 8 - 3 specials = 5: two from the first, then the second on a tie.
  absl::StatusOr<Encoding> encoding = bert_->EncodePair(five_, three_, {.max_length = 8});
  ASSERT_TRUE(encoding.ok()) << encoding.status();
  EXPECT_THAT(encoding->ids, ElementsAre(101, Id("one"), Id("two"), Id("three"), 102, Id("red"),
                                         Id("green"), 102));
  absl::StatusOr<Encoding> tie = bert_->EncodePair(three_, three_, {.max_length = 7});
  ASSERT_TRUE(tie.ok()) << tie.status();
  EXPECT_THAT(tie->ids, ElementsAre(101, Id("red"), Id("green"), 102, Id("red"), Id("green"), 102));
  absl::StatusOr<Encoding> odd = bert_->EncodePair(three_, three_, {.max_length = 6});
  ASSERT_TRUE(odd.ok()) << odd.status();
  EXPECT_THAT(odd->ids, ElementsAre(101, Id("red"), Id("green"), 102, Id("red"), 102));
}

TEST_F(PairEncodingTest, OnlySecondCutsOnlyTheSecondText) {
  absl::StatusOr<Encoding> encoding =
      bert_->EncodePair(three_, five_, {.max_length = 7, .truncation = Truncation::kOnlySecond});
  ASSERT_TRUE(encoding.ok()) << encoding.status();
  EXPECT_THAT(encoding->ids,
              ElementsAre(101, Id("red"), Id("green"), Id("blue"), 102, Id("one"), 102));
}

TEST_F(PairEncodingTest, OnlyFirstCutsOnlyTheFirstText) {
  absl::StatusOr<Encoding> encoding =
      bert_->EncodePair(five_, three_, {.max_length = 8, .truncation = Truncation::kOnlyFirst});
  ASSERT_TRUE(encoding.ok()) << encoding.status();
  EXPECT_THAT(encoding->ids,
              ElementsAre(101, Id("one"), Id("two"), 102, Id("red"), Id("green"), Id("blue"), 102));
}

TEST_F(PairEncodingTest, ImpossibleTruncationIsAnInvalidArgument) {
  // The first text alone fills max_length, so only_second would have to remove all of the second.
  absl::StatusOr<Encoding> only_second =
      bert_->EncodePair(five_, three_, {.max_length = 8, .truncation = Truncation::kOnlySecond});
  EXPECT_EQ(only_second.status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<Encoding> only_first =
      bert_->EncodePair(three_, five_, {.max_length = 8, .truncation = Truncation::kOnlyFirst});
  EXPECT_EQ(only_first.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bert_->EncodePair("a", "b", {.max_length = 2}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bert_->Encode("a", {.max_length = 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bert_->Encode(five_, {.max_length = 4, .truncation = Truncation::kOnlySecond})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PairEncodingTest, SingleTextIsCutToMaxLength) {
  absl::StatusOr<Encoding> encoding = bert_->Encode(five_, {.max_length = 4});
  ASSERT_TRUE(encoding.ok()) << encoding.status();
  EXPECT_THAT(encoding->ids, ElementsAre(101, Id("one"), Id("two"), 102));
  absl::StatusOr<Encoding> only_specials = bert_->Encode(five_, {.max_length = 2});
  ASSERT_TRUE(only_specials.ok()) << only_specials.status();
  EXPECT_THAT(only_specials->ids, ElementsAre(101, 102));
}

TEST_F(PairEncodingTest, DoNotTruncateMayExceedMaxLength) {
  absl::StatusOr<Encoding> encoding =
      bert_->EncodePair(five_, three_, {.max_length = 4, .truncation = Truncation::kDoNotTruncate});
  ASSERT_TRUE(encoding.ok()) << encoding.status();
  EXPECT_EQ(encoding->ids.size(), 11u);
}

TEST_F(PairEncodingTest, WithoutSpecialTokensThePairIsConcatenated) {
  absl::StatusOr<Encoding> encoding =
      bert_->EncodePair("red", "green blue", {.max_length = 2, .add_special_tokens = false});
  ASSERT_TRUE(encoding.ok()) << encoding.status();
  EXPECT_THAT(encoding->ids, ElementsAre(Id("red"), Id("green")));
  EXPECT_THAT(encoding->token_type_ids, ElementsAre(0, 1));
  EXPECT_THAT(encoding->sequence_ids, ElementsAre(0, 1));
}

TEST_F(PairEncodingTest, EmptyTextsGiveOnlySpecialTokens) {
  absl::StatusOr<Encoding> single = bert_->Encode("");
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_THAT(single->ids, ElementsAre(101, 102));
  absl::StatusOr<Encoding> pair = bert_->EncodePair(" \t", "");
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_THAT(pair->ids, ElementsAre(101, 102, 102));
  EXPECT_THAT(pair->token_type_ids, ElementsAre(0, 0, 1));
}

}  // namespace
}  // namespace istar::tokenizers
