// File: comm/internal/mpi_status.h
// -----------------------------------------------------------------------------
// ISTAR_MPI_RETURN_IF_ERROR(call, "reason"): runs an MPI call and, if it does not return
// MPI_SUCCESS, returns from the enclosing function
//   Internal: comm/mpi_communicator.cc:NN: MPI '<MPI_Error_string text>': reason
// MPI reports errors as return codes only on communicators whose error handler is
// MPI_ERRORS_RETURN (CreateMpiCommunicator sets it); otherwise the default handler aborts the job.
#ifndef ISTAR_COMM_INTERNAL_MPI_STATUS_H_
#define ISTAR_COMM_INTERNAL_MPI_STATUS_H_

#include <mpi.h>

#include <string_view>

#include "absl/status/status.h"

namespace istar::comm::internal {

// Returns OK for MPI_SUCCESS, otherwise the kInternal status described above.
absl::Status MpiStatus(int code, const char* file, int line, std::string_view reason);

}  // namespace istar::comm::internal

#define ISTAR_MPI_RETURN_IF_ERROR(call, reason)                                                \
  do {                                                                                         \
    const int istar_mpi_code = (call);                                                         \
    if (istar_mpi_code != MPI_SUCCESS) {                                                       \
      return ::istar::comm::internal::MpiStatus(istar_mpi_code, __FILE__, __LINE__, (reason)); \
    }                                                                                          \
  } while (false)

#endif  // ISTAR_COMM_INTERNAL_MPI_STATUS_H_
