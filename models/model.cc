#include "models/model.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "models/internal/task_module.h"
#include "torch_boundary/torch_boundary.h"

namespace istar::models {
namespace internal {
namespace {

using torch::nn::Linear;

std::shared_ptr<Encoder> MakeEncoder(const ModelConfig& config, Head head) {
  // transformers builds the question-answering models with add_pooling_layer=False.
  const bool with_pooler = head != Head::kQuestionAnswering;
  switch (config.architecture) {
    case Architecture::kBert:
      return MakeBertEncoder(config, with_pooler);
    case Architecture::kAlbert:
      return MakeAlbertEncoder(config, with_pooler);
    case Architecture::kDistilBert:
      return MakeDistilBertEncoder(config);
  }
  return nullptr;
}

// transformers' _init_weights: N(0, range^2) weights, zero biases and padding row, LayerNorm 1/0.
void InitializeWeights(torch::nn::Module& module, double range, at::Generator generator) {
  at::NoGradGuard no_grad;
  for (const auto& child : module.modules()) {
    if (auto* linear = dynamic_cast<torch::nn::LinearImpl*>(child.get())) {
      linear->weight.normal_(0.0, range, generator);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* embedding = dynamic_cast<torch::nn::EmbeddingImpl*>(child.get())) {
      embedding->weight.normal_(0.0, range, generator);
      if (auto pad = embedding->options.padding_idx()) embedding->weight[*pad].zero_();
    } else if (auto* norm = dynamic_cast<torch::nn::LayerNormImpl*>(child.get())) {
      norm->weight.fill_(1.0);
      norm->bias.zero_();
    }
  }
}

}  // namespace

TaskModule::TaskModule(const ModelConfig& config, Head head, int64_t num_labels)
    : config_(config), head_(head), num_labels_(num_labels) {
  encoder_ = register_module(ArchitectureName(config.architecture), MakeEncoder(config, head));
  const int64_t hidden = config.hidden_size;
  if (head == Head::kQuestionAnswering) {
    qa_outputs_ = register_module("qa_outputs", Linear(hidden, 2));
  } else if (head == Head::kSequenceClassification) {
    if (config.architecture == Architecture::kDistilBert) {
      pre_classifier_ = register_module("pre_classifier", Linear(hidden, hidden));
    }
    classifier_ = register_module("classifier", Linear(hidden, num_labels));
  }
}

at::Tensor TaskModule::Classify(const EncoderOutput& encoded) {
  const double p = config_.classifier_dropout;
  if (config_.architecture != Architecture::kDistilBert) {
    return classifier_(at::dropout(encoded.pooled, p, is_training()));
  }
  const at::Tensor first = encoded.hidden_states.back().select(1, 0);
  return classifier_(at::dropout(at::relu(pre_classifier_(first)), p, is_training()));
}

ModelOutput TaskModule::Forward(const Batch& batch) {
  TORCH_CHECK(batch.input_ids.dim() == 2, "input_ids must be [batch, tokens], got ",
              batch.input_ids.sizes());
  TORCH_CHECK(batch.input_ids.size(1) <= config_.max_position_embeddings, "sequence of ",
              batch.input_ids.size(1), " tokens exceeds max_position_embeddings ",
              config_.max_position_embeddings);
  const at::Tensor mask =
      batch.attention_mask.defined() ? batch.attention_mask : at::ones_like(batch.input_ids);
  EncoderOutput encoded = encoder_->Forward(batch.input_ids, mask, batch.token_type_ids);
  ModelOutput out;
  if (head_ == Head::kSequenceClassification) out.logits = Classify(encoded);
  if (head_ == Head::kQuestionAnswering) {
    at::Tensor last = encoded.hidden_states.back();
    // Only DistilBERT applies dropout before qa_outputs.
    if (config_.architecture == Architecture::kDistilBert) {
      last = at::dropout(last, config_.qa_dropout, is_training());
    }
    const std::vector<at::Tensor> logits = qa_outputs_(last).split(1, -1);
    out.start_logits = logits[0].squeeze(-1);
    out.end_logits = logits[1].squeeze(-1);
  }
  out.hidden_states = std::move(encoded.hidden_states);
  out.pooled = encoded.pooled;
  return out;
}

}  // namespace internal

TaskModel::TaskModel(std::shared_ptr<internal::TaskModule> module) : module_(std::move(module)) {}
TaskModel::~TaskModel() = default;

ModelOutput TaskModel::Forward(const Batch& batch) { return module_->Forward(batch); }
const ModelConfig& TaskModel::config() const { return module_->config(); }
Head TaskModel::head() const { return module_->head(); }
int64_t TaskModel::num_labels() const { return module_->num_labels(); }
std::string TaskModel::base_model_prefix() const {
  return ArchitectureName(module_->config().architecture);
}
torch::nn::Module& TaskModel::module() { return *module_; }
const torch::nn::Module& TaskModel::module() const { return *module_; }
std::shared_ptr<torch::nn::Module> TaskModel::shared_module() const { return module_; }

std::string TaskModel::class_name() const {
  static constexpr const char* kPrefixes[] = {"Bert", "Albert", "DistilBert"};
  const char* prefix = kPrefixes[static_cast<int>(config().architecture)];
  switch (head()) {
    case Head::kSequenceClassification:
      return absl::StrCat(prefix, "ForSequenceClassification");
    case Head::kQuestionAnswering:
      return absl::StrCat(prefix, "ForQuestionAnswering");
    case Head::kNone:
      break;
  }
  return absl::StrCat(prefix, "Model");
}

absl::StatusOr<std::unique_ptr<TaskModel>> CreateModel(const ModelConfig& config, Head head,
                                                       int64_t num_labels, uint64_t seed) {
  ISTAR_RETURN_IF_ERROR(ValidateConfig(config));
  if (num_labels <= 0) num_labels = head == Head::kQuestionAnswering ? 2 : config.num_labels;
  if (head == Head::kQuestionAnswering && num_labels != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_labels: a question-answering head has 2 outputs (start, end), got ", num_labels));
  }
  return CatchTorch("creating the model", [&]() -> absl::StatusOr<std::unique_ptr<TaskModel>> {
    auto module = std::make_shared<internal::TaskModule>(config, head, num_labels);
    internal::InitializeWeights(*module, config.initializer_range,
                                at::make_generator<at::CPUGeneratorImpl>(seed));
    return std::make_unique<TaskModel>(std::move(module));
  });
}

}  // namespace istar::models
