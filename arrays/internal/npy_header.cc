#include "arrays/internal/npy_header.h"

#include <charconv>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"

namespace istar::arrays::internal {
namespace {

// A recursive-descent parser over the three value forms a NumPy header uses: quoted strings,
// True/False, and tuples of integers. Anything else (lists, nested dicts) is an error.
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : text_(text), rest_(text) {}

  absl::StatusOr<NpyHeader> Parse() {
    NpyHeader header;
    bool seen[3] = {false, false, false};  // descr, fortran_order, shape.
    if (!Consume('{')) return Error("expected '{'");
    while (!Consume('}')) {
      ISTAR_RETURN_IF_ERROR(ParseEntry(header, seen));
      if (!Consume(',') && !Peek('}')) return Error("expected ',' or '}'");
    }
    SkipSpace();
    if (!rest_.empty()) return Error("unexpected text after '}'");
    const char* names[3] = {"descr", "fortran_order", "shape"};
    for (int i = 0; i < 3; ++i) {
      if (!seen[i]) return Error(absl::StrCat("missing key '", names[i], "'"));
    }
    return header;
  }

 private:
  absl::Status ParseEntry(NpyHeader& header, bool (&seen)[3]) {
    ISTAR_ASSIGN_OR_RETURN(const std::string key, ParseString());
    if (!Consume(':')) return Error(absl::StrCat("expected ':' after '", key, "'"));
    int index;
    if (key == "descr") {
      index = 0;
      ISTAR_ASSIGN_OR_RETURN(header.descr, ParseString());
    } else if (key == "fortran_order") {
      index = 1;
      ISTAR_ASSIGN_OR_RETURN(header.fortran_order, ParseBool());
    } else if (key == "shape") {
      index = 2;
      ISTAR_ASSIGN_OR_RETURN(header.shape, ParseShape());
    } else {
      return Error(absl::StrCat("unexpected key '", key, "'"));
    }
    if (std::exchange(seen[index], true)) {
      return Error(absl::StrCat("duplicate key '", key, "'"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> ParseString() {
    SkipSpace();
    if (rest_.empty() || (rest_[0] != '\'' && rest_[0] != '"')) {
      return Error("expected a quoted string");
    }
    const char quote = rest_[0];
    const size_t end = rest_.find(quote, 1);
    if (end == std::string_view::npos) return Error("unterminated string");
    std::string value(rest_.substr(1, end - 1));
    rest_.remove_prefix(end + 1);
    return value;
  }

  absl::StatusOr<bool> ParseBool() {
    SkipSpace();
    for (const bool value : {true, false}) {
      const std::string_view word = value ? "True" : "False";
      if (rest_.starts_with(word)) {
        rest_.remove_prefix(word.size());
        return value;
      }
    }
    return Error("expected True or False");
  }

  // '(' [int (',' int)* [',']] ')', where an int may carry Python 2's 'L' suffix.
  absl::StatusOr<std::vector<uint64_t>> ParseShape() {
    if (!Consume('(')) return Error("expected '(' to start the shape tuple");
    std::vector<uint64_t> shape;
    while (!Consume(')')) {
      SkipSpace();
      uint64_t dim = 0;
      const auto [end, error] = std::from_chars(rest_.data(), rest_.data() + rest_.size(), dim);
      if (error != std::errc()) return Error("expected a non-negative integer in the shape");
      rest_.remove_prefix(end - rest_.data());
      if (rest_.starts_with('L')) rest_.remove_prefix(1);
      shape.push_back(dim);
      if (!Consume(',') && !Peek(')')) return Error("expected ',' or ')' in the shape");
    }
    return shape;
  }

  void SkipSpace() {
    while (!rest_.empty() &&
           (rest_[0] == ' ' || rest_[0] == '\t' || rest_[0] == '\n' || rest_[0] == '\r')) {
      rest_.remove_prefix(1);
    }
  }

  // Skips whitespace, then consumes `c` if it comes next.
  bool Consume(char c) {
    if (!Peek(c)) return false;
    rest_.remove_prefix(1);
    return true;
  }

  bool Peek(char c) {
    SkipSpace();
    return rest_.starts_with(c);
  }

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("malformed header: ", what, " at character ",
                                                   text_.size() - rest_.size() + 1));
  }

  std::string_view text_;
  std::string_view rest_;
};

}  // namespace

absl::StatusOr<NpyHeader> ParseNpyHeader(std::string_view text) {
  return HeaderParser(text).Parse();
}

}  // namespace istar::arrays::internal
