#include <iostream>

#include "cli/commands.h"

namespace istar::cli {

int ReportError(const char* command, const absl::Status& status) {
  std::cerr << "istar " << command << ": " << status.message() << "\n";
  return ExitCode(status);
}

int ExitCode(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return 2;
    default:
      return 1;
  }
}

}  // namespace istar::cli
