// LoadTokenizerJson: Hugging Face tokenizer.json files whose model is WordPiece.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "tokenizers/internal/backend.h"
#include "tokenizers/internal/files.h"
#include "tokenizers/internal/wordpiece.h"
#include "tokenizers/tokenizer.h"

namespace istar::tokenizers {
namespace {

using internal::NormalizeStep;
using Json = nlohmann::json;

// Beyond any real vocabulary; guards the id -> token table against absurd ids.
constexpr int64_t kMaxVocabularyId = 16'000'000;

absl::Status Unsupported(const std::string& path, const char* what, const Json& node) {
  const std::string type = node.is_object() && node.contains("type") && node["type"].is_string()
                               ? node["type"].get<std::string>()
                               : node.dump();
  return absl::UnimplementedError(absl::StrCat(
      path, ": ", what, " '", type,
      "' is not supported; istar reads WordPiece tokenizer.json files (BertNormalizer or "
      "Lowercase/StripAccents/NFD, BertPreTokenizer or Whitespace) and ALBERT's spiece.model"));
}

absl::Status AppendNormalizer(const std::string& path, const Json& node,
                              std::vector<NormalizeStep>* steps) {
  if (node.is_null()) return absl::OkStatus();
  const std::string type = node.value("type", "");
  if (type == "BertNormalizer") {
    const bool lowercase = node.value("lowercase", true);
    const Json strip = node.value("strip_accents", Json());
    const std::vector<NormalizeStep> bert = internal::BertSteps(
        node.value("clean_text", true), node.value("handle_chinese_chars", true),
        strip.is_boolean() ? strip.get<bool>() : lowercase, lowercase);
    steps->insert(steps->end(), bert.begin(), bert.end());
  } else if (type == "Sequence") {
    for (const Json& child : node.at("normalizers")) {
      ISTAR_RETURN_IF_ERROR(AppendNormalizer(path, child, steps));
    }
  } else if (type == "Lowercase") {
    steps->push_back(NormalizeStep::kLowercase);
  } else if (type == "StripAccents") {
    steps->push_back(NormalizeStep::kStripMarks);
  } else if (type == "NFD") {
    steps->push_back(NormalizeStep::kNfd);
  } else if (type == "NFKD") {
    steps->push_back(NormalizeStep::kNfkd);
  } else {
    return Unsupported(path, "the normalizer", node);
  }
  return absl::OkStatus();
}

absl::StatusOr<internal::PreTokenizer> ParsePreTokenizer(const std::string& path,
                                                         const Json& node) {
  const std::string type = node.is_object() ? node.value("type", "") : "";
  if (type == "BertPreTokenizer") return internal::PreTokenizer::kBert;
  if (type == "Whitespace") return internal::PreTokenizer::kWhitespace;
  if (type == "WhitespaceSplit") return internal::PreTokenizer::kWhitespaceSplit;
  return Unsupported(path, "the pre_tokenizer", node);
}

// [CLS] and [SEP] as the post-processor spells them: BertProcessing names them, and a
// TemplateProcessing single template starts with the first and ends with the second.
absl::StatusOr<internal::SpecialTokens> ParsePostProcessor(const std::string& path,
                                                           const Json& node) {
  internal::SpecialTokens special;
  if (node.is_null()) return special;
  const std::string type = node.value("type", "");
  if (type == "BertProcessing") {
    special.cls = node.at("cls").at(0).get<std::string>();
    special.sep = node.at("sep").at(0).get<std::string>();
  } else if (type == "TemplateProcessing") {
    std::vector<std::string> names;
    for (const Json& item : node.at("single")) {
      if (item.contains("SpecialToken")) names.push_back(item["SpecialToken"].at("id"));
    }
    if (names.size() != 2) return Unsupported(path, "the post_processor template", node);
    special.cls = names[0];
    special.sep = names[1];
  } else {
    return Unsupported(path, "the post_processor", node);
  }
  return special;
}

absl::StatusOr<std::vector<std::optional<std::string>>> ParseVocab(const std::string& path,
                                                                   const Json& vocab) {
  std::vector<std::optional<std::string>> id_to_token;
  for (const auto& [token, id_node] : vocab.items()) {
    const int64_t id = id_node.get<int64_t>();
    if (id < 0 || id > kMaxVocabularyId) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": model.vocab gives '", token, "' the id ", id));
    }
    if (static_cast<size_t>(id) >= id_to_token.size()) id_to_token.resize(id + 1);
    id_to_token[id] = token;
  }
  return id_to_token;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> FromJson(const std::string& path, const Json& root) {
  const Json& model = root.at("model");
  if (model.value("type", "") != "WordPiece") return Unsupported(path, "the model type", model);
  internal::WordPieceConfig config;
  ISTAR_RETURN_IF_ERROR(AppendNormalizer(path, root.value("normalizer", Json()), &config.steps));
  ISTAR_ASSIGN_OR_RETURN(config.pre_tokenizer,
                         ParsePreTokenizer(path, root.value("pre_tokenizer", Json())));
  ISTAR_ASSIGN_OR_RETURN(internal::SpecialTokens special,
                         ParsePostProcessor(path, root.value("post_processor", Json())));
  config.unk_token = model.value("unk_token", "[UNK]");
  config.continuing_prefix = model.value("continuing_subword_prefix", "##");
  config.max_input_chars_per_word = model.value("max_input_chars_per_word", int64_t{100});
  special.unk = config.unk_token;
  ISTAR_ASSIGN_OR_RETURN(auto vocab, ParseVocab(path, model.at("vocab")));
  absl::StatusOr<std::unique_ptr<internal::WordPieceBackend>> backend =
      internal::WordPieceBackend::Create(std::move(vocab), std::move(config));
  if (!backend.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", backend.status().message()));
  }
  return internal::MakeTokenizer(*std::move(backend), special, path);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerJson(const std::string& path) {
  ISTAR_ASSIGN_OR_RETURN(const std::string contents, internal::ReadFile(path));
  const Json root = Json::parse(contents, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  }
  // nlohmann reports a missing field or a wrong type by throwing; this is the one place that
  // turns those into a Status.
  try {
    return FromJson(path, root);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a valid tokenizer.json: ", e.what()));
  }
}

}  // namespace istar::tokenizers
