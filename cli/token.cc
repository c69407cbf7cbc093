#include "cli/token.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace istar::cli {

absl::StatusOr<std::string> ReadToken(const std::string& token_file) {
  std::string token;
  if (!token_file.empty()) {
    struct stat info = {};
    if (stat(token_file.c_str(), &info) == 0 && (info.st_mode & 077) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--token-file: ", token_file, " can be read by other users (mode ",
          absl::StrFormat("%04o", info.st_mode & 0777), "); run: chmod 600 ", token_file));
    }
    std::ifstream in(token_file);
    if (!in) return absl::NotFoundError(absl::StrCat("--token-file: cannot read ", token_file));
    std::getline(in, token);
    token = std::string(absl::StripAsciiWhitespace(token));
    if (token.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--token-file: ", token_file, " is empty"));
    }
    return token;
  }
  const char* from_environment = std::getenv(kTokenVariable);
  if (from_environment == nullptr || *from_environment == '\0') {
    return absl::InvalidArgumentError(
        absl::StrCat("no token: give --token-file FILE or set ", kTokenVariable));
  }
  return std::string(absl::StripAsciiWhitespace(from_environment));
}

}  // namespace istar::cli
