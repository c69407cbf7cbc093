// WordPiece: greedy longest-match-first splitting of each word into vocabulary pieces.
#ifndef ISTAR_TOKENIZERS_INTERNAL_WORDPIECE_H_
#define ISTAR_TOKENIZERS_INTERNAL_WORDPIECE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "tokenizers/internal/backend.h"
#include "tokenizers/internal/normalizer.h"

namespace istar::tokenizers::internal {

struct WordPieceConfig {
  std::vector<NormalizeStep> steps;
  PreTokenizer pre_tokenizer = PreTokenizer::kBert;
  std::string unk_token = "[UNK]";
  std::string continuing_prefix = "##";
  int64_t max_input_chars_per_word = 100;
};

class WordPieceBackend final : public Backend {
 public:
  // `vocab[id]` is the token with that id; nullopt marks an unused id. Returns InvalidArgument if
  // the vocabulary is empty or lacks config.unk_token.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<WordPieceBackend>> Create(
      std::vector<std::optional<std::string>> vocab, WordPieceConfig config);

  std::vector<Piece> Tokenize(std::string_view text) const override;
  std::optional<int32_t> TokenToId(std::string_view token) const override;
  std::optional<std::string> IdToToken(int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(id_to_token_.size()); }

 private:
  WordPieceBackend(std::vector<std::optional<std::string>> vocab, WordPieceConfig config);
  void SplitWord(const std::vector<Char>& chars, Span word, std::vector<Piece>* out) const;

  std::vector<std::optional<std::string>> id_to_token_;
  std::unordered_map<std::string, int32_t> token_to_id_;
  WordPieceConfig config_;
  int32_t unk_id_ = 0;
};

}  // namespace istar::tokenizers::internal

#endif  // ISTAR_TOKENIZERS_INTERNAL_WORDPIECE_H_
