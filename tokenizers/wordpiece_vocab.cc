// LoadWordPieceVocab: BERT's vocab.txt.
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

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadWordPieceVocab(const std::string& vocab_txt_path,
                                                              const WordPieceOptions& options) {
  ISTAR_ASSIGN_OR_RETURN(const std::string contents, internal::ReadFile(vocab_txt_path));
  std::vector<std::optional<std::string>> vocab;
  size_t pos = 0;
  while (pos < contents.size()) {
    size_t end = contents.find('\n', pos);
    if (end == std::string::npos) end = contents.size();
    size_t token_end = end;
    if (token_end > pos && contents[token_end - 1] == '\r') --token_end;  // CRLF files
    vocab.emplace_back(contents.substr(pos, token_end - pos));
    pos = end + 1;
  }
  internal::WordPieceConfig config;
  config.steps =
      internal::BertSteps(/*clean_text=*/true, options.tokenize_chinese_chars,
                          options.strip_accents.value_or(options.lowercase), options.lowercase);
  config.pre_tokenizer = internal::PreTokenizer::kBert;
  config.unk_token = options.unk_token;
  config.max_input_chars_per_word = options.max_input_chars_per_word;
  absl::StatusOr<std::unique_ptr<internal::WordPieceBackend>> backend =
      internal::WordPieceBackend::Create(std::move(vocab), std::move(config));
  if (!backend.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(vocab_txt_path, ": ", backend.status().message()));
  }
  internal::SpecialTokens special;
  special.unk = options.unk_token;
  return internal::MakeTokenizer(*std::move(backend), special, vocab_txt_path);
}

}  // namespace istar::tokenizers
