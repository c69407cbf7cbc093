// File: trainer/device.h
// -----------------------------------------------------------------------------
// Where each rank of a worker group trains (docs/training.md, "Devices"). A GPU group runs one
// rank per GPU: each rank takes the GPU of its launcher's local rank (OMPI_COMM_WORLD_LOCAL_RANK,
// SLURM_LOCALID, LOCAL_RANK, in that order) or the one `--device cuda:N` names; `--device auto`
// is cuda where LibTorch sees a GPU, else cpu. The whole group checks the choice before training:
// ranks that disagree on the kind of device, a local rank beyond the visible GPUs, or two ranks
// on one GPU end the group with a message naming the rank, its host and the GPU.
//
// This header is LibTorch-free (the command line includes it).
//
// Example (every rank of an mpirun job):
//
//   ISTAR_ASSIGN_OR_RETURN(trainer::GroupDevice device, trainer::SetUpGroupDevice(*mpi, "auto"));
//   options.device = device.device;              // "cpu" or "cuda:N"
//   options.tensor_group = device.tensors.get(); // NCCL between the GPUs, or null
//
// Thread safety: SetUpGroupDevice is a collective of the group's thread; the rest is pure.
#ifndef ISTAR_TRAINER_DEVICE_H_
#define ISTAR_TRAINER_DEVICE_H_

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "comm/communicator.h"

namespace istar::trainer {

// What one rank knows of its own launch: the facts PlanDevices decides from.
struct RankLaunch {
  std::string host;               // gethostname()
  std::optional<int> local_rank;  // from the first of the launcher variables that is set
  std::string local_rank_source;  // that variable's name, e.g. "SLURM_LOCALID"; "" if none
  int visible_gpus = 0;           // CUDA devices this process's LibTorch sees
  std::optional<std::string> cuda_visible_devices;  // CUDA_VISIBLE_DEVICES, when set
};

// Reads `getenv` (the process environment in production) for the launcher's local rank and
// CUDA_VISIBLE_DEVICES. A local-rank variable that is set but not a non-negative integer is
// InvalidArgument naming it.
[[nodiscard]] absl::StatusOr<RankLaunch> ParseRankLaunch(
    const std::function<const char*(const char*)>& getenv, std::string host, int visible_gpus);

// This process's RankLaunch: its environment, host name and LibTorch's visible GPUs.
[[nodiscard]] absl::StatusOr<RankLaunch> ReadRankLaunch();

// The device of every rank ("cpu" or "cuda:N", rank r's at [r]) for the `--device` value `flag`
// (cpu, cuda, cuda:N or auto) and every rank's launch. Without a launcher variable a rank's local
// rank is its place among the ranks on its host. A rank that sees exactly one GPU through a
// one-entry CUDA_VISIBLE_DEVICES (the launcher bound one GPU to it, as Slurm's --gpus-per-task
// does) takes that GPU whatever its local rank.
// Errors: InvalidArgument for a malformed `flag`; FailedPrecondition, naming rank, host and GPU,
// when ranks would train on different kinds of device, a rank asks for cuda but sees no GPU, a
// rank's GPU index is beyond the GPUs it sees, or two ranks on one host would share a GPU
// (the same CUDA_VISIBLE_DEVICES entry, or the same index where it is unset).
[[nodiscard]] absl::StatusOr<std::vector<std::string>> PlanDevices(
    std::string_view flag, std::span<const RankLaunch> launches);

// How `istar run` shares this machine's GPUs among `groups` worker groups of `ranks` ranks
// started beside each other (each an mpirun job, whose local ranks all start at 0): group g gets
// the CUDA_VISIBLE_DEVICES value at [g], the g-th block of `ranks` of the GPUs `machine` sees
// (its CUDA_VISIBLE_DEVICES entries, else 0..visible-1). Empty when the groups train on CPUs
// (`flag` cpu, or auto on a machine without a GPU) or `flag` names one GPU (cuda:N): nothing
// to share. FailedPrecondition when the machine has fewer GPUs than groups x ranks.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> ShareGpusAmongGroups(
    std::string_view flag, const RankLaunch& machine, int groups, int ranks);

// A rank's device and the communicator for the tensors of its steps.
struct GroupDevice {
  std::string device;  // "cpu" or "cuda:N"
  // NCCL over the ranks' GPUs for a GPU group of several ranks; null otherwise (one rank, a CPU
  // group, or a build without NCCL, whose GPU tensors then go over the host group, staged).
  std::unique_ptr<comm::Communicator> tensors;
};

// Every rank of `group` (a host-memory communicator) reads its launch, the ranks exchange them and
// each computes PlanDevices; a GPU group of several ranks then creates its NCCL communicator
// (without NCCL in the build, rank 0 prints a one-line warning and the tensors go over `group`
// through pinned host buffers). A collective; the errors are PlanDevices's and the
// communicators', agreed by all ranks (comm::IsAgreed with more than one rank).
[[nodiscard]] absl::StatusOr<GroupDevice> SetUpGroupDevice(comm::Communicator& group,
                                                           std::string_view flag);

}  // namespace istar::trainer

#endif  // ISTAR_TRAINER_DEVICE_H_
