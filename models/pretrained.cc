// Hugging Face checkpoint folders: LoadPretrained, SavePretrained and InspectModel.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "models/checkpoint.h"
#include "models/inspect.h"
#include "models/model.h"
#include "tokenizers/tokenizer.h"
#include "torch_boundary/torch_boundary.h"

namespace istar::models {
namespace {

namespace fs = std::filesystem;

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Copies dir's weights into `model`: model.safetensors, else pytorch_model.bin (as
// from_pretrained prefers them).
absl::StatusOr<LoadReport> LoadWeights(TaskModel& model, const std::string& dir,
                                       std::string& weights_path) {
  const LoadOptions options{.base_model_prefix = model.base_model_prefix()};
  weights_path = (fs::path(dir) / "model.safetensors").string();
  if (fs::exists(weights_path)) return LoadSafetensors(model.module(), weights_path, options);
  weights_path = (fs::path(dir) / "pytorch_model.bin").string();
  if (fs::exists(weights_path)) return LoadPytorchBin(model.module(), weights_path, options);
  return absl::NotFoundError(
      absl::StrCat(dir, ": no model.safetensors or pytorch_model.bin in the folder"));
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat(path, ": cannot write the file"));
  return absl::OkStatus();
}

// The head of the class config.json names in "architectures"; kNone for anything else.
Head HeadOf(const ModelConfig& config) {
  if (config.architectures.empty()) return Head::kNone;
  if (EndsWith(config.architectures[0], "ForSequenceClassification")) {
    return Head::kSequenceClassification;
  }
  if (EndsWith(config.architectures[0], "ForQuestionAnswering")) return Head::kQuestionAnswering;
  return Head::kNone;
}

// The file LoadTokenizerFromFolder reads, in its order of preference.
std::string TokenizerFile(const std::string& dir) {
  for (const char* name : {"tokenizer.json", "vocab.txt", "spiece.model"}) {
    if (fs::exists(fs::path(dir) / name)) return name;
  }
  return "";
}

absl::StatusOr<LoadedModel> LoadPretrainedOrThrow(const std::string& dir, Head head,
                                                  const LoadPretrainedOptions& options) {
  ISTAR_ASSIGN_OR_RETURN(const ModelConfig config,
                         ReadModelConfig((fs::path(dir) / "config.json").string()));
  LoadedModel loaded;
  ISTAR_ASSIGN_OR_RETURN(loaded.model, CreateModel(config, head, options.num_labels, options.seed));
  ISTAR_ASSIGN_OR_RETURN(loaded.report, LoadWeights(*loaded.model, dir, loaded.weights_path));
  if (!options.load_tokenizer) return loaded;
  absl::StatusOr<std::unique_ptr<tokenizers::Tokenizer>> tokenizer =
      tokenizers::LoadTokenizerFromFolder(dir);
  if (tokenizer.ok()) {
    loaded.tokenizer = *std::move(tokenizer);
  } else if (!absl::IsNotFound(tokenizer.status()) || !TokenizerFile(dir).empty()) {
    return tokenizer.status();  // a tokenizer file that does not load is an error
  }
  return loaded;
}

}  // namespace

LoadedModel::LoadedModel() = default;
LoadedModel::LoadedModel(LoadedModel&&) noexcept = default;
LoadedModel& LoadedModel::operator=(LoadedModel&&) noexcept = default;
LoadedModel::~LoadedModel() = default;

absl::StatusOr<LoadedModel> LoadPretrained(const std::string& dir, Head head,
                                           const LoadPretrainedOptions& options) {
  return CatchTorch(dir, [&] { return LoadPretrainedOrThrow(dir, head, options); });
}

absl::Status SavePretrained(const TaskModel& model, const std::string& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat(dir, ": ", error.message()));
  ModelConfig config = model.config();
  config.architectures = {model.class_name()};
  config.num_labels = model.num_labels();
  ISTAR_RETURN_IF_ERROR(
      WriteText((fs::path(dir) / "config.json").string(), ModelConfigToJson(config)));
  return CatchTorch(dir, [&] {
    return SaveSafetensors(model.module(), (fs::path(dir) / "model.safetensors").string());
  });
}

absl::StatusOr<ModelSummary> InspectModel(const std::string& dir) {
  ISTAR_ASSIGN_OR_RETURN(const ModelConfig config,
                         ReadModelConfig((fs::path(dir) / "config.json").string()));
  ISTAR_ASSIGN_OR_RETURN(LoadedModel loaded, LoadPretrained(dir, HeadOf(config)));
  ModelSummary summary;
  summary.config = loaded.model->config();
  summary.class_name = loaded.model->class_name();
  summary.weights_path = loaded.weights_path;
  summary.report = loaded.report;
  const std::string prefix = loaded.model->base_model_prefix() + ".";
  for (const auto& item : loaded.model->module().named_parameters()) {
    const int64_t n = item.value().numel();
    summary.total_parameters += n;
    (item.key().rfind(prefix, 0) == 0 ? summary.encoder_parameters : summary.head_parameters) += n;
  }
  if (loaded.tokenizer != nullptr) {
    summary.tokenizer_file = TokenizerFile(dir);
    summary.tokenizer_vocab_size = loaded.tokenizer->vocab_size();
  }
  return summary;
}

}  // namespace istar::models
