#include "tokenizers/internal/wordpiece.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace istar::tokenizers::internal {

absl::StatusOr<std::unique_ptr<WordPieceBackend>> WordPieceBackend::Create(
    std::vector<std::optional<std::string>> vocab, WordPieceConfig config) {
  if (vocab.empty()) return absl::InvalidArgumentError("the WordPiece vocabulary is empty");
  std::unique_ptr<WordPieceBackend> backend(
      new WordPieceBackend(std::move(vocab), std::move(config)));
  const std::optional<int32_t> unk = backend->TokenToId(backend->config_.unk_token);
  if (!unk.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the WordPiece vocabulary lacks its unknown token '", backend->config_.unk_token, "'"));
  }
  backend->unk_id_ = *unk;
  return backend;
}

WordPieceBackend::WordPieceBackend(std::vector<std::optional<std::string>> vocab,
                                   WordPieceConfig config)
    : id_to_token_(std::move(vocab)), config_(std::move(config)) {
  token_to_id_.reserve(id_to_token_.size());
  // A token listed twice keeps its last id, as Hugging Face's load_vocab does.
  for (size_t id = 0; id < id_to_token_.size(); ++id) {
    if (id_to_token_[id].has_value()) token_to_id_[*id_to_token_[id]] = static_cast<int32_t>(id);
  }
}

std::vector<Piece> WordPieceBackend::Tokenize(std::string_view text) const {
  const std::vector<Char> chars = Normalize(DecodeUtf8(text), config_.steps);
  std::vector<Piece> pieces;
  for (const Span& word : PreTokenize(chars, config_.pre_tokenizer)) {
    SplitWord(chars, word, &pieces);
  }
  return pieces;
}

// Greedy longest-match-first (BERT's WordPieceTokenizer): from each position take the longest
// vocabulary entry that matches, spelled with the continuation prefix after the first piece. If
// some position has no match, the whole word is one unknown token.
void WordPieceBackend::SplitWord(const std::vector<Char>& chars, Span word,
                                 std::vector<Piece>* out) const {
  const size_t length = word.end - word.begin;
  const Piece whole_unknown{unk_id_, chars[word.begin].begin, chars[word.end - 1].end};
  if (static_cast<int64_t>(length) > config_.max_input_chars_per_word) {
    out->push_back(whole_unknown);
    return;
  }
  // byte_at[i]: where character word.begin + i starts in `utf8`.
  std::string utf8;
  std::vector<size_t> byte_at;
  for (size_t i = word.begin; i < word.end; ++i) {
    byte_at.push_back(utf8.size());
    AppendUtf8(chars[i].cp, &utf8);
  }
  byte_at.push_back(utf8.size());
  const size_t first_piece = out->size();
  std::string candidate;
  for (size_t start = 0; start < length;) {
    size_t end = length;
    std::optional<int32_t> id;
    for (; end > start; --end) {
      candidate.assign(start > 0 ? config_.continuing_prefix : "");
      candidate.append(utf8, byte_at[start], byte_at[end] - byte_at[start]);
      const auto it = token_to_id_.find(candidate);
      if (it != token_to_id_.end()) {
        id = it->second;
        break;
      }
    }
    if (!id.has_value()) {
      out->resize(first_piece);
      out->push_back(whole_unknown);
      return;
    }
    out->push_back({*id, chars[word.begin + start].begin, chars[word.begin + end - 1].end});
    start = end;
  }
}

std::optional<int32_t> WordPieceBackend::TokenToId(std::string_view token) const {
  const auto it = token_to_id_.find(std::string(token));
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> WordPieceBackend::IdToToken(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return std::nullopt;
  return id_to_token_[id];
}

}  // namespace istar::tokenizers::internal
