#include "tokenizers/internal/normalizer.h"

#include <string>

namespace istar::tokenizers::internal {
namespace {

// Note [Per code point normalisation]: each source code point is normalised on its own, so every
// output character inherits its source's byte range and offsets need no alignment pass. This
// equals normalising the whole string except for the canonical reordering of runs of combining
// marks, which only matters when marks are kept and NFD is on; BERT's uncased models strip them.
std::u32string ApplyStep(NormalizeStep step, const std::u32string& in) {
  std::u32string out;
  for (const char32_t cp : in) {
    switch (step) {
      case NormalizeStep::kCleanText:
        if (cp == 0 || cp == kReplacementChar) break;
        if (cp == '\t' || cp == '\n' || cp == '\r' || IsWhitespace(cp)) {
          out.push_back(' ');
        } else if (!IsOther(cp)) {
          out.push_back(cp);
        }
        break;
      case NormalizeStep::kCjkSpaces:
        if (IsCjkIdeograph(cp)) {
          out.append({U' ', cp, U' '});
        } else {
          out.push_back(cp);
        }
        break;
      case NormalizeStep::kNfd:
      case NormalizeStep::kNfkd:
        out += Decompose(cp, step == NormalizeStep::kNfkd);
        break;
      case NormalizeStep::kStripMarks:
        if (!IsMark(cp)) out.push_back(cp);
        break;
      case NormalizeStep::kStripCombining:
        if (!IsCombining(cp)) out.push_back(cp);
        break;
      case NormalizeStep::kLowercase:
        out += ToLower(cp);
        break;
      case NormalizeStep::kDropInvalid:
        if (cp != kReplacementChar) out.push_back(cp);
        break;
    }
  }
  return out;
}

}  // namespace

std::vector<NormalizeStep> BertSteps(bool clean_text, bool cjk_spaces, bool strip_accents,
                                     bool lowercase) {
  std::vector<NormalizeStep> steps;
  if (clean_text) steps.push_back(NormalizeStep::kCleanText);
  if (cjk_spaces) steps.push_back(NormalizeStep::kCjkSpaces);
  if (strip_accents) {
    steps.push_back(NormalizeStep::kNfd);
    steps.push_back(NormalizeStep::kStripMarks);
  }
  if (lowercase) steps.push_back(NormalizeStep::kLowercase);
  return steps;
}

std::vector<Char> Normalize(const std::vector<Char>& chars,
                            const std::vector<NormalizeStep>& steps) {
  std::vector<Char> out;
  out.reserve(chars.size());
  for (const Char& c : chars) {
    if (c.cp < 0x80 && c.cp > 0x20 && c.cp != 0x7F) {
      // Printable ASCII: only lower-casing changes it; the fast path keeps long texts cheap.
      char32_t cp = c.cp;
      for (const NormalizeStep step : steps) {
        if (step == NormalizeStep::kLowercase && cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
      }
      out.push_back({cp, c.begin, c.end});
      continue;
    }
    std::u32string buffer(1, c.cp);
    for (const NormalizeStep step : steps) buffer = ApplyStep(step, buffer);
    for (const char32_t cp : buffer) out.push_back({cp, c.begin, c.end});
  }
  return out;
}

namespace {

// 0: whitespace, 1: word character, 2: anything else (Hugging Face's Whitespace regex classes).
int WhitespaceClass(char32_t cp) {
  if (IsWhitespace(cp)) return 0;
  return IsWordChar(cp) ? 1 : 2;
}

}  // namespace

std::vector<Span> PreTokenize(const std::vector<Char>& chars, PreTokenizer kind) {
  std::vector<Span> words;
  size_t start = 0;
  int run_class = -1;  // class of the word being built; -1 when none
  for (size_t i = 0; i <= chars.size(); ++i) {
    int cls = 0;  // the end of the text closes the last word, as whitespace does
    bool isolated = false;
    if (i < chars.size()) {
      const char32_t cp = chars[i].cp;
      cls = kind == PreTokenizer::kWhitespace ? WhitespaceClass(cp) : (IsWhitespace(cp) ? 0 : 1);
      isolated = kind == PreTokenizer::kBert && cls != 0 && IsPunctuation(cp);
    }
    if (run_class > 0 && (cls != run_class || isolated)) words.push_back({start, i});
    if (isolated) {
      words.push_back({i, i + 1});
      run_class = -1;
    } else if (cls != run_class) {
      run_class = cls;
      start = i;
    }
  }
  return words;
}

}  // namespace istar::tokenizers::internal
