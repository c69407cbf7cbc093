// File: models/config.h
// -----------------------------------------------------------------------------
// The configuration of a BERT, ALBERT or DistilBERT model, read from (and written back to) a
// Hugging Face config.json. This header is LibTorch-free.
//
// The three architectures spell the same quantities differently (BERT's hidden_size is
// DistilBERT's dim); ModelConfig holds one field per quantity, and each field's comment names the
// config.json key of every architecture that has it. A key absent from config.json takes Hugging
// Face's default for that architecture, as transformers' PretrainedConfig does; keys istar does
// not use are ignored. The mapping is tabulated in docs/models.md.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(ModelConfig config, ReadModelConfig(dir + "/config.json"));
//   std::cout << ArchitectureName(config.architecture) << ", " << config.num_hidden_layers
//             << " layers of width " << config.hidden_size << "\n";
//
// Thread safety: the functions are thread-safe.
#ifndef ISTAR_MODELS_CONFIG_H_
#define ISTAR_MODELS_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace istar::models {

enum class Architecture { kBert, kAlbert, kDistilBert };

// "bert", "albert", "distilbert": the config.json model_type, also the base-model prefix under
// which task models register the encoder (docs/models.md).
const char* ArchitectureName(Architecture architecture);

struct ModelConfig {
  Architecture architecture = Architecture::kBert;
  // config.json "architectures", e.g. {"BertForSequenceClassification"}; may be empty.
  std::vector<std::string> architectures;

  int64_t vocab_size = 30522;        // all: vocab_size
  int64_t hidden_size = 768;         // BERT, ALBERT: hidden_size; DistilBERT: dim
  int64_t num_hidden_layers = 12;    // BERT, ALBERT: num_hidden_layers; DistilBERT: n_layers
  int64_t num_attention_heads = 12;  // BERT, ALBERT: num_attention_heads; DistilBERT: n_heads
  int64_t intermediate_size = 3072;  // BERT, ALBERT: intermediate_size; DistilBERT: hidden_dim
  std::string hidden_act = "gelu";   // BERT, ALBERT: hidden_act; DistilBERT: activation
  double hidden_dropout_prob = 0.1;  // BERT, ALBERT: hidden_dropout_prob; DistilBERT: dropout
  double attention_probs_dropout_prob = 0.1;  // BERT, ALBERT: attention_probs_dropout_prob;
                                              // DistilBERT: attention_dropout
  int64_t max_position_embeddings = 512;      // all
  int64_t type_vocab_size = 2;                // BERT, ALBERT; 0 for DistilBERT (no token types)
  double layer_norm_eps = 1e-12;              // BERT, ALBERT; DistilBERT fixes it at 1e-12
  int64_t pad_token_id = 0;                   // all: pad_token_id
  double initializer_range = 0.02;            // all: std of the normal initialisation

  // ALBERT only (for the others embedding_size == hidden_size and one group of one layer).
  int64_t embedding_size = 768;   // ALBERT: embedding_size
  int64_t num_hidden_groups = 1;  // ALBERT: groups of shared layer weights
  int64_t inner_group_num = 1;    // ALBERT: layers applied per group step

  // Head dropouts. BERT: classifier_dropout (null: hidden_dropout_prob); ALBERT:
  // classifier_dropout_prob; DistilBERT: seq_classif_dropout (classification) and qa_dropout.
  double classifier_dropout = 0.1;
  double qa_dropout = 0.1;  // DistilBERT only

  // Labels of a classification head: config.json num_labels, else the size of id2label; 2 if
  // neither is given, as in transformers.
  int64_t num_labels = 2;

  bool operator==(const ModelConfig&) const = default;
};

// Hugging Face's defaults for `architecture` (bert-base-uncased, albert-base-v2 with its
// documented defaults, distilbert-base-uncased).
ModelConfig DefaultConfig(Architecture architecture);

// The tiny BERT of the demos and tests (`istar demo-data`, tests/trainer/): hidden size 32,
// 2 layers of 2 heads, intermediate size 64, over a vocabulary of `vocab_size` tokens with
// `max_positions` positions.
ModelConfig TinyBertConfig(int64_t vocab_size, int64_t max_positions = 128);

// Reads a config.json. The architecture is its model_type ("bert", "albert", "distilbert"), or,
// if model_type is absent, inferred from the first entry of "architectures" by prefix
// ("AlbertFor..." is ALBERT). Returns:
//   NotFound         if the file cannot be opened;
//   InvalidArgument  if it is not a JSON object, the architecture is unknown, a field has the
//                    wrong type, or the configuration is invalid (see ValidateConfig); the
//                    message is "<path>: <field>: <reason>";
//   Unimplemented    for features istar does not implement (DistilBERT sinusoidal_pos_embds
//                    true, a position_embedding_type other than "absolute"), naming the field;
//   the configuration otherwise.
[[nodiscard]] absl::StatusOr<ModelConfig> ReadModelConfig(const std::string& path);

// As ReadModelConfig, from the text of a config.json; `source` names it in messages.
[[nodiscard]] absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text,
                                                           const std::string& source);

// Checks that sizes are positive, hidden_size is a multiple of num_attention_heads, dropouts lie
// in [0, 1), the activation is "gelu", "gelu_new" or "relu", pad_token_id < vocab_size, and, for
// ALBERT, that num_hidden_groups divides num_hidden_layers. Returns InvalidArgument with message
// "<field>: <reason>" (using the architecture's config.json name) for the first violation.
[[nodiscard]] absl::Status ValidateConfig(const ModelConfig& config);

// The config.json text for `config`, with the architecture's own key names, model_type,
// architectures, and id2label/label2id for num_labels, so that transformers' AutoConfig reads it.
// ParseModelConfig(ModelConfigToJson(c), ...) == c for every valid c.
std::string ModelConfigToJson(const ModelConfig& config);

}  // namespace istar::models

#endif  // ISTAR_MODELS_CONFIG_H_
