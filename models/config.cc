#include "models/config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <variant>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace istar::models {
namespace {

using Json = nlohmann::json;
using Member =
    std::variant<int64_t ModelConfig::*, double ModelConfig::*, std::string ModelConfig::*>;

// One quantity and its config.json key per architecture (indexed by Architecture; nullptr where
// the architecture has no such key).
struct Field {
  const char* keys[3];
  Member member;
};

const Field kFields[] = {
    {{"vocab_size", "vocab_size", "vocab_size"}, &ModelConfig::vocab_size},
    {{"hidden_size", "hidden_size", "dim"}, &ModelConfig::hidden_size},
    {{"num_hidden_layers", "num_hidden_layers", "n_layers"}, &ModelConfig::num_hidden_layers},
    {{"num_attention_heads", "num_attention_heads", "n_heads"}, &ModelConfig::num_attention_heads},
    {{"intermediate_size", "intermediate_size", "hidden_dim"}, &ModelConfig::intermediate_size},
    {{"hidden_act", "hidden_act", "activation"}, &ModelConfig::hidden_act},
    {{"hidden_dropout_prob", "hidden_dropout_prob", "dropout"}, &ModelConfig::hidden_dropout_prob},
    {{"attention_probs_dropout_prob", "attention_probs_dropout_prob", "attention_dropout"},
     &ModelConfig::attention_probs_dropout_prob},
    {{"max_position_embeddings", "max_position_embeddings", "max_position_embeddings"},
     &ModelConfig::max_position_embeddings},
    {{"type_vocab_size", "type_vocab_size", nullptr}, &ModelConfig::type_vocab_size},
    {{"layer_norm_eps", "layer_norm_eps", nullptr}, &ModelConfig::layer_norm_eps},
    {{"pad_token_id", "pad_token_id", "pad_token_id"}, &ModelConfig::pad_token_id},
    {{"initializer_range", "initializer_range", "initializer_range"},
     &ModelConfig::initializer_range},
    {{nullptr, "embedding_size", nullptr}, &ModelConfig::embedding_size},
    {{nullptr, "num_hidden_groups", nullptr}, &ModelConfig::num_hidden_groups},
    {{nullptr, "inner_group_num", nullptr}, &ModelConfig::inner_group_num},
    {{"classifier_dropout", "classifier_dropout_prob", "seq_classif_dropout"},
     &ModelConfig::classifier_dropout},
    {{nullptr, nullptr, "qa_dropout"}, &ModelConfig::qa_dropout},
};

const char* KeyOf(Architecture architecture, Member member) {
  for (const Field& field : kFields) {
    if (field.member == member) return field.keys[static_cast<int>(architecture)];
  }
  return "?";
}

// Reads json[key] into config.*member, checking its JSON type.
absl::Status ReadField(const Json& json, const char* key, Member member, ModelConfig& config) {
  const Json& value = json.at(key);
  const auto wrong = [&](const char* expected) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": expected ", expected, ", got ", value.dump()));
  };
  if (auto* m = std::get_if<int64_t ModelConfig::*>(&member)) {
    if (!value.is_number_integer()) return wrong("an integer");
    config.*(*m) = value.get<int64_t>();
  } else if (auto* m = std::get_if<double ModelConfig::*>(&member)) {
    if (!value.is_number()) return wrong("a number");
    config.*(*m) = value.get<double>();
  } else {
    if (!value.is_string()) return wrong("a string");
    config.*std::get<std::string ModelConfig::*>(member) = value.get<std::string>();
  }
  return absl::OkStatus();
}

absl::StatusOr<Architecture> ArchitectureOf(const Json& json) {
  if (json.contains("model_type")) {
    const Json& type = json["model_type"];
    for (Architecture a : {Architecture::kBert, Architecture::kAlbert, Architecture::kDistilBert}) {
      if (type.is_string() && type.get<std::string>() == ArchitectureName(a)) return a;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "model_type: expected \"bert\", \"albert\" or \"distilbert\", got ", type.dump()));
  }
  const Json* names = json.contains("architectures") ? &json["architectures"] : nullptr;
  if (names != nullptr && names->is_array() && !names->empty() && (*names)[0].is_string()) {
    const std::string first = (*names)[0].get<std::string>();
    if (first.rfind("DistilBert", 0) == 0) return Architecture::kDistilBert;
    if (first.rfind("Albert", 0) == 0) return Architecture::kAlbert;
    if (first.rfind("Bert", 0) == 0) return Architecture::kBert;
  }
  return absl::InvalidArgumentError(
      "model_type: absent, and \"architectures\" names no BERT, ALBERT or DistilBERT class");
}

// Fields outside the table: architectures, labels, and the features istar does not implement.
absl::Status ReadSpecialFields(const Json& json, ModelConfig& config) {
  if (json.contains("architectures")) {
    const Json& names = json["architectures"];
    if (!names.is_array()) return absl::InvalidArgumentError("architectures: expected a list");
    for (const Json& name : names) {
      if (!name.is_string()) return absl::InvalidArgumentError("architectures: expected strings");
      config.architectures.push_back(name.get<std::string>());
    }
  }
  if (json.contains("num_labels") && json["num_labels"].is_number_integer()) {
    config.num_labels = json["num_labels"].get<int64_t>();
  } else if (json.contains("id2label") && json["id2label"].is_object()) {
    config.num_labels = static_cast<int64_t>(json["id2label"].size());
  }
  if (json.contains("sinusoidal_pos_embds") && json["sinusoidal_pos_embds"] != false) {
    return absl::UnimplementedError("sinusoidal_pos_embds: true is not implemented");
  }
  if (json.contains("position_embedding_type") && json["position_embedding_type"] != "absolute") {
    return absl::UnimplementedError(
        absl::StrCat("position_embedding_type: only \"absolute\" is implemented, got ",
                     json["position_embedding_type"].dump()));
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> ConfigFromJson(const Json& json) {
  if (!json.is_object()) return absl::InvalidArgumentError("expected a JSON object");
  ISTAR_ASSIGN_OR_RETURN(const Architecture architecture, ArchitectureOf(json));
  ModelConfig config = DefaultConfig(architecture);
  bool has_classifier_dropout = false;
  for (const Field& field : kFields) {
    const char* key = field.keys[static_cast<int>(architecture)];
    if (key == nullptr || !json.contains(key)) continue;
    // BERT's classifier_dropout may be null, meaning "use hidden_dropout_prob".
    if (field.member == Member(&ModelConfig::classifier_dropout) && json[key].is_null()) continue;
    ISTAR_RETURN_IF_ERROR(ReadField(json, key, field.member, config));
    has_classifier_dropout |= field.member == Member(&ModelConfig::classifier_dropout);
  }
  if (architecture == Architecture::kBert && !has_classifier_dropout) {
    config.classifier_dropout = config.hidden_dropout_prob;
  }
  if (architecture != Architecture::kAlbert) config.embedding_size = config.hidden_size;
  ISTAR_RETURN_IF_ERROR(ReadSpecialFields(json, config));
  ISTAR_RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

// Sizes positive (pad_token_id and type_vocab_size may be 0), dropouts in [0, 1), layer_norm_eps
// and initializer_range positive: every table field the architecture has.
absl::Status ValidateRanges(const ModelConfig& config) {
  const auto bad = [&](Member member, const std::string& reason) {
    return absl::InvalidArgumentError(
        absl::StrCat(KeyOf(config.architecture, member), ": ", reason));
  };
  for (const Field& field : kFields) {
    if (field.keys[static_cast<int>(config.architecture)] == nullptr) continue;
    if (auto* m = std::get_if<int64_t ModelConfig::*>(&field.member)) {
      const bool may_be_zero =
          *m == &ModelConfig::pad_token_id || *m == &ModelConfig::type_vocab_size;
      if (config.*(*m) < (may_be_zero ? 0 : 1)) {
        return bad(field.member, absl::StrCat("must be ", may_be_zero ? ">= 0" : "positive",
                                              ", got ", config.*(*m)));
      }
    }
    if (auto* m = std::get_if<double ModelConfig::*>(&field.member)) {
      const bool is_dropout =
          *m != &ModelConfig::layer_norm_eps && *m != &ModelConfig::initializer_range;
      const double v = config.*(*m);
      if (is_dropout ? !(v >= 0.0 && v < 1.0) : !(v > 0.0)) {
        return bad(field.member,
                   absl::StrCat(is_dropout ? "must lie in [0, 1)" : "must be > 0", ", got ", v));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

const char* ArchitectureName(Architecture architecture) {
  switch (architecture) {
    case Architecture::kBert:
      return "bert";
    case Architecture::kAlbert:
      return "albert";
    case Architecture::kDistilBert:
      return "distilbert";
  }
  return "?";
}

ModelConfig TinyBertConfig(int64_t vocab_size, int64_t max_positions) {
  ModelConfig config = DefaultConfig(Architecture::kBert);
  config.vocab_size = vocab_size;
  config.hidden_size = 32;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 2;
  config.intermediate_size = 64;
  config.max_position_embeddings = max_positions;
  return config;
}

ModelConfig DefaultConfig(Architecture architecture) {
  ModelConfig config;  // the member initialisers are BERT's defaults
  config.architecture = architecture;
  if (architecture == Architecture::kAlbert) {
    config.vocab_size = 30000;
    config.embedding_size = 128;
    config.hidden_size = 4096;
    config.num_attention_heads = 64;
    config.intermediate_size = 16384;
    config.hidden_act = "gelu_new";
    config.hidden_dropout_prob = 0.0;
    config.attention_probs_dropout_prob = 0.0;
  } else if (architecture == Architecture::kDistilBert) {
    config.num_hidden_layers = 6;
    config.type_vocab_size = 0;
    config.classifier_dropout = 0.2;
  }
  return config;
}

absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text,
                                             const std::string& source) {
  const Json json = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  absl::StatusOr<ModelConfig> config =
      json.is_discarded() ? absl::InvalidArgumentError("not valid JSON") : ConfigFromJson(json);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(source, ": ", config.status().message()));
  }
  return config;
}

absl::StatusOr<ModelConfig> ReadModelConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the file"));
  std::stringstream text;
  text << in.rdbuf();
  return ParseModelConfig(text.str(), path);
}

absl::Status ValidateConfig(const ModelConfig& config) {
  const auto bad = [&](Member member, const std::string& reason) {
    return absl::InvalidArgumentError(
        absl::StrCat(KeyOf(config.architecture, member), ": ", reason));
  };
  ISTAR_RETURN_IF_ERROR(ValidateRanges(config));
  if (config.hidden_size % config.num_attention_heads != 0) {
    return bad(&ModelConfig::hidden_size,
               absl::StrCat(config.hidden_size, " is not a multiple of the number of heads (",
                            config.num_attention_heads, ")"));
  }
  if (config.hidden_act != "gelu" && config.hidden_act != "gelu_new" &&
      config.hidden_act != "relu") {
    return bad(&ModelConfig::hidden_act,
               absl::StrCat("expected \"gelu\", \"gelu_new\" or \"relu\", got \"",
                            config.hidden_act, "\""));
  }
  if (config.pad_token_id >= config.vocab_size) {
    return bad(&ModelConfig::pad_token_id,
               absl::StrCat(config.pad_token_id, " is not below vocab_size ", config.vocab_size));
  }
  if (config.num_labels < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_labels: must be positive, got ", config.num_labels));
  }
  if (config.architecture == Architecture::kAlbert &&
      config.num_hidden_layers % config.num_hidden_groups != 0) {
    return bad(&ModelConfig::num_hidden_groups,
               absl::StrCat(config.num_hidden_groups, " does not divide num_hidden_layers ",
                            config.num_hidden_layers));
  }
  return absl::OkStatus();
}

std::string ModelConfigToJson(const ModelConfig& config) {
  nlohmann::ordered_json json;
  json["architectures"] = config.architectures;
  json["model_type"] = ArchitectureName(config.architecture);
  for (const Field& field : kFields) {
    const char* key = field.keys[static_cast<int>(config.architecture)];
    if (key == nullptr) continue;
    std::visit([&](auto member) { json[key] = config.*member; }, field.member);
  }
  if (config.architecture == Architecture::kDistilBert) json["sinusoidal_pos_embds"] = false;
  nlohmann::ordered_json id2label = nlohmann::ordered_json::object();
  nlohmann::ordered_json label2id = nlohmann::ordered_json::object();
  for (int64_t i = 0; i < config.num_labels; ++i) {
    id2label[std::to_string(i)] = absl::StrCat("LABEL_", i);
    label2id[absl::StrCat("LABEL_", i)] = i;
  }
  json["id2label"] = id2label;
  json["label2id"] = label2id;
  return json.dump(2) + "\n";
}

}  // namespace istar::models
