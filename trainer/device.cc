// Devices of a worker group (trainer/device.h): the plan is pure, so that its refusals are tested
// on machines without a GPU; LibTorch is asked only how many GPUs it sees.
#include "trainer/device.h"

#include <torch/cuda.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"

namespace istar::trainer {
namespace {

// The launchers' local-rank variables, in the order they are trusted: mpirun's, Slurm's (srun),
// then torchrun's and most other launchers'.
constexpr std::array<const char*, 3> kLocalRankVariables = {"OMPI_COMM_WORLD_LOCAL_RANK",
                                                            "SLURM_LOCALID", "LOCAL_RANK"};

std::optional<int> ParseIndex(std::string_view text) {
  int value = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

// The flag's meaning: the kind, and the index of `cuda:N` (nullopt: the local rank's GPU).
struct DeviceFlag {
  enum class Kind { kCpu, kCuda, kAuto } kind = Kind::kCpu;
  std::optional<int> index;
};

absl::StatusOr<DeviceFlag> ParseFlag(std::string_view flag) {
  if (flag == "cpu") return DeviceFlag{.kind = DeviceFlag::Kind::kCpu};
  if (flag == "auto") return DeviceFlag{.kind = DeviceFlag::Kind::kAuto};
  if (flag == "cuda") return DeviceFlag{.kind = DeviceFlag::Kind::kCuda};
  if (flag.substr(0, 5) == "cuda:") {
    if (std::optional<int> index = ParseIndex(flag.substr(5))) {
      return DeviceFlag{.kind = DeviceFlag::Kind::kCuda, .index = index};
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("device: expected cpu, cuda, cuda:N or auto, got \"", std::string(flag), "\""));
}

std::string Where(size_t rank, const RankLaunch& launch) {
  return absl::StrCat("rank ", rank, " on host ", launch.host);
}

std::string Visible(const RankLaunch& launch) {
  std::string text =
      launch.visible_gpus == 0 ? "no GPU" : absl::StrCat(launch.visible_gpus, " GPU(s)");
  if (launch.cuda_visible_devices) {
    absl::StrAppend(&text, " (CUDA_VISIBLE_DEVICES=\"", *launch.cuda_visible_devices, "\")");
  }
  return text;
}

// Which physical GPU index `index` of `launch` is, for telling two ranks on one host apart.
std::string PhysicalGpu(const RankLaunch& launch, int index) {
  if (launch.cuda_visible_devices) {
    const std::vector<std::string> entries = absl::StrSplit(*launch.cuda_visible_devices, ',');
    if (static_cast<size_t>(index) < entries.size()) {
      return absl::StrCat("CUDA_VISIBLE_DEVICES entry \"", entries[static_cast<size_t>(index)],
                          "\"");
    }
  }
  return absl::StrCat("cuda:", index);
}

// Rank r's GPU index under `flag` (kind cuda).
absl::StatusOr<int> GpuIndex(const DeviceFlag& flag, std::span<const RankLaunch> launches,
                             size_t r) {
  const RankLaunch& launch = launches[r];
  if (launch.visible_gpus == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        Where(r, launch), " is to train on cuda but its LibTorch sees ", Visible(launch),
        ": a CPU-only LibTorch (Debian's is; see docs/building.md, \"The GPU build\"), no driver, "
        "or no GPU on this node; use --device cpu or auto"));
  }
  if (flag.index) {
    if (*flag.index >= launch.visible_gpus) {
      return absl::FailedPreconditionError(absl::StrCat(
          Where(r, launch), ": --device cuda:", *flag.index, " but it sees ", Visible(launch)));
    }
    return *flag.index;
  }
  const bool bound = launch.visible_gpus == 1 && launch.cuda_visible_devices &&
                     launch.cuda_visible_devices->find(',') == std::string::npos;
  if (bound) return 0;  // the launcher gave this rank its own GPU
  int local = 0;
  std::string source = "its place among the ranks on its host";
  if (launch.local_rank) {
    local = *launch.local_rank;
    source = launch.local_rank_source;
  } else {
    for (size_t s = 0; s < r; ++s) local += launches[s].host == launch.host ? 1 : 0;
  }
  if (local >= launch.visible_gpus) {
    return absl::FailedPreconditionError(
        absl::StrCat(Where(r, launch), " has local rank ", local, " (", source, ") but sees ",
                     Visible(launch), ": start at most as many ranks per node as it has GPUs"));
  }
  return local;
}

}  // namespace

absl::StatusOr<RankLaunch> ParseRankLaunch(const std::function<const char*(const char*)>& getenv,
                                           std::string host, int visible_gpus) {
  RankLaunch launch{.host = std::move(host), .visible_gpus = visible_gpus};
  for (const char* name : kLocalRankVariables) {
    const char* value = getenv(name);
    if (value == nullptr) continue;
    const std::optional<int> local = ParseIndex(value);
    if (!local) {
      return absl::InvalidArgumentError(absl::StrCat("environment variable ", name, "=\"", value,
                                                     "\" is not a non-negative integer"));
    }
    launch.local_rank = *local;
    launch.local_rank_source = name;
    break;
  }
  if (const char* visible = getenv("CUDA_VISIBLE_DEVICES")) launch.cuda_visible_devices = visible;
  return launch;
}

absl::StatusOr<RankLaunch> ReadRankLaunch() {
  std::array<char, 256> host{};
  gethostname(host.data(), host.size() - 1);
  return ParseRankLaunch([](const char* name) { return std::getenv(name); }, host.data(),
                         static_cast<int>(torch::cuda::device_count()));
}

absl::StatusOr<std::vector<std::string>> PlanDevices(std::string_view flag_text,
                                                     std::span<const RankLaunch> launches) {
  ISTAR_ASSIGN_OR_RETURN(const DeviceFlag flag, ParseFlag(flag_text));
  std::vector<bool> cuda(launches.size());
  for (size_t r = 0; r < launches.size(); ++r) {
    cuda[r] = flag.kind == DeviceFlag::Kind::kCuda ||
              (flag.kind == DeviceFlag::Kind::kAuto && launches[r].visible_gpus > 0);
    if (cuda[r] != cuda[0]) {
      const size_t g = cuda[r] ? r : 0;
      const size_t c = cuda[r] ? 0 : r;
      return absl::FailedPreconditionError(
          absl::StrCat("ranks disagree on the device: ", Where(g, launches[g]),
                       " would train on cuda (it sees ", Visible(launches[g]), "), ",
                       Where(c, launches[c]), " on cpu (it sees ", Visible(launches[c]),
                       "); every rank of a worker group trains on the same kind of "
                       "device: give --device cpu or cuda, or start the group on alike nodes"));
    }
  }
  std::vector<std::string> devices(launches.size(), "cpu");
  if (launches.empty() || !cuda[0]) return devices;
  std::map<std::pair<std::string, std::string>, size_t> owner;  // (host, GPU) -> rank
  for (size_t r = 0; r < launches.size(); ++r) {
    ISTAR_ASSIGN_OR_RETURN(const int index, GpuIndex(flag, launches, r));
    const std::string gpu = PhysicalGpu(launches[r], index);
    const auto [it, added] = owner.emplace(std::make_pair(launches[r].host, gpu), r);
    if (!added) {
      return absl::FailedPreconditionError(
          absl::StrCat("ranks ", it->second, " and ", r, " on host ", launches[r].host,
                       " would both train on GPU ", gpu,
                       ": one GPU per rank (with mpirun or srun, give "
                       "--device cuda, not cuda:N, so that each rank takes its local rank's GPU)"));
    }
    devices[r] = absl::StrCat("cuda:", index);
  }
  return devices;
}

absl::StatusOr<std::vector<std::string>> ShareGpusAmongGroups(std::string_view flag_text,
                                                              const RankLaunch& machine, int groups,
                                                              int ranks) {
  ISTAR_ASSIGN_OR_RETURN(const DeviceFlag flag, ParseFlag(flag_text));
  const bool cuda = flag.kind == DeviceFlag::Kind::kCuda ||
                    (flag.kind == DeviceFlag::Kind::kAuto && machine.visible_gpus > 0);
  if (!cuda || flag.index) return std::vector<std::string>();
  const int needed = groups * ranks;
  if (machine.visible_gpus < needed) {
    return absl::FailedPreconditionError(absl::StrCat(
        groups, " worker group(s) of ", ranks, " rank(s) need ", needed,
        " GPUs, one per rank, "
        "but this machine's LibTorch sees ",
        Visible(machine), ": start at most ", machine.visible_gpus / std::max(ranks, 1),
        " group(s) (--workers), or --device cpu"));
  }
  std::vector<std::string> gpus;
  if (machine.cuda_visible_devices) gpus = absl::StrSplit(*machine.cuda_visible_devices, ',');
  for (int i = static_cast<int>(gpus.size()); i < machine.visible_gpus; ++i) {
    gpus.push_back(absl::StrCat(i));
  }
  std::vector<std::string> shares;
  for (int g = 0; g < groups; ++g) {
    std::vector<std::string> block(gpus.begin() + g * ranks, gpus.begin() + (g + 1) * ranks);
    shares.push_back(absl::StrJoin(block, ","));
  }
  return shares;
}

namespace {

nlohmann::json ToJson(const RankLaunch& launch) {
  return {{"host", launch.host},
          {"local_rank", launch.local_rank ? *launch.local_rank : -1},
          {"local_rank_source", launch.local_rank_source},
          {"visible_gpus", launch.visible_gpus},
          {"cuda_visible_devices", launch.cuda_visible_devices.value_or("")},
          {"cuda_visible_devices_set", launch.cuda_visible_devices.has_value()}};
}

RankLaunch FromJson(const nlohmann::json& json) {
  RankLaunch launch{.host = json.at("host").get<std::string>(),
                    .local_rank_source = json.at("local_rank_source").get<std::string>(),
                    .visible_gpus = json.at("visible_gpus").get<int>()};
  if (const int local = json.at("local_rank").get<int>(); local >= 0) launch.local_rank = local;
  if (json.at("cuda_visible_devices_set").get<bool>()) {
    launch.cuda_visible_devices = json.at("cuda_visible_devices").get<std::string>();
  }
  return launch;
}

// Every rank's launch on every rank: lengths first, then the JSON texts padded with spaces.
absl::StatusOr<std::vector<RankLaunch>> ExchangeLaunches(comm::Communicator& group,
                                                         const RankLaunch& mine) {
  std::string text = ToJson(mine).dump();
  std::vector<double> lengths(static_cast<size_t>(group.size()), 0.0);
  lengths[static_cast<size_t>(group.rank())] = static_cast<double>(text.size());
  ISTAR_RETURN_IF_ERROR(group.AllReduceSum(std::span<double>(lengths)));
  double longest = 0.0;
  for (double length : lengths) longest = std::max(longest, length);
  text.resize(static_cast<size_t>(longest), ' ');
  ISTAR_ASSIGN_OR_RETURN(const std::vector<std::byte> all,
                         comm::AllGatherBytes(group, std::as_bytes(std::span(text))));
  std::vector<RankLaunch> launches;
  for (size_t r = 0; r < lengths.size(); ++r) {
    const char* begin = reinterpret_cast<const char*>(all.data()) + r * text.size();
    launches.push_back(FromJson(nlohmann::json::parse(begin, begin + text.size())));
  }
  return launches;
}

}  // namespace

absl::StatusOr<GroupDevice> SetUpGroupDevice(comm::Communicator& group, std::string_view flag) {
  absl::StatusOr<RankLaunch> mine = ReadRankLaunch();
  ISTAR_RETURN_IF_ERROR(comm::AgreeOnStatus(group, mine.status()));
  ISTAR_ASSIGN_OR_RETURN(const std::vector<RankLaunch> launches, ExchangeLaunches(group, *mine));
  // Every rank plans from the same facts, so the plan (or its error) is the same everywhere;
  // agreeing marks the error as the group's, so that the ranks end together.
  absl::StatusOr<std::vector<std::string>> plan = PlanDevices(flag, launches);
  ISTAR_RETURN_IF_ERROR(comm::AgreeOnStatus(group, plan.status()));
  GroupDevice device{.device = (*plan)[static_cast<size_t>(group.rank())]};
  if (device.device != "cpu" && group.rank() == 0) {
    std::string where;
    for (size_t r = 0; r < plan->size(); ++r) {
      absl::StrAppend(&where, r == 0 ? "" : ", ", "rank ", r, " ", launches[r].host, ":",
                      (*plan)[r]);
    }
    std::cerr << "istar: " << plan->size() << " rank(s) on GPUs: " << where << "\n";
  }
  if (device.device == "cpu" || group.size() == 1) return device;
  const int index = *ParseIndex(std::string_view(device.device).substr(5));
  absl::StatusOr<std::unique_ptr<comm::Communicator>> nccl =
      comm::CreateNcclCommunicator(group, index);
  if (absl::IsUnimplemented(nccl.status())) {
    if (group.rank() == 0) {
      std::cerr << "istar: warning: built without NCCL: the GPU group all-reduces over MPI "
                   "through pinned host buffers (slower; docs/training.md, \"Devices\")\n";
    }
    return device;
  }
  ISTAR_RETURN_IF_ERROR(comm::AgreeOnStatus(group, nccl.status()));
  device.tensors = *std::move(nccl);
  return device;
}

}  // namespace istar::trainer
