// Code points with their source bytes, and the Unicode facts the normalisers need (utf8proc).
#ifndef ISTAR_TOKENIZERS_INTERNAL_UNICODE_H_
#define ISTAR_TOKENIZERS_INTERNAL_UNICODE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace istar::tokenizers::internal {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// A (possibly normalised) code point and the byte range [begin, end) of the source code point it
// came from, so that offsets survive normalisation.
struct Char {
  char32_t cp;
  int64_t begin;
  int64_t end;
};

// Decodes `text`; every byte that does not start a well-formed UTF-8 sequence becomes one
// kReplacementChar covering that byte (Note [Invalid UTF-8] in tokenizer.h).
std::vector<Char> DecodeUtf8(std::string_view text);

// Length in bytes of the well-formed sequence at the start of `text`, or 0 if it is ill-formed.
int WellFormedPrefixLength(std::string_view text);

void AppendUtf8(char32_t cp, std::string* out);
std::string EncodeUtf8(const std::vector<Char>& chars, size_t begin, size_t end);

// Canonical (NFD) or compatibility (NFKD) decomposition of one code point.
std::u32string Decompose(char32_t cp, bool compatibility);
// Full lower-case mapping (utf8proc's simple mapping, plus U+0130 -> "i" U+0307 as Unicode's
// SpecialCasing, Python and Rust have it).
std::u32string ToLower(char32_t cp);

bool IsMark(char32_t cp);          // Mn, the marks BERT's accent stripping drops
bool IsCombining(char32_t cp);     // canonical combining class != 0 (Python's combining())
bool IsOther(char32_t cp);         // C*: control, format, surrogate, private use, unassigned
bool IsWhitespace(char32_t cp);    // Unicode White_Space
bool IsPunctuation(char32_t cp);   // BERT: ASCII symbols 33-47, 58-64, 91-96, 123-126, or P*
bool IsCjkIdeograph(char32_t cp);  // the CJK Unified/Compatibility Ideograph blocks
bool IsWordChar(char32_t cp);      // regex \w: letters, marks, Nd, Nl, Pc, joiners
bool IsDecimalDigit(char32_t cp);  // Nd

}  // namespace istar::tokenizers::internal

#endif  // ISTAR_TOKENIZERS_INTERNAL_UNICODE_H_
