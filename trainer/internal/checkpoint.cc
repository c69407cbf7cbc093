#include "trainer/internal/checkpoint.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "models/checkpoint.h"
#include "models/config.h"

namespace istar::trainer::internal {
namespace {

namespace fs = std::filesystem;

constexpr char kFormat[] = "istar-trainer-checkpoint";
constexpr int kFormatVersion = 1;

bool HasWeights(const fs::path& dir) {
  return fs::exists(dir / "model.safetensors") || fs::exists(dir / "pytorch_model.bin");
}

// Holds the default CPU generator's lock while its state is read or replaced (Note [Acquire
// lock when using random generators] in c10/core/GeneratorImpl.h).
at::Tensor GetCpuRngState() {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void SetCpuRngState(const at::Tensor& state) {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

absl::Status WriteState(const fs::path& path, const CheckpointState& state) {
  const nlohmann::json json = {{"format", kFormat},
                               {"version", kFormatVersion},
                               {"epoch", state.epoch},
                               {"step", state.step}};
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
      !json["step"].is_number_integer()) {
    return absl::DataLossError(absl::StrCat(path.string(), ": not an istar trainer checkpoint"));
  }
  return CheckpointState{.epoch = json["epoch"].get<int64_t>(),
                         .step = json["step"].get<int64_t>()};
}

// The complete checkpoint folder with the highest epoch: epoch-<k> holding state.json. Temporary
// folders ("epoch-<k>.tmp") never parse as a number and are skipped.
std::optional<fs::path> LatestCheckpoint(const fs::path& trial_dir) {
  std::optional<fs::path> best;
  int64_t best_epoch = -1;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(trial_dir, error)) {
    const std::string name = entry.path().filename().string();
    int64_t epoch = 0;
    if (name.rfind("epoch-", 0) != 0 || !absl::SimpleAtoi(name.substr(6), &epoch)) continue;
    if (!fs::exists(entry.path() / "state.json") || epoch <= best_epoch) continue;
    best_epoch = epoch;
    best = entry.path();
  }
  return best;
}

}  // namespace

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

absl::Status SaveCheckpoint(const std::string& trial_dir, const CheckpointState& state,
                            const models::TaskModel& model, torch::optim::Optimizer& optimizer) {
  const fs::path final_dir = fs::path(trial_dir) / absl::StrCat("epoch-", state.epoch);
  const fs::path temp_dir = fs::path(trial_dir) / absl::StrCat("epoch-", state.epoch, ".tmp");
  std::error_code error;
  fs::remove_all(temp_dir, error);
  fs::create_directories(temp_dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat(temp_dir.string(), ": ", error.message()));
  }
  ISTAR_RETURN_IF_ERROR(models::SavePretrained(model, temp_dir.string()));
  torch::serialize::OutputArchive optimizer_archive;
  optimizer.save(optimizer_archive);
  optimizer_archive.save_to((temp_dir / "optimizer.pt").string());
  torch::serialize::OutputArchive rng_archive;
  rng_archive.write("cpu_generator_state", GetCpuRngState());
  rng_archive.save_to((temp_dir / "rng.pt").string());
  // state.json last: a folder without it is incomplete, whatever else it holds.
  ISTAR_RETURN_IF_ERROR(WriteState(temp_dir / "state.json", state));
  fs::remove_all(final_dir, error);
  fs::rename(temp_dir, final_dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat(final_dir.string(), ": ", error.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<CheckpointState>> RestoreLatestCheckpoint(
    const std::string& trial_dir, models::TaskModel& model, torch::optim::Optimizer& optimizer) {
  const std::optional<fs::path> dir = LatestCheckpoint(trial_dir);
  if (!dir.has_value()) return std::optional<CheckpointState>();
  ISTAR_ASSIGN_OR_RETURN(CheckpointState state, ReadState(*dir / "state.json"));
  ISTAR_ASSIGN_OR_RETURN(
      models::LoadReport report,
      models::LoadSafetensors(model.module(), (*dir / "model.safetensors").string(),
                              {.base_model_prefix = model.base_model_prefix()}));
  if (!report.missing_keys.empty()) {
    return absl::DataLossError(
        absl::StrCat(dir->string(), ": checkpoint does not fit the model: ", report.ToString()));
  }
  torch::serialize::InputArchive optimizer_archive;
  optimizer_archive.load_from((*dir / "optimizer.pt").string());
  optimizer.load(optimizer_archive);
  torch::serialize::InputArchive rng_archive;
  rng_archive.load_from((*dir / "rng.pt").string());
  at::Tensor rng_state;
  rng_archive.read("cpu_generator_state", rng_state);
  SetCpuRngState(rng_state);
  return std::optional<CheckpointState>(state);
}

}  // namespace istar::trainer::internal
