// File: comm/internal/nccl_status.h
// -----------------------------------------------------------------------------
// ISTAR_NCCL_RETURN_IF_ERROR(call, "reason") and ISTAR_CUDA_RETURN_IF_ERROR(call, "reason"): run
// an NCCL or CUDA runtime call and, if it fails, return from the enclosing function
//   Internal: comm/nccl_communicator.cc:NN: NCCL 2.28 'unhandled system error': reason
//   Internal: comm/nccl_communicator.cc:NN: CUDA 'invalid device ordinal': reason
// Only compiled when istar is built with NCCL (ISTAR_HAVE_NCCL).
#ifndef ISTAR_COMM_INTERNAL_NCCL_STATUS_H_
#define ISTAR_COMM_INTERNAL_NCCL_STATUS_H_

#include <cuda_runtime.h>
#include <nccl.h>

#include "comm/internal/error_status.h"

#define ISTAR_COMM_STRINGIFY_INNER_(x) #x
#define ISTAR_COMM_STRINGIFY_(x) ISTAR_COMM_STRINGIFY_INNER_(x)

#define ISTAR_NCCL_RETURN_IF_ERROR(call, reason)                                           \
  do {                                                                                     \
    const ncclResult_t istar_nccl_result = (call);                                         \
    if (istar_nccl_result != ncclSuccess) {                                                \
      return ::istar::comm::internal::LibraryError(                                        \
          __FILE__, __LINE__,                                                              \
          "NCCL " ISTAR_COMM_STRINGIFY_(NCCL_MAJOR) "." ISTAR_COMM_STRINGIFY_(NCCL_MINOR), \
          ncclGetErrorString(istar_nccl_result), (reason));                                \
    }                                                                                      \
  } while (false)

#define ISTAR_CUDA_RETURN_IF_ERROR(call, reason)                                       \
  do {                                                                                 \
    const cudaError_t istar_cuda_error = (call);                                       \
    if (istar_cuda_error != cudaSuccess) {                                             \
      return ::istar::comm::internal::LibraryError(                                    \
          __FILE__, __LINE__, "CUDA", cudaGetErrorString(istar_cuda_error), (reason)); \
    }                                                                                  \
  } while (false)

#endif  // ISTAR_COMM_INTERNAL_NCCL_STATUS_H_
