// File: comm/internal/error_status.h
// -----------------------------------------------------------------------------
// The one shape of a C library's failure inside comm/ (docs/architecture.md, "Conventions"):
//   Internal: comm/mpi_communicator.cc:88: MPI 'MPI_ERR_ROOT: invalid root': broadcast
// i.e. the library's text, our file:line, our reason. Used by the per-library macros in
// mpi_status.h and nccl_status.h.
#ifndef ISTAR_COMM_INTERNAL_ERROR_STATUS_H_
#define ISTAR_COMM_INTERNAL_ERROR_STATUS_H_

#include <string_view>

#include "absl/status/status.h"

namespace istar::comm::internal {

// Returns `file` from its "comm/" component on ("/src/istar/comm/x.cc" -> "comm/x.cc"), so that
// messages do not depend on where the tree was checked out.
std::string_view ModuleRelativePath(std::string_view file);

// Returns kInternal "<path>:<line>: <library> '<library_text>': <reason>".
absl::Status LibraryError(std::string_view file, int line, std::string_view library,
                          std::string_view library_text, std::string_view reason);

}  // namespace istar::comm::internal

#endif  // ISTAR_COMM_INTERNAL_ERROR_STATUS_H_
