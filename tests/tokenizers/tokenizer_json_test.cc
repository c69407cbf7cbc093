#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/tokenizers/test_data.h"
#include "tokenizers/tokenizer.h"

namespace istar::tokenizers {
namespace {

using testing::PlainIds;
using testing::SharedData;

class TokenizerJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("istar_tokenizer_json_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& contents) {
    std::ofstream(dir_ / name) << contents;
    return (dir_ / name).string();
  }

  std::filesystem::path dir_;
};

TEST_F(TokenizerJsonTest, TinyBertMatchesAWordPieceVocabOfTheSameTokens) {
  ISTAR_SKIP_WITHOUT_SHARED_DATA(testing::kTinyBertJson);
  absl::StatusOr<std::unique_ptr<Tokenizer>> from_json =
      LoadTokenizerJson(SharedData(testing::kTinyBertJson));
  ASSERT_TRUE(from_json.ok()) << from_json.status();
  std::ifstream in(SharedData(testing::kTinyBertJson));
  const nlohmann::json vocab = nlohmann::json::parse(in)["model"]["vocab"];
  std::vector<std::string> by_id(vocab.size());
  for (const auto& [token, id] : vocab.items()) by_id.at(id.get<size_t>()) = token;
  std::string lines;
  for (const std::string& token : by_id) lines += token + "\n";
  absl::StatusOr<std::unique_ptr<Tokenizer>> from_vocab = LoadWordPieceVocab(Write("v.txt", lines));
  ASSERT_TRUE(from_vocab.ok()) << from_vocab.status();

  EXPECT_EQ((*from_json)->vocab_size(), 256);
  EXPECT_EQ((*from_json)->cls_id(), 2);
  EXPECT_EQ((*from_json)->sep_id(), 3);
  EXPECT_EQ((*from_json)->unk_id(), 1);
  const std::vector<std::string> texts = {"The quick model is based on neural networks.",
                                          "Hello, World!",
                                          "Quantum error-correction (novel approach) results",
                                          "testing 123 design;  DATA",
                                          "",
                                          "   \t\n",
                                          "a b c x y z",
                                          "Surface energy of the cell, and the protein gene"};
  for (const std::string& text : texts) {
    absl::StatusOr<Encoding> a = (*from_json)->EncodePair(text, "about the test");
    absl::StatusOr<Encoding> b = (*from_vocab)->EncodePair(text, "about the test");
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->ids, b->ids) << text;
    EXPECT_EQ(a->offsets, b->offsets) << text;
    EXPECT_EQ(a->token_type_ids, b->token_type_ids) << text;
  }
  EXPECT_EQ(PlainIds(**from_json, "the model"), (std::vector<int32_t>{74, 122}));
}

TEST_F(TokenizerJsonTest, WhitespacePreTokenizerKeepsPunctuationRunsTogether) {
  ISTAR_SKIP_WITHOUT_SHARED_DATA(testing::kTinyBertJson);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      LoadTokenizerJson(SharedData(testing::kTinyBertJson));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  // Hugging Face's Whitespace splits \w+|[^\w\s]+, so "..." is one word, with no WordPiece split.
  EXPECT_EQ(PlainIds(**tokenizer, "the..."), (std::vector<int32_t>{74, 1}));
  EXPECT_EQ(PlainIds(**tokenizer, "the ."), (std::vector<int32_t>{74, 42}));
}

TEST_F(TokenizerJsonTest, BertNormalizerAndBertPreTokenizerAreRead) {
  const std::string path = Write("bert.json", R"({
    "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                   "strip_accents": null, "lowercase": true},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 1], "cls": ["[CLS]", 0]},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100,
              "vocab": {"[CLS]": 0, "[SEP]": 1, "[UNK]": 2, "cafe": 3, ".": 4, "un": 5,
                        "##able": 6}}})");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizerJson(path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ(PlainIds(**tokenizer, "Café... Unable"), (std::vector<int32_t>{3, 4, 4, 4, 5, 6}));
  EXPECT_EQ((*tokenizer)->pad_id(), -1);
  EXPECT_EQ((*tokenizer)->mask_id(), -1);
}

TEST_F(TokenizerJsonTest, OtherModelTypesAreUnimplemented) {
  const std::string path = Write("bpe.json", R"({"model": {"type": "BPE", "vocab": {}}})");
  absl::Status status = LoadTokenizerJson(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("'BPE'"));
  const std::string odd = Write("odd.json", R"({"normalizer": {"type": "Precompiled"},
      "pre_tokenizer": {"type": "Whitespace"}, "model": {"type": "WordPiece", "vocab": {}}})");
  EXPECT_EQ(LoadTokenizerJson(odd).status().code(), absl::StatusCode::kUnimplemented);
}

TEST_F(TokenizerJsonTest, MalformedFilesAreInvalidArguments) {
  EXPECT_EQ(LoadTokenizerJson(Write("bad.json", "{ not json")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadTokenizerJson(Write("nomodel.json", "{}")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadTokenizerJson(Write("badid.json", R"({"pre_tokenizer": {"type": "Whitespace"},
      "model": {"type": "WordPiece", "vocab": {"[UNK]": "zero"}}})"))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadTokenizerJson((dir_ / "absent.json").string()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(TokenizerJsonTest, FolderPrefersTokenizerJsonThenVocabTxt) {
  ISTAR_SKIP_WITHOUT_SHARED_DATA(testing::kTinyBertJson);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tiny =
      LoadTokenizerFromFolder(SharedData("tiny-bert-jammi"));
  ASSERT_TRUE(tiny.ok()) << tiny.status();
  EXPECT_EQ((*tiny)->vocab_size(), 256);

  Write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nh\n##ello\n");
  absl::StatusOr<std::unique_ptr<Tokenizer>> uncased = LoadTokenizerFromFolder(dir_.string());
  ASSERT_TRUE(uncased.ok()) << uncased.status();
  EXPECT_EQ(PlainIds(**uncased, "Hello"), std::vector<int32_t>{5});
  Write("tokenizer_config.json", R"({"do_lower_case": false})");
  absl::StatusOr<std::unique_ptr<Tokenizer>> cased = LoadTokenizerFromFolder(dir_.string());
  ASSERT_TRUE(cased.ok()) << cased.status();
  EXPECT_EQ(PlainIds(**cased, "Hello"), std::vector<int32_t>{1});
  Write("tokenizer_config.json", R"({"do_lower_case": "yes"})");
  EXPECT_EQ(LoadTokenizerFromFolder(dir_.string()).status().code(),
            absl::StatusCode::kInvalidArgument);

  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  EXPECT_EQ(LoadTokenizerFromFolder(dir_.string()).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace istar::tokenizers
