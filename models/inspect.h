// File: models/inspect.h
// -----------------------------------------------------------------------------
// What a Hugging Face checkpoint folder holds, as istar reads it: the architecture and its
// configuration, parameter counts, what loading the weights reported, and the tokenizer. This
// header is LibTorch-free, for the command line (`istar model inspect DIR`); the work is done
// in LibTorch behind it.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(ModelSummary summary, InspectModel("checkpoints/bert-base-uncased"));
//   std::cout << summary.class_name << ": " << summary.total_parameters << " parameters\n"
//             << summary.report.ToString();
//
// Thread safety: InspectModel is thread-safe.
#ifndef ISTAR_MODELS_INSPECT_H_
#define ISTAR_MODELS_INSPECT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "models/checkpoint.h"
#include "models/config.h"

namespace istar::models {

struct ModelSummary {
  ModelConfig config;
  // The transformers class the folder was loaded as: config.json's first "architectures" entry
  // when it names a sequence-classification or question-answering model, else the bare encoder
  // ("BertModel", "AlbertModel", "DistilBertModel").
  std::string class_name;
  std::string weights_path;        // model.safetensors or pytorch_model.bin
  int64_t total_parameters = 0;    // scalars in every parameter
  int64_t encoder_parameters = 0;  // under the base-model prefix ("bert.", ...)
  int64_t head_parameters = 0;     // the rest: classifier, pre_classifier, qa_outputs
  LoadReport report;               // missing / unexpected keys, in the model's names
  // "tokenizer.json", "vocab.txt" or "spiece.model": the file the tokenizer was read from, as
  // tokenizers::LoadTokenizerFromFolder chooses it; empty if the folder has none.
  std::string tokenizer_file;
  int64_t tokenizer_vocab_size = 0;
};

// Loads the folder as LoadPretrained (models/model.h) does, with the head named by config.json.
// Returns the errors of LoadPretrained (NotFound for a folder without config.json or weights,
// InvalidArgument for a malformed or mismatched file), the summary otherwise.
[[nodiscard]] absl::StatusOr<ModelSummary> InspectModel(const std::string& dir);

}  // namespace istar::models

#endif  // ISTAR_MODELS_INSPECT_H_
