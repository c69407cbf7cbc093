// The module behind TaskModel: an encoder registered under its base-model prefix plus the head's
// layers, named as in transformers' *ForSequenceClassification / *ForQuestionAnswering.
#ifndef ISTAR_MODELS_INTERNAL_TASK_MODULE_H_
#define ISTAR_MODELS_INTERNAL_TASK_MODULE_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <cstdint>
#include <memory>
#include <string>

#include "models/config.h"
#include "models/internal/encoders.h"
#include "models/model.h"

namespace istar::models::internal {

class TaskModule : public torch::nn::Module {
 public:
  // `config` must be valid (ValidateConfig); for kQuestionAnswering num_labels must be 2.
  TaskModule(const ModelConfig& config, Head head, int64_t num_labels);

  ModelOutput Forward(const Batch& batch);

  const ModelConfig& config() const { return config_; }
  Head head() const { return head_; }
  int64_t num_labels() const { return num_labels_; }

 private:
  at::Tensor Classify(const EncoderOutput& encoded);

  ModelConfig config_;
  Head head_;
  int64_t num_labels_;
  std::shared_ptr<Encoder> encoder_;
  torch::nn::Linear pre_classifier_{nullptr};  // DistilBERT classification only
  torch::nn::Linear classifier_{nullptr};
  torch::nn::Linear qa_outputs_{nullptr};
};

}  // namespace istar::models::internal

#endif  // ISTAR_MODELS_INTERNAL_TASK_MODULE_H_
