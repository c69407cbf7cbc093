// CountingCommunicator (comm/counting_communicator.h).
#include "comm/counting_communicator.h"

#include <algorithm>

namespace istar::comm {

void CountingCommunicator::Count(int64_t bytes, int64_t& total) {
  total += bytes;
  ++calls_;
  largest_ = std::max(largest_, bytes);
}

absl::Status CountingCommunicator::AllReduceSum(std::span<float> data) {
  Count(static_cast<int64_t>(data.size_bytes()), allreduce_bytes_);
  return inner_.AllReduceSum(data);
}

absl::Status CountingCommunicator::AllReduceSum(std::span<double> data) {
  Count(static_cast<int64_t>(data.size_bytes()), allreduce_bytes_);
  return inner_.AllReduceSum(data);
}

absl::Status CountingCommunicator::Broadcast(std::span<std::byte> data, int root) {
  Count(static_cast<int64_t>(data.size_bytes()), broadcast_bytes_);
  return inner_.Broadcast(data, root);
}

absl::StatusOr<std::unique_ptr<Communicator::Pending>> CountingCommunicator::StartAllReduceSum(
    std::span<float> data, Stream stream) {
  Count(static_cast<int64_t>(data.size_bytes()), allreduce_bytes_);
  return inner_.StartAllReduceSum(data, stream);
}

absl::StatusOr<std::unique_ptr<Communicator::Pending>> CountingCommunicator::StartAllReduceSum(
    std::span<double> data, Stream stream) {
  Count(static_cast<int64_t>(data.size_bytes()), allreduce_bytes_);
  return inner_.StartAllReduceSum(data, stream);
}

absl::Status CountingCommunicator::BroadcastOnStream(std::span<std::byte> data, int root,
                                                     Stream stream) {
  Count(static_cast<int64_t>(data.size_bytes()), broadcast_bytes_);
  return inner_.BroadcastOnStream(data, root, stream);
}

}  // namespace istar::comm
