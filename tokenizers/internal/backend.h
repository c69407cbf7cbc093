// The model-specific half of a Tokenizer: text to sub-word ids with byte offsets.
#ifndef ISTAR_TOKENIZERS_INTERNAL_BACKEND_H_
#define ISTAR_TOKENIZERS_INTERNAL_BACKEND_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tokenizers/tokenizer.h"

namespace istar::tokenizers::internal {

// One sub-word of a text: its id and its byte range [begin, end) in that text.
struct Piece {
  int32_t id;
  int64_t begin;
  int64_t end;
};

// Implementations are immutable after construction, so Tokenize may run on many threads.
class Backend {
 public:
  virtual ~Backend() = default;
  // Never fails: invalid UTF-8 is read as U+FFFD (Note [Invalid UTF-8] in tokenizer.h).
  virtual std::vector<Piece> Tokenize(std::string_view text) const = 0;
  virtual std::optional<int32_t> TokenToId(std::string_view token) const = 0;
  virtual std::optional<std::string> IdToToken(int32_t id) const = 0;
  virtual int32_t vocab_size() const = 0;
};

// The spellings of a model's special tokens.
struct SpecialTokens {
  std::string cls = "[CLS]";
  std::string sep = "[SEP]";
  std::string pad = "[PAD]";
  std::string unk = "[UNK]";
  std::string mask = "[MASK]";
};

// Wraps `backend` in a Tokenizer after looking up the special ids. Returns InvalidArgument naming
// `source` if the vocabulary lacks cls, sep or unk (pad and mask become -1 when absent).
[[nodiscard]] absl::StatusOr<std::unique_ptr<Tokenizer>> MakeTokenizer(
    std::unique_ptr<const Backend> backend, const SpecialTokens& special,
    const std::string& source);

}  // namespace istar::tokenizers::internal

#endif  // ISTAR_TOKENIZERS_INTERNAL_BACKEND_H_
