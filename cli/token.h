// The bearer token of the coordinator and the dashboard, and its one source: a file or the
// ISTAR_TOKEN environment variable, never the command line (a command line is visible to every
// user of the machine in `ps`).
#ifndef ISTAR_CLI_TOKEN_H_
#define ISTAR_CLI_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"

namespace istar::cli {

// The environment variable read when --token-file is not given.
inline constexpr char kTokenVariable[] = "ISTAR_TOKEN";

// The token: the first line of `token_file` (surrounding whitespace removed), or $ISTAR_TOKEN.
// InvalidArgument if neither is given or the token is empty; NotFound for an unreadable file;
// FailedPrecondition for a file other users can read.
[[nodiscard]] absl::StatusOr<std::string> ReadToken(const std::string& token_file);

}  // namespace istar::cli

#endif  // ISTAR_CLI_TOKEN_H_
