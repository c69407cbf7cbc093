// ALBERT's tokenisation: its text preprocessing, then SentencePiece, then its digit-comma rule.
#ifndef ISTAR_TOKENIZERS_INTERNAL_ALBERT_H_
#define ISTAR_TOKENIZERS_INTERNAL_ALBERT_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizers/internal/backend.h"
#include "tokenizers/internal/sentencepiece_model.h"
#include "tokenizers/internal/unicode.h"
#include "tokenizers/tokenizer.h"

namespace istar::tokenizers::internal {

// ALBERT's preprocess_text, one character at a time so that offsets survive: drop invalid bytes,
// trim and collapse whitespace, `` and '' to ", NFKD without combining marks, lower-case.
std::vector<Char> AlbertPreprocess(std::string_view text, const AlbertOptions& options);

class AlbertBackend final : public Backend {
 public:
  AlbertBackend(std::unique_ptr<SentencePieceModel> model, AlbertOptions options);

  std::vector<Piece> Tokenize(std::string_view text) const override;
  std::optional<int32_t> TokenToId(std::string_view token) const override;
  std::optional<std::string> IdToToken(int32_t id) const override;
  int32_t vocab_size() const override { return model_->size(); }

 private:
  void SplitDigitComma(const SentencePiece& piece, std::vector<SentencePiece>* out) const;
  // As Python's sp.PieceToId: the unknown id for a piece outside the vocabulary.
  int IdOrUnknown(std::string_view piece) const;

  std::unique_ptr<SentencePieceModel> model_;
  AlbertOptions options_;
};

}  // namespace istar::tokenizers::internal

#endif  // ISTAR_TOKENIZERS_INTERNAL_ALBERT_H_
