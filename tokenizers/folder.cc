// LoadTokenizerFromFolder: the tokenizer of a Hugging Face checkpoint folder.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "tokenizers/internal/files.h"
#include "tokenizers/tokenizer.h"

namespace istar::tokenizers {
namespace {

using Json = nlohmann::json;

// tokenizer_config.json, or an empty object when the folder has none.
absl::StatusOr<Json> ReadTokenizerConfig(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "tokenizer_config.json";
  std::error_code error_code;
  if (!std::filesystem::exists(path, error_code)) return Json::object();
  ISTAR_ASSIGN_OR_RETURN(const std::string contents, internal::ReadFile(path.string()));
  Json config = Json::parse(contents, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": not a JSON object"));
  }
  return config;
}

// The boolean `key` of `config`, or `fallback` when it is absent or null.
absl::StatusOr<bool> Flag(const Json& config, const std::string& key, bool fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  if (!config[key].is_boolean()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer_config.json: '", key, "' must be true or false"));
  }
  return config[key].get<bool>();
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadVocabTxt(const std::filesystem::path& dir) {
  ISTAR_ASSIGN_OR_RETURN(const Json config, ReadTokenizerConfig(dir));
  WordPieceOptions options;
  ISTAR_ASSIGN_OR_RETURN(options.lowercase, Flag(config, "do_lower_case", true));
  if (config.contains("strip_accents") && !config["strip_accents"].is_null()) {
    ISTAR_ASSIGN_OR_RETURN(options.strip_accents, Flag(config, "strip_accents", true));
  }
  ISTAR_ASSIGN_OR_RETURN(options.tokenize_chinese_chars,
                         Flag(config, "tokenize_chinese_chars", true));
  return LoadWordPieceVocab((dir / "vocab.txt").string(), options);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSpiece(const std::filesystem::path& dir) {
  ISTAR_ASSIGN_OR_RETURN(const Json config, ReadTokenizerConfig(dir));
  AlbertOptions options;
  ISTAR_ASSIGN_OR_RETURN(options.do_lower_case, Flag(config, "do_lower_case", true));
  ISTAR_ASSIGN_OR_RETURN(options.remove_space, Flag(config, "remove_space", true));
  ISTAR_ASSIGN_OR_RETURN(options.keep_accents, Flag(config, "keep_accents", false));
  return LoadSentencePiece((dir / "spiece.model").string(), options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFromFolder(const std::string& dir) {
  const std::filesystem::path folder(dir);
  std::error_code error_code;
  if (std::filesystem::exists(folder / "tokenizer.json", error_code)) {
    return LoadTokenizerJson((folder / "tokenizer.json").string());
  }
  if (std::filesystem::exists(folder / "vocab.txt", error_code)) return LoadVocabTxt(folder);
  if (std::filesystem::exists(folder / "spiece.model", error_code)) return LoadSpiece(folder);
  return absl::NotFoundError(
      absl::StrCat(dir, ": no tokenizer.json, vocab.txt or spiece.model in the folder"));
}

}  // namespace istar::tokenizers
