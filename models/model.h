// File: models/model.h
// -----------------------------------------------------------------------------
// BERT, ALBERT and DistilBERT with a task head, in LibTorch, named parameter for parameter as
// Hugging Face's transformers names them, so that a checkpoint of either loads into the other
// 1:1 (docs/models.md lists every name).
//
// A TaskModel is an encoder registered under its base-model prefix ("bert", "albert",
// "distilbert") plus the head's layers (classifier, pre_classifier, qa_outputs), exactly as in
// BertForSequenceClassification and friends. Its forward pass returns the head's logits and the
// hidden states of every layer: hidden_states[0] is the embedding output (for ALBERT, after
// embedding_hidden_mapping_in, so every entry is [B, T, hidden_size]) and hidden_states[l] the
// output of layer l, l = 1..num_hidden_layers, as transformers' output_hidden_states=True.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(LoadedModel loaded,
//                          LoadPretrained("checkpoints/bert-base-uncased",
//                                         Head::kSequenceClassification, /*num_labels=*/2));
//   std::cerr << loaded.report.ToString();     // "missing: classifier.weight, ..."
//   loaded.model->module().eval();
//   ModelOutput out = loaded.model->Forward({.input_ids = ids, .attention_mask = mask});
//   // out.logits: [B, 2]; out.hidden_states: 13 tensors [B, T, 768].
//
// Errors: the factories return Status values. Forward checks its inputs with TORCH_CHECK and
// may throw c10::Error (a tensor precondition, as every LibTorch op does); the caller's one
// LibTorch boundary catches it (docs/architecture.md, "Conventions").
//
// Thread safety: a TaskModel is a torch::nn::Module; concurrent forwards in eval mode are safe,
// anything that changes parameters or the mode is not.
#ifndef ISTAR_MODELS_MODEL_H_
#define ISTAR_MODELS_MODEL_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "models/checkpoint.h"
#include "models/config.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace istar::tokenizers {
class Tokenizer;
}  // namespace istar::tokenizers

namespace istar::models {

namespace internal {
class TaskModule;
}  // namespace internal

enum class Head {
  kSequenceClassification,  // logits [B, num_labels] (BERT/ALBERT from the pooler, DistilBERT
                            // from the first token through pre_classifier and ReLU)
  kQuestionAnswering,       // start_logits, end_logits [B, T] from qa_outputs (no pooler)
  kNone,                    // the encoder alone, with its pooler (BertModel, AlbertModel)
};

// One batch of token ids. All tensors are int64 [B, T] on the model's device.
struct Batch {
  at::Tensor input_ids;
  at::Tensor attention_mask;  // 1 for tokens, 0 for padding; undefined: all ones
  at::Tensor token_type_ids;  // undefined: all zeros; ignored by DistilBERT
};

struct ModelOutput {
  at::Tensor logits;                      // kSequenceClassification: [B, num_labels]
  at::Tensor start_logits;                // kQuestionAnswering: [B, T]
  at::Tensor end_logits;                  // kQuestionAnswering: [B, T]
  std::vector<at::Tensor> hidden_states;  // num_hidden_layers + 1 tensors [B, T, hidden_size]
  at::Tensor pooled;                      // BERT/ALBERT with a pooler: [B, hidden_size]
};

// An encoder with a head. Created by CreateModel or LoadPretrained.
class TaskModel {
 public:
  explicit TaskModel(std::shared_ptr<internal::TaskModule> module);
  ~TaskModel();
  TaskModel(const TaskModel&) = delete;
  TaskModel& operator=(const TaskModel&) = delete;

  // Runs the model in its current mode (dropout is active only in train mode). Padded positions
  // get hidden states too (padded keys are masked; padded queries are computed), as in
  // transformers. Throws c10::Error if the batch's tensors are malformed.
  ModelOutput Forward(const Batch& batch);

  const ModelConfig& config() const;
  Head head() const;
  int64_t num_labels() const;
  // "bert", "albert" or "distilbert": the name the encoder is registered under.
  std::string base_model_prefix() const;
  // transformers' class name: "BertForSequenceClassification", "DistilBertModel", ...
  std::string class_name() const;

  // The module itself, for train()/eval(), to(), parameters(), and checkpoint I/O.
  torch::nn::Module& module();
  const torch::nn::Module& module() const;
  // The same module, shared (for optimizers or code that keeps it beyond this object).
  std::shared_ptr<torch::nn::Module> shared_module() const;

 private:
  std::shared_ptr<internal::TaskModule> module_;
};

// A new model with transformers' random initialisation, drawn from a generator seeded with
// `seed` (the same seed gives the same weights): Linear and Embedding weights ~ N(0,
// config.initializer_range^2), the padding row of the word embeddings 0, biases 0, LayerNorm
// weights 1 and biases 0. Parameters are float32 on the CPU; move them with module().to(...).
// num_labels <= 0 means config.num_labels (2 for kQuestionAnswering). Returns InvalidArgument if
// ValidateConfig fails, or for a question-answering head with num_labels other than 2.
[[nodiscard]] absl::StatusOr<std::unique_ptr<TaskModel>> CreateModel(const ModelConfig& config,
                                                                     Head head, int64_t num_labels,
                                                                     uint64_t seed);

// A model loaded from a Hugging Face checkpoint folder.
struct LoadedModel {
  std::unique_ptr<TaskModel> model;
  LoadReport report;  // keys missing from the checkpoint, and keys of it the model has no use for
  std::unique_ptr<tokenizers::Tokenizer> tokenizer;  // null if the folder holds none
  std::string weights_path;                          // the file the weights came from

  LoadedModel();
  LoadedModel(LoadedModel&&) noexcept;
  LoadedModel& operator=(LoadedModel&&) noexcept;
  ~LoadedModel();
};

struct LoadPretrainedOptions {
  int64_t num_labels = 0;      // <= 0: config.json's num_labels
  bool load_tokenizer = true;  // false: leave LoadedModel::tokenizer null
  uint64_t seed = 0;           // initialises what the checkpoint lacks (a new head)
};

// Reads dir/config.json, creates the model (CreateModel) and copies the weights of
// dir/model.safetensors (else dir/pytorch_model.bin) into it by name (models/checkpoint.h: an
// encoder-only checkpoint fills a task model's encoder and reports the head as missing), then
// loads the folder's tokenizer (tokenizers::LoadTokenizerFromFolder) if it has one. Returns
// NotFound (no config.json, or no weights file), the errors of ReadModelConfig, of the
// checkpoint reader and of the tokenizer loader, Internal if LibTorch fails.
[[nodiscard]] absl::StatusOr<LoadedModel> LoadPretrained(const std::string& dir, Head head,
                                                         const LoadPretrainedOptions& options = {});

// Writes dir/config.json (ModelConfigToJson, with "architectures": [class_name()] and the
// model's num_labels) and dir/model.safetensors (every parameter, in its current dtype, with
// the model's names), creating dir if needed: a folder transformers' from_pretrained reads.
// Returns Internal if a file cannot be written.
[[nodiscard]] absl::Status SavePretrained(const TaskModel& model, const std::string& dir);

}  // namespace istar::models

#endif  // ISTAR_MODELS_MODEL_H_
