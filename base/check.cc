#include "base/check.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace istar::internal {

CheckFailure::CheckFailure(const char* file, int line, const char* condition) {
  stream_ << file << ":" << line << ": Check failed: " << condition << " ";
}

CheckFailure::~CheckFailure() {
  const std::string message = stream_.str() + "\n";
  std::fwrite(message.data(), 1, message.size(), stderr);
  std::fflush(stderr);
  std::abort();
}

}  // namespace istar::internal
