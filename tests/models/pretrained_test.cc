// config.json reading and validation, Hugging Face checkpoint folders (the tiny BERT of
// shared/data), SavePretrained -> LoadPretrained round trips, and InspectModel.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "arrays/array_file.h"
#include "arrays/safetensors.h"
#include "models/config.h"
#include "models/embed.h"
#include "models/inspect.h"
#include "models/model.h"
#include "tokenizers/tokenizer.h"

namespace istar::models {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

const std::string kTinyBert = std::string(ISTAR_SHARED_DATA_DIR) + "/tiny-bert-jammi";

absl::Status ParseError(const std::string& json) {
  return ParseModelConfig(json, "config.json").status();
}

TEST(ReadModelConfig, ReadsDistilBertNames) {
  auto config = ParseModelConfig(
      R"({"model_type": "distilbert", "dim": 16, "n_layers": 3, "n_heads": 4, "hidden_dim": 32,
          "activation": "relu", "dropout": 0.2, "attention_dropout": 0.05, "vocab_size": 50,
          "seq_classif_dropout": 0.3, "qa_dropout": 0.4})",
      "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->architecture, Architecture::kDistilBert);
  EXPECT_EQ(config->hidden_size, 16);
  EXPECT_EQ(config->num_hidden_layers, 3);
  EXPECT_EQ(config->num_attention_heads, 4);
  EXPECT_EQ(config->intermediate_size, 32);
  EXPECT_EQ(config->hidden_act, "relu");
  EXPECT_EQ(config->hidden_dropout_prob, 0.2);
  EXPECT_EQ(config->attention_probs_dropout_prob, 0.05);
  EXPECT_EQ(config->classifier_dropout, 0.3);
  EXPECT_EQ(config->qa_dropout, 0.4);
}

TEST(ReadModelConfig, InfersArchitectureFromArchitecturesList) {
  auto config = ParseModelConfig(R"({"architectures": ["AlbertForMaskedLM"]})", "c.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->architecture, Architecture::kAlbert);
  EXPECT_EQ(config->hidden_act, "gelu_new") << "ALBERT's default";
}

TEST(ReadModelConfig, BertClassifierDropoutNullMeansHiddenDropout) {
  auto config = ParseModelConfig(
      R"({"model_type": "bert", "hidden_dropout_prob": 0.25, "classifier_dropout": null})", "c");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->classifier_dropout, 0.25);
}

TEST(ReadModelConfig, ErrorsNameTheFileAndTheField) {
  const absl::Status heads = ParseError(R"({"model_type": "bert", "hidden_size": 10,
                                           "num_attention_heads": 3})");
  EXPECT_EQ(heads.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(heads.message(), HasSubstr("config.json: hidden_size: 10 is not a multiple"));
  EXPECT_THAT(ParseError(R"({"model_type": "distilbert", "dim": 10, "n_heads": 4})").message(),
              HasSubstr("config.json: dim:"));
  EXPECT_THAT(ParseError(R"({"model_type": "distilbert", "activation": "swish"})").message(),
              HasSubstr("activation: expected \"gelu\", \"gelu_new\" or \"relu\""));
  EXPECT_THAT(ParseError(R"({"model_type": "bert", "num_hidden_layers": "two"})").message(),
              HasSubstr("num_hidden_layers: expected an integer"));
  EXPECT_THAT(ParseError(R"({"model_type": "bert", "vocab_size": 0})").message(),
              HasSubstr("vocab_size: must be positive"));
  EXPECT_THAT(ParseError(R"({"model_type": "bert", "hidden_dropout_prob": 1.5})").message(),
              HasSubstr("hidden_dropout_prob: must lie in [0, 1)"));
  EXPECT_THAT(ParseError(R"({"model_type": "albert", "num_hidden_layers": 12,
                             "num_hidden_groups": 5})")
                  .message(),
              HasSubstr("num_hidden_groups: 5 does not divide"));
  EXPECT_THAT(ParseError(R"({"model_type": "gpt2"})").message(), HasSubstr("model_type"));
  EXPECT_THAT(ParseError("{not json").message(), HasSubstr("config.json: not valid JSON"));
}

TEST(ReadModelConfig, UnimplementedFeaturesAreUnimplemented) {
  const absl::Status sinusoidal =
      ParseError(R"({"model_type": "distilbert", "sinusoidal_pos_embds": true})");
  EXPECT_EQ(sinusoidal.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(sinusoidal.message(), HasSubstr("sinusoidal_pos_embds"));
  EXPECT_EQ(
      ParseError(R"({"model_type": "bert", "position_embedding_type": "relative_key"})").code(),
      absl::StatusCode::kUnimplemented);
}

TEST(ReadModelConfig, MissingFileIsNotFound) {
  EXPECT_EQ(ReadModelConfig("/nonexistent/config.json").status().code(),
            absl::StatusCode::kNotFound);
}

ModelConfig SmallConfig(Architecture architecture) {
  ModelConfig c = DefaultConfig(architecture);
  c.vocab_size = 30;
  c.hidden_size = 12;
  c.embedding_size = architecture == Architecture::kAlbert ? 6 : 12;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 20;
  c.max_position_embeddings = 16;
  c.hidden_dropout_prob = 0.125;
  c.num_labels = 3;
  return c;
}

std::string FreshDir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("istar_models_" + name);
  fs::remove_all(dir);
  return dir.string();
}

TEST(SavePretrained, RoundTripsEveryParameterAndTheConfig) {
  for (Architecture architecture :
       {Architecture::kBert, Architecture::kAlbert, Architecture::kDistilBert}) {
    SCOPED_TRACE(ArchitectureName(architecture));
    ModelConfig config = SmallConfig(architecture);
    auto model = CreateModel(config, Head::kSequenceClassification, 3, /*seed=*/5);
    ASSERT_TRUE(model.ok()) << model.status();
    const std::string dir = FreshDir(ArchitectureName(architecture));
    ASSERT_TRUE(SavePretrained(**model, dir).ok());

    auto loaded = LoadPretrained(dir, Head::kSequenceClassification, {.seed = 99});
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_TRUE(loaded->report.missing_keys.empty()) << loaded->report.ToString();
    EXPECT_TRUE(loaded->report.unexpected_keys.empty()) << loaded->report.ToString();
    EXPECT_EQ(loaded->tokenizer, nullptr);
    const auto saved = (*model)->module().named_parameters();
    const auto read = loaded->model->module().named_parameters();
    ASSERT_EQ(saved.size(), read.size());
    for (const auto& item : saved)
      EXPECT_TRUE(at::equal(item.value(), read[item.key()])) << item.key();

    config.architectures = {(*model)->class_name()};
    auto reread = ReadModelConfig(dir + "/config.json");
    ASSERT_TRUE(reread.ok()) << reread.status();
    EXPECT_TRUE(*reread == config);
    EXPECT_TRUE(loaded->model->config() == config);
  }
}

TEST(LoadPretrained, MissingFolderIsNotFound) {
  EXPECT_EQ(LoadPretrained("/nonexistent", Head::kNone).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(LoadPretrained, TinyBertLoadsIntoAClassifierWithOnlyTheHeadAndPoolerMissing) {
  if (!fs::exists(kTinyBert + "/model.safetensors")) GTEST_SKIP() << kTinyBert << " is absent";
  auto loaded = LoadPretrained(kTinyBert, Head::kSequenceClassification, {.num_labels = 2});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(loaded->report.missing_keys,
              UnorderedElementsAre("bert.pooler.dense.weight", "bert.pooler.dense.bias",
                                   "classifier.weight", "classifier.bias"));
  EXPECT_TRUE(loaded->report.unexpected_keys.empty()) << loaded->report.ToString();
  EXPECT_EQ(loaded->report.loaded, 21);
  ASSERT_NE(loaded->tokenizer, nullptr);

  auto encoding = loaded->tokenizer->Encode("hello world, a tiny test");
  ASSERT_TRUE(encoding.ok()) << encoding.status();
  const int64_t n = static_cast<int64_t>(encoding->ids.size());
  std::vector<int64_t> ids(encoding->ids.begin(), encoding->ids.end());
  TaskModel& model = *loaded->model;
  model.module().eval();
  at::NoGradGuard no_grad;
  const ModelOutput out = model.Forward({.input_ids = at::tensor(ids, at::kLong).view({1, n})});
  ASSERT_EQ(out.hidden_states.size(), 2u);
  EXPECT_EQ(out.hidden_states[1].sizes(), (std::vector<int64_t>{1, n, 32}));
  EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(at::isfinite(out.logits).all().item<bool>());
  // The weights are the file's, value for value.
  auto file = arrays::SafetensorsFile::Open(kTinyBert + "/model.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  const arrays::TensorInfo* info = (*file)->Find("embeddings.word_embeddings.weight");
  ASSERT_NE(info, nullptr);
  const at::Tensor word =
      model.module().named_parameters()["bert.embeddings.word_embeddings.weight"].contiguous();
  ASSERT_EQ(info->data.size(), word.numel() * sizeof(float));
  EXPECT_EQ(std::memcmp(info->data.data(), word.data_ptr<float>(), info->data.size()), 0);
}

TEST(InspectModel, SummarisesTinyBert) {
  if (!fs::exists(kTinyBert + "/model.safetensors")) GTEST_SKIP() << kTinyBert << " is absent";
  auto summary = InspectModel(kTinyBert);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->class_name, "BertModel");
  EXPECT_EQ(summary->config.hidden_size, 32);
  // 21 tensors of the file plus the pooler (32 x 32 + 32) that the file lacks.
  const int64_t file = 256 * 32 + 128 * 32 + 2 * 32 + 2 * 32 + 4 * (32 * 32 + 32) + 2 * 32 +
                       (128 * 32 + 128) + (32 * 128 + 32) + 2 * 32;
  EXPECT_EQ(summary->encoder_parameters, file + 32 * 32 + 32);
  EXPECT_EQ(summary->head_parameters, 0);
  EXPECT_EQ(summary->total_parameters, summary->encoder_parameters);
  EXPECT_THAT(summary->report.missing_keys,
              UnorderedElementsAre("bert.pooler.dense.weight", "bert.pooler.dense.bias"));
  EXPECT_EQ(summary->tokenizer_file, "tokenizer.json");
  EXPECT_EQ(summary->tokenizer_vocab_size, 256);
}

const std::vector<std::string> kSentences = {"the cat sat on the mat", "hello",
                                             "a somewhat longer sentence of several words"};

// The sentences, one a line, with a blank line that must be skipped; returns the file's path.
std::string WriteSentences(const std::string& dir) {
  fs::create_directories(dir);
  std::ofstream(dir + "/in.txt") << kSentences[0] << "\n\n"
                                 << kSentences[1] << "\n"
                                 << kSentences[2] << "\n";
  return dir + "/in.txt";
}

TEST(EmbedText, RowsAreEachSentencesTokensInOrderAsAnUnpaddedForwardGivesThem) {
  if (!fs::exists(kTinyBert + "/model.safetensors")) GTEST_SKIP() << kTinyBert << " is absent";
  const std::string dir = FreshDir("embed");
  auto summary = EmbedText({.model_dir = kTinyBert,
                            .input_path = WriteSentences(dir),
                            .output_path = dir + "/out.safetensors",
                            .batch_size = 2});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->sentences, 3);
  EXPECT_EQ(summary->layers, (std::vector<int>{0, 1}));
  auto rows = arrays::ReadMatrix(dir + "/out.safetensors", {.tensor_name = "layer_1"});
  auto index = arrays::ReadMatrix(dir + "/out.safetensors", {.tensor_name = "token_index"});
  ASSERT_TRUE(rows.ok() && index.ok()) << rows.status() << index.status();
  ASSERT_EQ(rows->rows, summary->tokens);

  auto loaded = LoadPretrained(kTinyBert, Head::kNone);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  loaded->model->module().eval();
  at::NoGradGuard no_grad;
  int64_t row = 0;
  for (size_t s = 0; s < kSentences.size(); ++s) {
    auto encoding = loaded->tokenizer->Encode(kSentences[s]);
    ASSERT_TRUE(encoding.ok());
    std::vector<int64_t> ids(encoding->ids.begin(), encoding->ids.end());
    const int64_t n = static_cast<int64_t>(ids.size());
    const at::Tensor hidden = loaded->model->Forward({.input_ids = at::tensor(ids).view({1, n})})
                                  .hidden_states[1][0]
                                  .to(at::kDouble);
    for (int64_t t = 0; t < n; ++t, ++row) {
      EXPECT_EQ(index->at(row, 0), static_cast<double>(s));
      EXPECT_EQ(index->at(row, 1), static_cast<double>(t));
      for (int64_t c = 0; c < rows->cols; ++c) {
        ASSERT_NEAR(rows->at(row, c), hidden[t][c].item<double>(), 1e-5) << s << "," << t;
      }
    }
  }
  EXPECT_EQ(row, rows->rows);
}

TEST(EmbedText, LeavesOutSpecialTokensOnRequest) {
  if (!fs::exists(kTinyBert + "/model.safetensors")) GTEST_SKIP() << kTinyBert << " is absent";
  const std::string dir = FreshDir("embed_bare");
  const std::string input = WriteSentences(dir);
  auto all = EmbedText({.model_dir = kTinyBert,
                        .input_path = input,
                        .output_path = dir + "/all.npy",
                        .layers = {1}});
  auto bare = EmbedText({.model_dir = kTinyBert,
                         .input_path = input,
                         .output_path = dir + "/bare.npy",
                         .layers = {1},
                         .special_tokens = false});
  ASSERT_TRUE(all.ok() && bare.ok()) << all.status() << bare.status();
  EXPECT_EQ(bare->tokens, all->tokens - 2 * 3) << "[CLS] and [SEP] of each sentence left out";
}

TEST(EmbedText, OutputMustBeNpyOrSafetensors) {
  const absl::StatusOr<EmbedSummary> result =
      EmbedText({.model_dir = kTinyBert, .input_path = "x.txt", .output_path = "x.csv"});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr(".npy or .safetensors"));
}

}  // namespace
}  // namespace istar::models
