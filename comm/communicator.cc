// The Communicator's default asynchronous collectives (a blocking call, returned done) and
// AllGatherBytes (see comm/communicator.h).
#include "comm/communicator.h"

#include <algorithm>

#include "base/status_macros.h"

namespace istar::comm {
namespace {

// A collective that had finished before Start returned: Finish reports its outcome.
class Done final : public Communicator::Pending {
 public:
  explicit Done(absl::Status status) : status_(std::move(status)) {}
  absl::Status Finish(Communicator::Stream) override { return status_; }

 private:
  absl::Status status_;
};

template <typename T>
absl::StatusOr<std::unique_ptr<Communicator::Pending>> StartBlocking(Communicator& group,
                                                                     std::span<T> data) {
  ISTAR_RETURN_IF_ERROR(group.AllReduceSum(data));
  return std::unique_ptr<Communicator::Pending>(std::make_unique<Done>(absl::OkStatus()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Communicator::Pending>> Communicator::StartAllReduceSum(
    std::span<float> data, Stream) {
  return StartBlocking(*this, data);
}

absl::StatusOr<std::unique_ptr<Communicator::Pending>> Communicator::StartAllReduceSum(
    std::span<double> data, Stream) {
  return StartBlocking(*this, data);
}

absl::Status Communicator::BroadcastOnStream(std::span<std::byte> data, int root, Stream) {
  return Broadcast(data, root);
}

absl::StatusOr<std::vector<std::byte>> AllGatherBytes(Communicator& group,
                                                      std::span<const std::byte> mine) {
  if (group.memory() != Communicator::Memory::kHost) {
    return absl::InvalidArgumentError("AllGatherBytes needs a communicator over host memory");
  }
  const size_t n = mine.size();
  std::vector<std::byte> all(n * static_cast<size_t>(group.size()));
  for (int root = 0; root < group.size(); ++root) {
    const std::span<std::byte> slot(all.data() + static_cast<size_t>(root) * n, n);
    if (root == group.rank()) std::copy(mine.begin(), mine.end(), slot.begin());
    ISTAR_RETURN_IF_ERROR(group.Broadcast(slot, root));
  }
  return all;
}

}  // namespace istar::comm
