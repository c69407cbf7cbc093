#include "models/checkpoint.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "arrays/safetensors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/scratch_dir.h"

namespace istar::models {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using ModulePtr = std::shared_ptr<torch::nn::Module>;

using ::istar::testing::ScratchDir;

// Registers `leaf` under the dotted `path` below `root`, creating plain modules for the parents,
// so that a test can build a module with Hugging Face's names in a few lines.
void RegisterAt(torch::nn::Module& root, std::string_view path, ModulePtr leaf) {
  const size_t dot = path.find('.');
  const std::string head(path.substr(0, dot));
  if (dot == std::string_view::npos) {
    root.register_module(head, std::move(leaf));
    return;
  }
  ModulePtr child;
  for (const auto& item : root.named_children()) {
    if (item.key() == head) child = item.value();
  }
  if (!child) child = root.register_module(head, std::make_shared<torch::nn::Module>());
  RegisterAt(*child, path.substr(dot + 1), std::move(leaf));
}

ModulePtr Linear(int64_t in, int64_t out) { return torch::nn::Linear(in, out).ptr(); }
ModulePtr LayerNorm(int64_t size) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({size})).ptr();
}

// A small encoder named as Hugging Face names BERT's parts, under `prefix` ("" or "bert.").
// Its parameters are drawn from `seed`, so two modules with different seeds differ everywhere.
ModulePtr SmallEncoder(const std::string& prefix, uint64_t seed) {
  at::manual_seed(seed);
  auto root = std::make_shared<torch::nn::Module>();
  RegisterAt(*root, prefix + "embeddings.LayerNorm", LayerNorm(4));
  RegisterAt(*root, prefix + "encoder.layer.0.attention.self.query", Linear(4, 4));
  RegisterAt(*root, prefix + "encoder.layer.0.output.dense", Linear(4, 3));
  for (auto& parameter : root->parameters()) {
    at::NoGradGuard no_grad;
    parameter.normal_();
  }
  return root;
}

std::map<std::string, at::Tensor> State(const torch::nn::Module& module) {
  std::map<std::string, at::Tensor> state;
  for (const auto& item : module.named_parameters()) state.emplace(item.key(), item.value());
  for (const auto& item : module.named_buffers()) state.emplace(item.key(), item.value());
  return state;
}

std::vector<std::byte> Bytes(std::initializer_list<uint16_t> values) {
  std::vector<std::byte> bytes;
  for (uint16_t v : values) {
    bytes.push_back(static_cast<std::byte>(v & 0xff));
    bytes.push_back(static_cast<std::byte>(v >> 8));
  }
  return bytes;
}

TEST(Checkpoint, SaveThenLoadIsBitExactIntoAFreshModule) {
  ScratchDir dir;
  ModulePtr saved = SmallEncoder("", 1);
  saved->register_buffer("position_ids", at::arange(5, at::kLong));
  ASSERT_TRUE(SaveSafetensors(*saved, dir.Path("model.safetensors")).ok());

  ModulePtr loaded = SmallEncoder("", 2);
  loaded->register_buffer("position_ids", at::zeros({5}, at::kLong));
  absl::StatusOr<LoadReport> report = LoadSafetensors(*loaded, dir.Path("model.safetensors"));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->missing_keys, IsEmpty());
  EXPECT_THAT(report->unexpected_keys, IsEmpty());
  EXPECT_EQ(report->loaded, 7);
  const auto expected = State(*saved);
  for (const auto& [key, tensor] : State(*loaded)) {
    EXPECT_TRUE(at::equal(tensor, expected.at(key))) << key;
  }
  absl::StatusOr<std::unique_ptr<arrays::SafetensorsFile>> file =
      arrays::SafetensorsFile::Open(dir.Path("model.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
}

TEST(Checkpoint, BaseModelPrefixIsAddedOrStrippedAsNeeded) {
  ScratchDir dir;
  ASSERT_TRUE(SaveSafetensors(*SmallEncoder("", 1), dir.Path("bare.safetensors")).ok());
  ModulePtr task = SmallEncoder("bert.", 2);
  RegisterAt(*task, "classifier", Linear(4, 2));
  absl::StatusOr<LoadReport> into_task =
      LoadSafetensors(*task, dir.Path("bare.safetensors"), {.base_model_prefix = "bert"});
  ASSERT_TRUE(into_task.ok()) << into_task.status();
  EXPECT_EQ(into_task->loaded, 6);
  EXPECT_THAT(into_task->missing_keys, ElementsAre("classifier.bias", "classifier.weight"));
  EXPECT_TRUE(at::equal(State(*task).at("bert.encoder.layer.0.output.dense.weight"),
                        State(*SmallEncoder("", 1)).at("encoder.layer.0.output.dense.weight")));

  ASSERT_TRUE(SaveSafetensors(*task, dir.Path("task.safetensors")).ok());
  ModulePtr bare = SmallEncoder("", 3);
  absl::StatusOr<LoadReport> into_bare =
      LoadSafetensors(*bare, dir.Path("task.safetensors"), {.base_model_prefix = "bert"});
  ASSERT_TRUE(into_bare.ok()) << into_bare.status();
  EXPECT_EQ(into_bare->loaded, 6);
  EXPECT_THAT(into_bare->missing_keys, IsEmpty());
  EXPECT_THAT(into_bare->unexpected_keys, ElementsAre("classifier.bias", "classifier.weight"));
}

TEST(Checkpoint, LegacyLayerNormGammaAndBetaLoadAsWeightAndBias) {
  ScratchDir dir;
  const std::vector<std::byte> ones = Bytes({0, 0x3F80, 0, 0x3F80, 0, 0x3F80, 0, 0x3F80});
  const std::vector<std::byte> zeros(16);
  const arrays::TensorToWrite tensors[] = {
      {.name = "embeddings.LayerNorm.gamma", .shape = {4}, .data = ones},
      {.name = "embeddings.LayerNorm.beta", .shape = {4}, .data = zeros}};
  ASSERT_TRUE(arrays::WriteSafetensors(dir.Path("old.safetensors"), tensors, {}).ok());
  ModulePtr module = SmallEncoder("", 1);
  absl::StatusOr<LoadReport> report = LoadSafetensors(*module, dir.Path("old.safetensors"));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->loaded, 2);
  EXPECT_THAT(report->unexpected_keys, IsEmpty());
  EXPECT_TRUE(at::equal(State(*module).at("embeddings.LayerNorm.weight"), at::ones({4})));
  EXPECT_TRUE(at::equal(State(*module).at("embeddings.LayerNorm.bias"), at::zeros({4})));
}

TEST(Checkpoint, ReportsMissingAndUnexpectedKeysSorted) {
  ScratchDir dir;
  const std::vector<std::byte> four(16);
  const arrays::TensorToWrite tensors[] = {
      {.name = "zeta.extra", .shape = {4}, .data = four},
      {.name = "embeddings.LayerNorm.bias", .shape = {4}, .data = four},
      {.name = "alpha.extra", .dtype = arrays::TensorDType::kU16, .shape = {8}, .data = four}};
  ASSERT_TRUE(arrays::WriteSafetensors(dir.Path("part.safetensors"), tensors, {}).ok());
  ModulePtr module = SmallEncoder("", 1);
  absl::StatusOr<LoadReport> report = LoadSafetensors(*module, dir.Path("part.safetensors"));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->loaded, 1);
  EXPECT_THAT(report->unexpected_keys, ElementsAre("alpha.extra", "zeta.extra"));
  EXPECT_THAT(
      report->missing_keys,
      ElementsAre("embeddings.LayerNorm.weight", "encoder.layer.0.attention.self.query.bias",
                  "encoder.layer.0.attention.self.query.weight",
                  "encoder.layer.0.output.dense.bias", "encoder.layer.0.output.dense.weight"));
  EXPECT_THAT(report->ToString(),
              AllOf(HasSubstr("loaded 1 tensors\n"),
                    HasSubstr("missing keys (5): embeddings.LayerNorm.weight, "),
                    HasSubstr("unexpected keys (2): alpha.extra, zeta.extra\n")));
}

TEST(Checkpoint, MismatchedShapeIsInvalidArgumentAndLeavesTheModuleUntouched) {
  ScratchDir dir;
  ASSERT_TRUE(SaveSafetensors(*SmallEncoder("", 1), dir.Path("m.safetensors")).ok());
  auto module = std::make_shared<torch::nn::Module>();
  RegisterAt(*module, "embeddings.LayerNorm", LayerNorm(4));
  RegisterAt(*module, "encoder.layer.0.output.dense", Linear(4, 6));
  const at::Tensor before = State(*module).at("embeddings.LayerNorm.weight").clone();
  const absl::Status status = LoadSafetensors(*module, dir.Path("m.safetensors")).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              AllOf(HasSubstr("m.safetensors: tensor 'encoder.layer.0.output.dense.bias'"),
                    HasSubstr("shape [3] in the checkpoint"), HasSubstr("has shape [6]")));
  EXPECT_TRUE(at::equal(State(*module).at("embeddings.LayerNorm.weight"), before));
}

TEST(Checkpoint, HalfBFloat16AndDoubleFilesConvertToTheParameterDtype) {
  ScratchDir dir;
  // 1, -2, 0.5, 65504 (the largest half) in binary16; 1, -2, 0.5, 3.0e38-ish in bfloat16.
  const std::vector<std::byte> half = Bytes({0x3C00, 0xC000, 0x3800, 0x7BFF});
  const std::vector<std::byte> brain = Bytes({0x3F80, 0xC000, 0x3F00, 0x7F61});
  std::vector<std::byte> wide(8 * 4);
  const double values[] = {0.1, -1e-300, 3.0, 1e10};
  std::memcpy(wide.data(), values, sizeof(values));
  const arrays::TensorToWrite tensors[] = {{.name = "embeddings.LayerNorm.weight",
                                            .dtype = arrays::TensorDType::kF16,
                                            .shape = {4},
                                            .data = half},
                                           {.name = "embeddings.LayerNorm.bias",
                                            .dtype = arrays::TensorDType::kBF16,
                                            .shape = {4},
                                            .data = brain},
                                           {.name = "encoder.layer.0.attention.self.query.bias",
                                            .dtype = arrays::TensorDType::kF64,
                                            .shape = {4},
                                            .data = wide}};
  ASSERT_TRUE(arrays::WriteSafetensors(dir.Path("mixed.safetensors"), tensors, {}).ok());
  ModulePtr module = SmallEncoder("", 1);
  absl::StatusOr<LoadReport> report = LoadSafetensors(*module, dir.Path("mixed.safetensors"));
  ASSERT_TRUE(report.ok()) << report.status();
  const auto state = State(*module);
  EXPECT_TRUE(at::equal(state.at("embeddings.LayerNorm.weight"),
                        at::tensor({1.0f, -2.0f, 0.5f, 65504.0f})));
  EXPECT_TRUE(at::equal(state.at("embeddings.LayerNorm.bias"),
                        at::tensor({1.0f, -2.0f, 0.5f, std::bit_cast<float>(0x7F610000u)})));
  EXPECT_TRUE(at::equal(state.at("encoder.layer.0.attention.self.query.bias"),
                        at::tensor({0.1, -1e-300, 3.0, 1e10}).to(at::kFloat)));
}

TEST(Checkpoint, PytorchBinOfAPlainDictLoadsAndOfAnOrderedDictIsUnimplemented) {
  ScratchDir dir;
  c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
  dict.insert("embeddings.LayerNorm.weight", at::full({4}, 3.0f));
  const std::vector<char> bytes = torch::jit::pickle_save(dict);
  std::ofstream(dir.Path("pytorch_model.bin"), std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ModulePtr module = SmallEncoder("", 1);
  absl::StatusOr<LoadReport> report = LoadPytorchBin(*module, dir.Path("pytorch_model.bin"));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->loaded, 1);
  EXPECT_TRUE(at::equal(State(*module).at("embeddings.LayerNorm.weight"), at::full({4}, 3.0f)));

  // Hugging Face's files hold an OrderedDict, which LibTorch 1.13 cannot unpickle: the pickle of
  // an empty one, in torch.save's zip container.
  const std::string ordered_dict =
      "\x80\x02"
      "ccollections\nOrderedDict\nq\x00)Rq\x01.";
  {
    caffe2::serialize::PyTorchStreamWriter writer(dir.Path("ordered.bin"));
    writer.writeRecord("data.pkl", ordered_dict.data(), ordered_dict.size());
    writer.writeEndOfFile();
  }
  const absl::Status ordered = LoadPytorchBin(*module, dir.Path("ordered.bin")).status();
  EXPECT_EQ(ordered.code(), absl::StatusCode::kUnimplemented) << ordered;
  EXPECT_THAT(std::string(ordered.message()), HasSubstr("convert the folder to model.safetensors"));

  std::ofstream(dir.Path("garbage.bin"), std::ios::binary) << "not a pickle";
  EXPECT_EQ(LoadPytorchBin(*module, dir.Path("garbage.bin")).status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(LoadSafetensors(*module, dir.Path("absent.safetensors")).status().code(),
            absl::StatusCode::kNotFound);
}

// A module with Hugging Face BertModel's names for the tiny BERT of shared/data (hidden 32,
// 1 layer, intermediate 128, vocab 256, max_pos 128, type_vocab 2), under `prefix`.
ModulePtr TinyBert(const std::string& prefix) {
  auto root = std::make_shared<torch::nn::Module>();
  const auto add = [&](const std::string& name, ModulePtr leaf) {
    RegisterAt(*root, prefix + name, std::move(leaf));
  };
  add("embeddings.word_embeddings", torch::nn::Embedding(256, 32).ptr());
  add("embeddings.position_embeddings", torch::nn::Embedding(128, 32).ptr());
  add("embeddings.token_type_embeddings", torch::nn::Embedding(2, 32).ptr());
  add("embeddings.LayerNorm", LayerNorm(32));
  for (const char* name : {"attention.self.query", "attention.self.key", "attention.self.value",
                           "attention.output.dense"}) {
    add(std::string("encoder.layer.0.") + name, Linear(32, 32));
  }
  add("encoder.layer.0.attention.output.LayerNorm", LayerNorm(32));
  add("encoder.layer.0.intermediate.dense", Linear(32, 128));
  add("encoder.layer.0.output.dense", Linear(128, 32));
  add("encoder.layer.0.output.LayerNorm", LayerNorm(32));
  return root;
}

TEST(Checkpoint, TinyBertLoadsIntoHuggingFaceNamesWithAndWithoutPrefix) {
  const std::string path =
      std::string(ISTAR_SHARED_DATA_DIR) + "/tiny-bert-jammi/model.safetensors";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is missing";
  for (const std::string prefix : {"", "bert."}) {
    ModulePtr module = TinyBert(prefix);
    absl::StatusOr<LoadReport> report =
        LoadSafetensors(*module, path, {.base_model_prefix = "bert"});
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->loaded, 21) << prefix;
    EXPECT_THAT(report->missing_keys, IsEmpty()) << prefix;
    EXPECT_THAT(report->unexpected_keys, IsEmpty()) << prefix;
    const at::Tensor words = State(*module).at(prefix + "embeddings.word_embeddings.weight");
    EXPECT_EQ(words.sizes(), at::IntArrayRef({256, 32}));
    EXPECT_GT(words.abs().sum().item<float>(), 0.0f);
  }
}

}  // namespace
}  // namespace istar::models
