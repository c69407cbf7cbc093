// Reading the small text files a tokenizer is made of.
#ifndef ISTAR_TOKENIZERS_INTERNAL_FILES_H_
#define ISTAR_TOKENIZERS_INTERNAL_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace istar::tokenizers::internal {

// The whole file. Returns NotFound if it does not exist or cannot be read.
[[nodiscard]] absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace istar::tokenizers::internal

#endif  // ISTAR_TOKENIZERS_INTERNAL_FILES_H_
