// Normalisation one code point at a time, so that every output character keeps the byte range of
// the source character it came from, and the pre-tokenizers that split the result into words.
#ifndef ISTAR_TOKENIZERS_INTERNAL_NORMALIZER_H_
#define ISTAR_TOKENIZERS_INTERNAL_NORMALIZER_H_

#include <cstddef>
#include <vector>

#include "tokenizers/internal/unicode.h"

namespace istar::tokenizers::internal {

// Steps applied in order to each code point (Note [Per code point normalisation] in the .cc).
enum class NormalizeStep {
  kCleanText,       // drop NUL, U+FFFD and C* except \t\n\r; whitespace becomes ' '
  kCjkSpaces,       // surround each CJK ideograph with spaces
  kNfd,             // canonical decomposition
  kNfkd,            // compatibility decomposition
  kStripMarks,      // drop Mn (BERT, Hugging Face's StripAccents)
  kStripCombining,  // drop combining class != 0 (ALBERT's unicodedata.combining)
  kLowercase,
  kDropInvalid,  // drop the U+FFFD that stands for invalid bytes (and real U+FFFD)
};

// The BERT steps: clean, CJK, then NFD + Mn stripping, then lower-casing, as Hugging Face's
// BertNormalizer orders them.
std::vector<NormalizeStep> BertSteps(bool clean_text, bool cjk_spaces, bool strip_accents,
                                     bool lowercase);

std::vector<Char> Normalize(const std::vector<Char>& chars,
                            const std::vector<NormalizeStep>& steps);

enum class PreTokenizer {
  kBert,             // split on whitespace; each punctuation character is a word
  kWhitespace,       // regex \w+|[^\w\s]+ (Hugging Face's Whitespace)
  kWhitespaceSplit,  // split on whitespace only
};

// A word: the characters [begin, end) of the normalised text.
struct Span {
  size_t begin;
  size_t end;
};

std::vector<Span> PreTokenize(const std::vector<Char>& chars, PreTokenizer kind);

}  // namespace istar::tokenizers::internal

#endif  // ISTAR_TOKENIZERS_INTERNAL_NORMALIZER_H_
