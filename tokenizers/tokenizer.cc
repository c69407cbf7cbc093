#include "tokenizers/tokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tokenizers/internal/backend.h"
#include "tokenizers/internal/unicode.h"

namespace istar::tokenizers {
namespace {

using internal::Piece;

// How many tokens of each text survive truncation (Hugging Face's truncation rules).
struct Kept {
  size_t first;
  size_t second;
};

absl::StatusOr<Kept> TruncatePair(size_t first, size_t second, int64_t budget,
                                  Truncation truncation) {
  const auto too_long = [&](const char* which) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot truncate the pair (", first, " + ", second, " tokens) to max_length with ", which,
        ": it would have to remove all of the text it may cut"));
  };
  if (truncation == Truncation::kDoNotTruncate || static_cast<int64_t>(first + second) <= budget) {
    return Kept{first, second};
  }
  const size_t excess = first + second - static_cast<size_t>(budget);
  switch (truncation) {
    case Truncation::kOnlyFirst:
      if (first <= excess) return too_long("only_first");
      return Kept{first - excess, second};
    case Truncation::kOnlySecond:
      if (second <= excess) return too_long("only_second");
      return Kept{first, second - excess};
    default: {
      // longest_first: remove one token at a time from the longer text, the second on ties.
      Kept kept{first, second};
      for (size_t i = 0; i < excess; ++i) {
        if (kept.first > kept.second) {
          --kept.first;
        } else {
          --kept.second;
        }
      }
      return kept;
    }
  }
}

void Append(Encoding* encoding, int32_t id, int32_t type, std::pair<int64_t, int64_t> offset,
            int8_t sequence) {
  encoding->ids.push_back(id);
  encoding->token_type_ids.push_back(type);
  encoding->attention_mask.push_back(1);
  encoding->offsets.push_back(offset);
  encoding->sequence_ids.push_back(sequence);
}

void AppendPieces(Encoding* encoding, const std::vector<Piece>& pieces, size_t count,
                  int8_t sequence) {
  for (size_t i = 0; i < count; ++i) {
    Append(encoding, pieces[i].id, sequence, {pieces[i].begin, pieces[i].end}, sequence);
  }
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<const internal::Backend> backend, int32_t cls_id,
                     int32_t sep_id, int32_t pad_id, int32_t unk_id, int32_t mask_id)
    : backend_(std::move(backend)),
      cls_id_(cls_id),
      sep_id_(sep_id),
      pad_id_(pad_id),
      unk_id_(unk_id),
      mask_id_(mask_id) {}

Tokenizer::~Tokenizer() = default;

absl::StatusOr<Encoding> Tokenizer::Encode(std::string_view text,
                                           const EncodeOptions& options) const {
  const int64_t specials = options.add_special_tokens ? 2 : 0;
  const bool truncate = options.truncation != Truncation::kDoNotTruncate;
  if (truncate && options.max_length < specials) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_length ", options.max_length, " cannot hold the ", specials, " special tokens"));
  }
  const std::vector<Piece> pieces = backend_->Tokenize(text);
  size_t kept = pieces.size();
  if (truncate && static_cast<int64_t>(kept) > options.max_length - specials) {
    if (options.truncation == Truncation::kOnlySecond) {
      return absl::InvalidArgumentError(
          "the text needs truncation but the strategy is only_second and there is no second text");
    }
    kept = static_cast<size_t>(options.max_length - specials);
  }
  Encoding encoding;
  if (options.add_special_tokens) Append(&encoding, cls_id_, 0, {0, 0}, -1);
  AppendPieces(&encoding, pieces, kept, 0);
  if (options.add_special_tokens) Append(&encoding, sep_id_, 0, {0, 0}, -1);
  return encoding;
}

absl::StatusOr<Encoding> Tokenizer::EncodePair(std::string_view first, std::string_view second,
                                               const EncodeOptions& options) const {
  const int64_t specials = options.add_special_tokens ? 3 : 0;
  const bool truncate = options.truncation != Truncation::kDoNotTruncate;
  if (truncate && options.max_length < specials) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_length ", options.max_length, " cannot hold the ", specials, " special tokens"));
  }
  const std::vector<Piece> a = backend_->Tokenize(first);
  const std::vector<Piece> b = backend_->Tokenize(second);
  absl::StatusOr<Kept> kept =
      TruncatePair(a.size(), b.size(), options.max_length - specials, options.truncation);
  if (!kept.ok()) return kept.status();
  Encoding encoding;
  if (options.add_special_tokens) Append(&encoding, cls_id_, 0, {0, 0}, -1);
  AppendPieces(&encoding, a, kept->first, 0);
  if (options.add_special_tokens) Append(&encoding, sep_id_, 0, {0, 0}, -1);
  AppendPieces(&encoding, b, kept->second, 1);
  if (options.add_special_tokens) Append(&encoding, sep_id_, 1, {0, 0}, -1);
  return encoding;
}

std::optional<int32_t> Tokenizer::TokenToId(std::string_view token) const {
  return backend_->TokenToId(token);
}

std::optional<std::string> Tokenizer::IdToToken(int32_t id) const {
  return backend_->IdToToken(id);
}

int32_t Tokenizer::vocab_size() const { return backend_->vocab_size(); }

int64_t CodePointIndexToByteOffset(std::string_view text, int64_t index) {
  if (index < 0) return -1;
  size_t pos = 0;
  for (int64_t i = 0; i < index; ++i) {
    if (pos >= text.size()) return -1;
    pos += static_cast<size_t>(std::max(1, internal::WellFormedPrefixLength(text.substr(pos))));
  }
  return static_cast<int64_t>(pos);
}

int64_t ByteOffsetToCodePointIndex(std::string_view text, int64_t offset) {
  if (offset < 0 || offset > static_cast<int64_t>(text.size())) return -1;
  int64_t index = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t next =
        pos + static_cast<size_t>(std::max(1, internal::WellFormedPrefixLength(text.substr(pos))));
    if (static_cast<int64_t>(next) > offset) return index;
    pos = next;
    ++index;
  }
  return index;
}

namespace internal {

absl::StatusOr<std::unique_ptr<Tokenizer>> MakeTokenizer(std::unique_ptr<const Backend> backend,
                                                         const SpecialTokens& special,
                                                         const std::string& source) {
  const auto required = [&](const std::string& token) -> absl::StatusOr<int32_t> {
    const std::optional<int32_t> id = backend->TokenToId(token);
    if (!id.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": the vocabulary lacks the special token '", token, "'"));
    }
    return *id;
  };
  absl::StatusOr<int32_t> cls = required(special.cls);
  if (!cls.ok()) return cls.status();
  absl::StatusOr<int32_t> sep = required(special.sep);
  if (!sep.ok()) return sep.status();
  absl::StatusOr<int32_t> unk = required(special.unk);
  if (!unk.ok()) return unk.status();
  const int32_t pad = backend->TokenToId(special.pad).value_or(-1);
  const int32_t mask = backend->TokenToId(special.mask).value_or(-1);
  return std::make_unique<Tokenizer>(std::move(backend), *cls, *sep, pad, *unk, mask);
}

}  // namespace internal
}  // namespace istar::tokenizers
