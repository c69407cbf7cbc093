#include "tokenizers/internal/albert.h"

#include <algorithm>
#include <utility>

#include "tokenizers/internal/normalizer.h"

namespace istar::tokenizers::internal {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// Python's str.split() whitespace: Unicode White_Space plus the ASCII separators 0x1C-0x1F.
bool IsPythonSpace(char32_t cp) { return IsWhitespace(cp) || (cp >= 0x1C && cp <= 0x1F); }

// " ".join(text.strip().split()): the space that replaces a run keeps the run's first byte range.
std::vector<Char> CollapseSpaces(const std::vector<Char>& chars) {
  std::vector<Char> out;
  bool pending_space = false;
  Char space{' ', 0, 0};
  for (const Char& c : chars) {
    if (IsPythonSpace(c.cp)) {
      if (!pending_space) space = {' ', c.begin, c.end};
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty()) out.push_back(space);
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// text.replace(2 * quote, '"'), left to right; the " spans both source characters.
std::vector<Char> ReplaceDoubled(const std::vector<Char>& chars, char32_t quote) {
  std::vector<Char> out;
  for (size_t i = 0; i < chars.size(); ++i) {
    if (chars[i].cp == quote && i + 1 < chars.size() && chars[i + 1].cp == quote) {
      out.push_back({'"', chars[i].begin, chars[i + 1].end});
      ++i;
    } else {
      out.push_back(chars[i]);
    }
  }
  return out;
}

bool EndsWithDigitComma(const std::string& piece) {
  if (piece.size() < 2 || piece.back() != ',') return false;
  size_t start = piece.size() - 2;  // the start of the character before the comma
  while (start > 0 && (static_cast<unsigned char>(piece[start]) & 0xC0) == 0x80) --start;
  const std::vector<Char> last = DecodeUtf8(std::string_view(piece).substr(start));
  return !last.empty() && IsDecimalDigit(last.front().cp);
}

}  // namespace

std::vector<Char> AlbertPreprocess(std::string_view text, const AlbertOptions& options) {
  std::vector<Char> chars = Normalize(DecodeUtf8(text), {NormalizeStep::kDropInvalid});
  if (options.remove_space) chars = CollapseSpaces(chars);
  chars = ReplaceDoubled(ReplaceDoubled(chars, '`'), '\'');
  std::vector<NormalizeStep> steps;
  if (!options.keep_accents) steps = {NormalizeStep::kNfkd, NormalizeStep::kStripCombining};
  if (options.do_lower_case) steps.push_back(NormalizeStep::kLowercase);
  return Normalize(chars, steps);
}

AlbertBackend::AlbertBackend(std::unique_ptr<SentencePieceModel> model, AlbertOptions options)
    : model_(std::move(model)), options_(options) {}

std::vector<Piece> AlbertBackend::Tokenize(std::string_view text) const {
  const std::vector<Char> chars = AlbertPreprocess(text, options_);
  std::string normalized;
  std::vector<size_t> char_start;  // where each character starts in `normalized`
  for (const Char& c : chars) {
    char_start.push_back(normalized.size());
    AppendUtf8(c.cp, &normalized);
  }
  // The character that holds byte `byte` of `normalized`.
  const auto char_at = [&](size_t byte) {
    return static_cast<size_t>(std::upper_bound(char_start.begin(), char_start.end(), byte) -
                               char_start.begin()) -
           1;
  };
  std::vector<SentencePiece> pieces;
  for (const SentencePiece& piece : model_->Encode(normalized)) SplitDigitComma(piece, &pieces);
  std::vector<Piece> out;
  for (const SentencePiece& piece : pieces) {
    std::pair<int64_t, int64_t> offset{0, 0};
    if (piece.begin < piece.end && piece.end <= normalized.size()) {
      size_t first = char_at(piece.begin);
      const size_t last = char_at(piece.end - 1);
      // The space SentencePiece glues to the front of a word is not part of the word.
      while (first < last && chars[first].cp == ' ') ++first;
      offset = {chars[first].begin, chars[first].cp == ' ' ? chars[first].begin : chars[last].end};
    } else if (!chars.empty()) {  // a piece with no text of its own sits where it was inserted
      const int64_t at =
          piece.begin < normalized.size() ? chars[char_at(piece.begin)].begin : chars.back().end;
      offset = {at, at};
    }
    out.push_back({piece.id, offset.first, offset.second});
  }
  return out;
}

// ALBERT splits a piece like "▁9," (digits and a trailing comma) into the pieces of "9" and ",",
// so numbers tokenise alike with and without a comma after them.
void AlbertBackend::SplitDigitComma(const SentencePiece& piece,
                                    std::vector<SentencePiece>* out) const {
  if (!EndsWithDigitComma(piece.piece)) {
    out->push_back(piece);
    return;
  }
  std::string digits = piece.piece.substr(0, piece.piece.size() - 1);
  for (size_t at; (at = digits.find(kSpaceMark)) != std::string::npos;) {
    digits.erase(at, kSpaceMark.size());
  }
  std::vector<SentencePiece> sub = model_->Encode(digits);
  const bool piece_has_mark = piece.piece.rfind(kSpaceMark, 0) == 0;
  if (!piece_has_mark && !sub.empty() && sub.front().piece.rfind(kSpaceMark, 0) == 0) {
    if (sub.front().piece == kSpaceMark) {
      sub.erase(sub.begin());
    } else {
      sub.front().piece.erase(0, kSpaceMark.size());
      sub.front().id = IdOrUnknown(sub.front().piece);
    }
  }
  // The digits end just before the comma, the last byte of the piece's text.
  const size_t comma = piece.end > piece.begin ? piece.end - 1 : piece.begin;
  const size_t base = comma >= piece.begin + digits.size() ? comma - digits.size() : piece.begin;
  for (SentencePiece& part : sub) {
    part.begin = std::min(base + part.begin, comma);
    part.end = std::min(base + part.end, comma);
    out->push_back(std::move(part));
  }
  out->push_back({IdOrUnknown(","), ",", comma, comma + 1});
}

int AlbertBackend::IdOrUnknown(std::string_view piece) const {
  const int id = model_->PieceToId(piece);
  return id >= 0 ? id : model_->unk_id();
}

std::optional<int32_t> AlbertBackend::TokenToId(std::string_view token) const {
  const int id = model_->PieceToId(token);
  if (id < 0) return std::nullopt;
  return id;
}

std::optional<std::string> AlbertBackend::IdToToken(int32_t id) const {
  if (id < 0 || id >= model_->size()) return std::nullopt;
  return model_->IdToPiece(id);
}

}  // namespace istar::tokenizers::internal
