#include "trainer/internal/trial_context.h"

#include <array>
#include <span>

#include "base/status_macros.h"
#include "regularizers/tensor_collectives.h"

namespace istar::trainer::internal {

TrialContext::TrialContext(const sweeps::TrialSpec& trial, const RunOptions& options,
                           comm::Communicator& group)
    : trial(trial),
      options(options),
      group(group),
      tensors(options.tensor_group != nullptr ? *options.tensor_group : group),
      device(options.device),
      owned_ranks(group.size() > 1 ? regularizers::MakeCrossRankSum(tensors) : nullptr),
      ranks(owned_ranks != nullptr ? *owned_ranks : regularizers::LocalSum()) {}

absl::StatusOr<double> TrialContext::SumOverRanks(double value) const {
  std::array<double, 1> sum = {value};
  if (group.size() > 1) ISTAR_RETURN_IF_ERROR(group.AllReduceSum(std::span<double>(sum)));
  return sum[0];
}

}  // namespace istar::trainer::internal
