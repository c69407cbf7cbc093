// File: base/check.h
// -----------------------------------------------------------------------------
// ISTAR_CHECK: the spelling of a broken invariant, i.e. a bug in istar itself
// (docs/architecture.md, "Conventions").
// On failure it prints "file:line: Check failed: cond <message>" to stderr and aborts.
// Never use it on user input or on a peer's failure: those are absl::Status values.
//
// Example:
//
//   ISTAR_CHECK(stats.count >= 0) << "count went negative: " << stats.count;
//
// Thread safety: safe from any thread; the message is written with one write to stderr.
#ifndef ISTAR_BASE_CHECK_H_
#define ISTAR_BASE_CHECK_H_

#include <sstream>

namespace istar::internal {

// Collects the streamed message; its destructor prints it and aborts.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  [[noreturn]] ~CheckFailure();

  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Lets the macro below be an expression whose two branches both have type void.
struct CheckVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace istar::internal

#define ISTAR_CHECK(condition)                \
  (condition) ? (void)0                       \
              : ::istar::internal::CheckVoidify() & \
                    ::istar::internal::CheckFailure(__FILE__, __LINE__, #condition).stream()

#endif  // ISTAR_BASE_CHECK_H_
