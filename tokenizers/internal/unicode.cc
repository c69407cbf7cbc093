#include "tokenizers/internal/unicode.h"

#include <utf8proc.h>

namespace istar::tokenizers::internal {
namespace {

utf8proc_category_t Category(char32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

bool InRange(char32_t cp, char32_t lo, char32_t hi) { return cp >= lo && cp <= hi; }

}  // namespace

int WellFormedPrefixLength(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  if (text.empty()) return 0;
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  int length;
  char32_t cp;
  char32_t min;
  if (InRange(lead, 0xC2, 0xDF)) {
    length = 2, cp = lead & 0x1F, min = 0x80;
  } else if (InRange(lead, 0xE0, 0xEF)) {
    length = 3, cp = lead & 0x0F, min = 0x800;
  } else if (InRange(lead, 0xF0, 0xF4)) {
    length = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return 0;  // a continuation byte, an overlong 0xC0/0xC1 lead, or 0xF5..0xFF
  }
  if (text.size() < static_cast<size_t>(length)) return 0;
  for (int i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || InRange(cp, 0xD800, 0xDFFF)) return 0;
  return length;
}

std::vector<Char> DecodeUtf8(std::string_view text) {
  std::vector<Char> chars;
  chars.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const int length = WellFormedPrefixLength(text.substr(pos));
    if (length == 0) {
      chars.push_back({kReplacementChar, static_cast<int64_t>(pos), static_cast<int64_t>(pos + 1)});
      ++pos;
      continue;
    }
    utf8proc_int32_t cp = 0;
    utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + pos), length, &cp);
    chars.push_back(
        {static_cast<char32_t>(cp), static_cast<int64_t>(pos), static_cast<int64_t>(pos + length)});
    pos += length;
  }
  return chars;
}

void AppendUtf8(char32_t cp, std::string* out) {
  utf8proc_uint8_t buffer[4];
  const utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buffer);
  out->append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

std::string EncodeUtf8(const std::vector<Char>& chars, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) AppendUtf8(chars[i].cp, &out);
  return out;
}

std::u32string Decompose(char32_t cp, bool compatibility) {
  // The longest decomposition in Unicode 15 (U+FDFA under NFKD) has 18 code points.
  utf8proc_int32_t buffer[32];
  int boundclass = UTF8PROC_BOUNDCLASS_START;
  const int options = UTF8PROC_DECOMPOSE | (compatibility ? UTF8PROC_COMPAT : 0);
  const utf8proc_ssize_t n =
      utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buffer, 32,
                              static_cast<utf8proc_option_t>(options), &boundclass);
  if (n <= 0 || n > 32) return std::u32string(1, cp);
  std::u32string out;
  for (utf8proc_ssize_t i = 0; i < n; ++i) out.push_back(static_cast<char32_t>(buffer[i]));
  return out;
}

std::u32string ToLower(char32_t cp) {
  if (cp == 0x0130) return U"i\u0307";
  return std::u32string(1, static_cast<char32_t>(utf8proc_tolower(static_cast<int32_t>(cp))));
}

bool IsMark(char32_t cp) { return Category(cp) == UTF8PROC_CATEGORY_MN; }

bool IsCombining(char32_t cp) {
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class != 0;
}

bool IsOther(char32_t cp) {
  switch (Category(cp)) {
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
      return true;
    default:
      return false;
  }
}

bool IsWhitespace(char32_t cp) {
  if (InRange(cp, 0x09, 0x0D) || cp == 0x20 || cp == 0x85) return true;
  const utf8proc_category_t category = Category(cp);
  return category == UTF8PROC_CATEGORY_ZS || category == UTF8PROC_CATEGORY_ZL ||
         category == UTF8PROC_CATEGORY_ZP;
}

bool IsPunctuation(char32_t cp) {
  if (InRange(cp, 33, 47) || InRange(cp, 58, 64) || InRange(cp, 91, 96) || InRange(cp, 123, 126)) {
    return true;
  }
  const utf8proc_category_t category = Category(cp);
  return category >= UTF8PROC_CATEGORY_PC && category <= UTF8PROC_CATEGORY_PO;
}

bool IsCjkIdeograph(char32_t cp) {
  return InRange(cp, 0x4E00, 0x9FFF) || InRange(cp, 0x3400, 0x4DBF) ||
         InRange(cp, 0x20000, 0x2A6DF) || InRange(cp, 0x2A700, 0x2B73F) ||
         InRange(cp, 0x2B740, 0x2B81F) || InRange(cp, 0x2B820, 0x2CEAF) ||
         InRange(cp, 0xF900, 0xFAFF) || InRange(cp, 0x2F800, 0x2FA1F);
}

bool IsWordChar(char32_t cp) {
  if (cp == 0x200C || cp == 0x200D || InRange(cp, 0x24B6, 0x24E9)) return true;
  const utf8proc_category_t category = Category(cp);
  return (category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_ME) ||
         category == UTF8PROC_CATEGORY_ND || category == UTF8PROC_CATEGORY_NL ||
         category == UTF8PROC_CATEGORY_PC;
}

bool IsDecimalDigit(char32_t cp) { return Category(cp) == UTF8PROC_CATEGORY_ND; }

}  // namespace istar::tokenizers::internal
