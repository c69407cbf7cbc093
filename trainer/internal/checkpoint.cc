#include "trainer/internal/checkpoint.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "models/checkpoint.h"
#include "models/config.h"
#include "trainer/internal/epoch_shrinkage.h"

namespace istar::trainer::internal {
namespace {

namespace fs = std::filesystem;

constexpr char kFormat[] = "istar-trainer-checkpoint";
constexpr int kFormatVersion = 1;

bool HasWeights(const fs::path& dir) {
  return fs::exists(dir / "model.safetensors") || fs::exists(dir / "pytorch_model.bin");
}

// rng.pt's `name` state (this saving process's), or row `rank` of `name`_by_rank when present.
std::optional<at::Tensor> ReadRngState(torch::serialize::InputArchive& archive,
                                       const std::string& name, int rank) {
  at::Tensor state;
  if (!archive.try_read(name, state)) return std::nullopt;
  at::Tensor by_rank;
  if (archive.try_read(name + "s_by_rank", by_rank) && rank < by_rank.size(0)) {
    state = by_rank[rank].clone();
  }
  return state;
}

absl::Status WriteState(const fs::path& path, const CheckpointState& state) {
  const nlohmann::json json = {{"format", kFormat},
                               {"version", kFormatVersion},
                               {"epoch", state.epoch},
                               {"step", state.step},
                               {"mid_epoch", state.mid_epoch}};
  std::ofstream out(path, std::ios::trunc);
  out << json.dump(2) << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat(path.string(), ": cannot write the file"));
  return absl::OkStatus();
}

absl::StatusOr<CheckpointState> ReadState(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json json =
      nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || json.value("format", "") != kFormat ||
      json.value("version", 0) != kFormatVersion || !json.contains("epoch") ||
      !json.contains("step") || !json["epoch"].is_number_integer() ||
      !json["step"].is_number_integer() ||
      (json.contains("mid_epoch") && !json["mid_epoch"].is_boolean())) {
    return absl::DataLossError(absl::StrCat(path.string(), ": not an istar trainer checkpoint"));
  }
  return CheckpointState{.epoch = json["epoch"].get<int64_t>(),
                         .step = json["step"].get<int64_t>(),
                         .mid_epoch = json.value("mid_epoch", false)};
}

// A checkpoint folder's number: k of "epoch-<k>" or "step-<k>"; nullopt for anything else,
// temporary folders ("epoch-<k>.tmp") included.
std::optional<int64_t> CheckpointNumber(const std::string& name, std::string_view prefix) {
  int64_t number = 0;
  if (name.rfind(prefix, 0) != 0 || !absl::SimpleAtoi(name.substr(prefix.size()), &number)) {
    return std::nullopt;
  }
  return number;
}

struct FoundCheckpoint {
  fs::path dir;
  CheckpointState state;
};

// The complete checkpoint (a folder holding state.json) with the most steps; an epoch checkpoint
// wins a tie with a preemption checkpoint of the same step. DataLoss for an unreadable state.json.
absl::StatusOr<std::optional<FoundCheckpoint>> LatestCheckpoint(const fs::path& trial_dir) {
  std::optional<FoundCheckpoint> best;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(trial_dir, error)) {
    const std::string name = entry.path().filename().string();
    if (!CheckpointNumber(name, "epoch-") && !CheckpointNumber(name, "step-")) continue;
    if (!fs::exists(entry.path() / "state.json")) continue;
    ISTAR_ASSIGN_OR_RETURN(const CheckpointState state, ReadState(entry.path() / "state.json"));
    const bool better = !best.has_value() || state.step > best->state.step ||
                        (state.step == best->state.step && best->state.mid_epoch);
    if (better) best = FoundCheckpoint{entry.path(), state};
  }
  return best;
}

// Removes the trial's preemption checkpoints (step-*), superseded by a newer checkpoint.
void RemovePreemptionCheckpoints(const fs::path& trial_dir, const fs::path& keep) {
  std::error_code error;
  std::vector<fs::path> superseded;
  for (const fs::directory_entry& entry : fs::directory_iterator(trial_dir, error)) {
    if (entry.path() != keep && CheckpointNumber(entry.path().filename().string(), "step-")) {
      superseded.push_back(entry.path());
    }
  }
  for (const fs::path& dir : superseded) fs::remove_all(dir, error);
}

}  // namespace

// Holds the default CPU generator's lock while its state is read or replaced (Note [Acquire
// lock when using random generators] in c10/core/GeneratorImpl.h).
at::Tensor RngState(const at::Device& device) {
  at::Generator generator = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void SetRngState(const at::Device& device, const at::Tensor& state) {
  at::Generator generator = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

absl::StatusOr<TrialModel> LoadTrialModel(const std::string& dir, models::Head head,
                                          int64_t num_labels, uint64_t seed) {
  TrialModel loaded;
  if (fs::exists(fs::path(dir) / "config.json") && !HasWeights(dir)) {
    // See docs/training.md, "Model folders": a folder without weights is a random model.
    ISTAR_ASSIGN_OR_RETURN(models::ModelConfig config,
                           models::ReadModelConfig((fs::path(dir) / "config.json").string()));
    ISTAR_ASSIGN_OR_RETURN(loaded.model, models::CreateModel(config, head, num_labels, seed));
    ISTAR_ASSIGN_OR_RETURN(loaded.tokenizer, tokenizers::LoadTokenizerFromFolder(dir));
    loaded.random_init = true;
    return loaded;
  }
  ISTAR_ASSIGN_OR_RETURN(
      models::LoadedModel pretrained,
      models::LoadPretrained(dir, head, {.num_labels = num_labels, .seed = seed}));
  if (pretrained.tokenizer == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(dir, ": no tokenizer (tokenizer.json, vocab.txt or spiece.model)"));
  }
  loaded.model = std::move(pretrained.model);
  loaded.tokenizer = std::move(pretrained.tokenizer);
  return loaded;
}

// Note [Generators of a worker group]
// Every rank of a group seeds its CPU generator alike, then draws dropout masks for its own
// shard, so the ranks' generators part ways. Rank 0 alone writes a checkpoint, so the ranks'
// states are gathered first (Loop::GatherRngStates: each rank fills its row of an [R, S] buffer
// of zeros and a sum all-reduce gives every row to all) and saved as
// "cpu_generator_states_by_rank" beside rank 0's own "cpu_generator_state"; each rank restores
// its row. Without them (a checkpoint of one process, or of an older istar) every rank restores
// the saving process's state: right for one process, and for a group the dropout masks of ranks
// > 0 then differ from an uninterrupted run's. On GPUs the dropout masks come from each GPU's own
// generator (a seed and an offset), which is saved the same way, as "cuda_generator_state" and
// "cuda_generator_states_by_rank"; a GPU run that resumes a checkpoint written on CPUs keeps its
// GPU generator as seeded.

// Note [Preemption checkpoints]
// A worker group asked to stop (SIGTERM: a preempted allocation) hands its trial back to the
// queue; without a checkpoint of its own, the next attempt would redo every step since the last
// epoch checkpoint, up to a whole epoch of a large task. So the trainer then writes step-<k>/:
// the same files as an epoch checkpoint, with state.json's mid_epoch true, plus shrinkage.pt, the
// epoch's S0s: the regularizer's (I-STAR's) and every layer's and the all-layer union's behind
// the logged IsoScore*. They are estimated from the model as it was at the start of the epoch,
// which a resumed run no longer has, so they must travel with the checkpoint for the resumed
// epoch to use the same regularizer, and log the same isotropy rows, as an uninterrupted one. A
// resumed run takes the epoch's batches (a function of seed and epoch only) from step - epoch x
// steps per epoch on. The checkpoint with the most steps wins; the next checkpoint of either kind
// removes step-* folders.
namespace {

// Note [Archives through our own file]
// LibTorch 1.13's file writer throws from its destructor when the disk fills
// (~PyTorchStreamWriter -> writeEndOfFile -> c10::Error): std::terminate, measured with the
// checkpoint folder on a 200 KiB tmpfs. So an archive goes through a writer function that takes
// every byte (nothing fails on LibTorch's side) and keeps the file's first error, which becomes
// a Status: ResourceExhausted for a full disk, Internal otherwise.
absl::Status SaveArchive(torch::serialize::OutputArchive& archive, const fs::path& path) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    return absl::InternalError(absl::StrCat(path.string(), ": ", std::strerror(errno)));
  }
  int error = 0;
  archive.save_to([&](const void* data, size_t size) -> size_t {
    if (error == 0 && std::fwrite(data, 1, size, file) != size) error = errno != 0 ? errno : EIO;
    return size;
  });
  if (std::fflush(file) != 0 && error == 0) error = errno;
  if (std::fclose(file) != 0 && error == 0) error = errno;
  if (error == 0) return absl::OkStatus();
  const std::string message =
      absl::StrCat(path.string(), ": cannot write the checkpoint: ", std::strerror(error));
  return error == ENOSPC || error == EDQUOT ? absl::ResourceExhaustedError(message)
                                            : absl::InternalError(message);
}

// shrinkage.pt (docs/checkpoints.md): "shrinkage", the regularizer's S0; "layer_shrinkage",
// [L, H, H], layer l's S0 at l - 1; "all_layers_shrinkage", the all-layer union's. Each when
// defined; written from the host (Note [Checkpoints across devices]).
absl::Status SaveShrinkage(const EpochShrinkage& shrinkage, const fs::path& path) {
  torch::serialize::OutputArchive archive;
  if (shrinkage.regularizer.defined()) {
    archive.write("shrinkage", shrinkage.regularizer.to(at::kCPU));
  }
  if (shrinkage.logged()) {
    archive.write("layer_shrinkage", at::stack(shrinkage.layers).to(at::kCPU));
    archive.write("all_layers_shrinkage", shrinkage.all_layers.to(at::kCPU));
  }
  return SaveArchive(archive, path);
}

// The S0s shrinkage.pt holds, into `shrinkage`, on `device` (a checkpoint of an older istar holds
// "shrinkage" alone).
void RestoreShrinkage(const fs::path& path, const at::Device& device, EpochShrinkage& shrinkage) {
  torch::serialize::InputArchive archive;
  archive.load_from(path.string(), device);
  at::Tensor tensor;
  if (archive.try_read("shrinkage", tensor)) shrinkage.regularizer = tensor;
  at::Tensor layers;
  at::Tensor all_layers;
  if (archive.try_read("layer_shrinkage", layers) &&
      archive.try_read("all_layers_shrinkage", all_layers)) {
    shrinkage.layers.clear();
    for (int64_t l = 0; l < layers.size(0); ++l) shrinkage.layers.push_back(layers[l].clone());
    shrinkage.all_layers = all_layers;
  }
}

}  // namespace

absl::Status SaveCheckpoint(const std::string& trial_dir, const CheckpointState& state,
                            const models::TaskModel& model, torch::optim::Optimizer& optimizer,
                            const EpochShrinkage* shrinkage, const GeneratorStates* generators) {
  const std::string name =
      state.mid_epoch ? absl::StrCat("step-", state.step) : absl::StrCat("epoch-", state.epoch);
  const fs::path final_dir = fs::path(trial_dir) / name;
  const fs::path temp_dir = fs::path(trial_dir) / absl::StrCat(name, ".tmp");
  std::error_code error;
  fs::remove_all(temp_dir, error);
  fs::create_directories(temp_dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat(temp_dir.string(), ": ", error.message()));
  }
  // A checkpoint that fails half-way (a full disk) leaves nothing behind: its space is freed.
  struct RemoveUnlessRenamed {
    const fs::path& dir;
    ~RemoveUnlessRenamed() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);  // nothing left there once renamed
    }
  } cleanup{temp_dir};
  ISTAR_RETURN_IF_ERROR(models::SavePretrained(model, temp_dir.string()));
  torch::serialize::OutputArchive optimizer_archive;
  optimizer.save(optimizer_archive);
  ISTAR_RETURN_IF_ERROR(SaveArchive(optimizer_archive, temp_dir / "optimizer.pt"));
  torch::serialize::OutputArchive rng_archive;
  rng_archive.write("cpu_generator_state", RngState(at::kCPU));
  if (generators != nullptr) {
    if (generators->cpu_by_rank.defined()) {
      rng_archive.write("cpu_generator_states_by_rank", generators->cpu_by_rank);
    }
    if (generators->cuda) rng_archive.write("cuda_generator_state", RngState(*generators->cuda));
    if (generators->cuda_by_rank.defined()) {
      rng_archive.write("cuda_generator_states_by_rank", generators->cuda_by_rank);
    }
  }
  ISTAR_RETURN_IF_ERROR(SaveArchive(rng_archive, temp_dir / "rng.pt"));
  if (shrinkage != nullptr && (shrinkage->regularizer.defined() || shrinkage->logged())) {
    ISTAR_RETURN_IF_ERROR(SaveShrinkage(*shrinkage, temp_dir / "shrinkage.pt"));
  }
  // state.json last: a folder without it is incomplete, whatever else it holds.
  ISTAR_RETURN_IF_ERROR(WriteState(temp_dir / "state.json", state));
  fs::remove_all(final_dir, error);
  fs::rename(temp_dir, final_dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat(final_dir.string(), ": ", error.message()));
  }
  RemovePreemptionCheckpoints(trial_dir, final_dir);
  return absl::OkStatus();
}

// Note [Checkpoints across devices]
// Rank 0 writes a GPU group's checkpoint from its own GPU, and LibTorch archives remember each
// tensor's device: read back as they are, the AdamW moments would land on cuda:0 on every rank
// (the optimizer's next step then fails on rank 1's cuda:1), and a GPU checkpoint could not be
// resumed on a CPU at all. So the optimizer's and S0's archives are mapped onto the restoring
// rank's device on load, and S0 is written from the host. The weights are copied into the
// module's own parameters (LoadSafetensors) and the generator states are host tensors.
absl::StatusOr<std::optional<CheckpointState>> RestoreLatestCheckpoint(
    const std::string& trial_dir, models::TaskModel& model, torch::optim::Optimizer& optimizer,
    EpochShrinkage* shrinkage, int rank, at::Device device) {
  ISTAR_ASSIGN_OR_RETURN(const std::optional<FoundCheckpoint> found, LatestCheckpoint(trial_dir));
  if (!found.has_value()) return std::optional<CheckpointState>();
  const fs::path* dir = &found->dir;
  const CheckpointState state = found->state;
  ISTAR_ASSIGN_OR_RETURN(
      models::LoadReport report,
      models::LoadSafetensors(model.module(), (*dir / "model.safetensors").string(),
                              {.base_model_prefix = model.base_model_prefix()}));
  if (!report.missing_keys.empty()) {
    return absl::DataLossError(
        absl::StrCat(dir->string(), ": checkpoint does not fit the model: ", report.ToString()));
  }
  torch::serialize::InputArchive optimizer_archive;
  // See Note [Checkpoints across devices].
  optimizer_archive.load_from((*dir / "optimizer.pt").string(), device);
  optimizer.load(optimizer_archive);
  torch::serialize::InputArchive rng_archive;
  rng_archive.load_from((*dir / "rng.pt").string());
  const std::optional<at::Tensor> cpu_state =
      ReadRngState(rng_archive, "cpu_generator_state", rank);
  if (!cpu_state) {
    return absl::DataLossError(absl::StrCat(dir->string(), "/rng.pt: no cpu_generator_state"));
  }
  SetRngState(at::kCPU, *cpu_state);
  if (device.is_cuda()) {
    const std::optional<at::Tensor> cuda_state =
        ReadRngState(rng_archive, "cuda_generator_state", rank);
    if (cuda_state) SetRngState(device, *cuda_state);
  }
  if (shrinkage != nullptr && fs::exists(*dir / "shrinkage.pt")) {
    RestoreShrinkage(*dir / "shrinkage.pt", device, *shrinkage);
  }
  return std::optional<CheckpointState>(state);
}

}  // namespace istar::trainer::internal
