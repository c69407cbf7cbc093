// Compiled instead of nccl_communicator.cc when CMake found no NCCL (see comm/CMakeLists.txt).
#include "comm/communicator.h"

namespace istar::comm {

absl::StatusOr<std::unique_ptr<Communicator>> CreateNcclCommunicator(Communicator&, int) {
  return absl::UnimplementedError(
      "built without NCCL: CreateNcclCommunicator needs nccl.h and libnccl at configure time");
}

}  // namespace istar::comm
