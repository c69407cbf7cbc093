// AgreeOnStatus: one rank's failure becomes the whole group's decision (see comm/communicator.h).
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "comm/communicator.h"

namespace istar::comm {
namespace {

// The payload that marks an agreed error; its value is the rank the error came from.
constexpr char kAgreedPayload[] = "istar.comm/agreed-from-rank";

}  // namespace

// Note [Agreeing on a failure]
// One all-reduce of a vector with a 1 in each failing rank's slot tells every rank, at the same
// moment, which ranks failed; the lowest of them then broadcasts its code and message (length
// first, so that every rank passes buffers of the same size). Every rank thus returns the same
// Status and the group stops together, instead of the healthy ranks waiting in the next
// collective for a rank that has left.
absl::Status AgreeOnStatus(Communicator& group, const absl::Status& local) {
  if (group.memory() != Communicator::Memory::kHost) {
    return absl::InvalidArgumentError(
        "AgreeOnStatus needs a communicator over host memory (MPI or Local), not NCCL");
  }
  if (group.size() == 1) return local;
  std::vector<double> failed(static_cast<size_t>(group.size()), 0.0);
  failed[static_cast<size_t>(group.rank())] = local.ok() ? 0.0 : 1.0;
  ISTAR_RETURN_IF_ERROR(group.AllReduceSum(std::span<double>(failed)));
  int root = -1;
  for (size_t r = 0; r < failed.size() && root < 0; ++r) {
    if (failed[r] != 0.0) root = static_cast<int>(r);
  }
  if (root < 0) return absl::OkStatus();

  // Header: the code, then the message's length in bytes.
  std::array<int64_t, 2> header = {static_cast<int64_t>(local.code()),
                                   static_cast<int64_t>(local.message().size())};
  ISTAR_RETURN_IF_ERROR(group.Broadcast(std::as_writable_bytes(std::span<int64_t>(header)), root));
  std::string message(static_cast<size_t>(header[1]), '\0');
  if (group.rank() == root) message = std::string(local.message());
  ISTAR_RETURN_IF_ERROR(
      group.Broadcast(std::as_writable_bytes(std::span<char>(message.data(), message.size())),
                      root));
  absl::Status agreed(static_cast<absl::StatusCode>(header[0]),
                      absl::StrCat("rank ", root, ": ", message));
  agreed.SetPayload(kAgreedPayload, absl::Cord(absl::StrCat(root)));
  return agreed;
}

bool IsAgreed(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kAgreedPayload).has_value();
}

}  // namespace istar::comm
