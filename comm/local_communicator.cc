// LocalCommunicator: the group of one (see comm/communicator.h).
#include "absl/strings/str_cat.h"
#include "comm/communicator.h"

namespace istar::comm {

absl::Status LocalCommunicator::AllReduceSum(std::span<float>) { return absl::OkStatus(); }

absl::Status LocalCommunicator::AllReduceSum(std::span<double>) { return absl::OkStatus(); }

absl::Status LocalCommunicator::Broadcast(std::span<std::byte>, int root) {
  if (root != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("broadcast root ", root, " is not a rank of a one-rank group"));
  }
  return absl::OkStatus();
}

absl::Status LocalCommunicator::Barrier() { return absl::OkStatus(); }

}  // namespace istar::comm
