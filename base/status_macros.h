// File: base/status_macros.h
// -----------------------------------------------------------------------------
// Early-return macros for absl::Status and absl::StatusOr<T>, which Debian's Abseil (20220623)
// does not provide.
//
// Example:
//
//   absl::StatusOr<Matrix> LoadPoints(const std::string& path) {
//     ISTAR_ASSIGN_OR_RETURN(Array array, arrays::ReadArrayFile(path));
//     ISTAR_RETURN_IF_ERROR(CheckTwoDimensional(array, path));
//     return ToMatrix(array);
//   }
//
// Thread safety: macros only; no state.
#ifndef ISTAR_BASE_STATUS_MACROS_H_
#define ISTAR_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if it is not OK.
#define ISTAR_RETURN_IF_ERROR(expr)                         \
  do {                                                      \
    ::absl::Status istar_status_macro_status = (expr);      \
    if (!istar_status_macro_status.ok()) {                  \
      return istar_status_macro_status;                     \
    }                                                       \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status if it is not OK, otherwise moves its
// value into `lhs`, which may be a declaration (`Matrix m`) or an existing variable.
#define ISTAR_ASSIGN_OR_RETURN(lhs, rexpr) \
  ISTAR_ASSIGN_OR_RETURN_IMPL_(            \
      ISTAR_STATUS_MACROS_CONCAT_(istar_statusor_, __LINE__), lhs, rexpr)

#define ISTAR_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) {                                    \
    return std::move(statusor).status();                   \
  }                                                        \
  lhs = std::move(statusor).value()

#define ISTAR_STATUS_MACROS_CONCAT_INNER_(a, b) a##b
#define ISTAR_STATUS_MACROS_CONCAT_(a, b) ISTAR_STATUS_MACROS_CONCAT_INNER_(a, b)

#endif  // ISTAR_BASE_STATUS_MACROS_H_
