// Data-parallel training steps on R ranks against one process: a standalone program (not Google
// Benchmark, since every rank of an mpirun job runs it) that times optimizer steps of a small BERT
// on one fixed global batch and counts the bytes the step all-reduces. Each rank trains on its
// shard of the batch (trainer/data_parallel.h); the regularizer is global (ComputeStepLoss over a
// CrossRankSum of the group). Rank 0 prints one line of key=value pairs.
//
//   build/bench/istar_data_parallel_bench --regularizer istar --threads 2
//   mpirun -np 2 build/bench/istar_data_parallel_bench --regularizer istar --threads 1
//
// bench/run_data_parallel.sh runs both for every regularizer and prints the table.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/nn/module.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "comm/communicator.h"
#include "comm/counting_communicator.h"
#include "models/config.h"
#include "models/model.h"
#include "regularizers/isotropy.h"
#include "regularizers/tensor_collectives.h"
#include "sweeps/sweep.h"
#include "trainer/data_parallel.h"
#include "trainer/device.h"
#include "trainer/loss.h"

namespace {

constexpr int64_t kVocab = 1000;
constexpr char kUsage[] =
    "usage: istar_data_parallel_bench [--regularizer baseline|cosreg|istar] [--batch 32]\n"
    "         [--seq 64] [--hidden 256] [--layers 4] [--heads 4] [--intermediate 1024]\n"
    "         [--steps 10] [--warmup 2] [--threads N] [--schedule overlapped|after-backward]\n"
    "         [--device auto|cpu|cuda] [--bucket-kib 25600]\n"
    "Times optimizer steps of a small BERT on one fixed global batch of --batch rows, split\n"
    "over the ranks of the mpirun job (one process without mpirun). --threads sets LibTorch's\n"
    "intra-op threads per rank (default: LibTorch's). --schedule: gradient buckets all-reduced\n"
    "as the backward pass fills them (the trainer's) or all after it. --device: as istar train's\n"
    "(each rank its local rank's GPU; NCCL between GPUs). Rank 0 prints one key=value line.\n";

struct Flags {
  std::string regularizer = "baseline";
  int64_t batch = 32;    // global rows per step, split over the ranks
  int64_t seq = 64;      // padded sequence length
  int64_t hidden = 256;  // d, the width the regularizers see
  int64_t layers = 4;
  int64_t heads = 4;
  int64_t intermediate = 1024;
  int64_t steps = 10;   // timed steps
  int64_t warmup = 2;   // untimed steps first
  int64_t threads = 0;  // 0: LibTorch's default
  std::string schedule = "overlapped";
  int64_t bucket_kib = 25 * 1024;  // GradientAverager's bucket size (DDP's 25 MiB)
  std::string device = "cpu";
};

// Parses argv; a message and std::nullopt for a bad flag (the caller exits 2).
std::optional<Flags> ParseFlags(int argc, char** argv, bool& help) {
  Flags flags;
  const std::vector<std::pair<std::string, int64_t*>> numbers = {
      {"--batch", &flags.batch},     {"--seq", &flags.seq},
      {"--hidden", &flags.hidden},   {"--layers", &flags.layers},
      {"--heads", &flags.heads},     {"--intermediate", &flags.intermediate},
      {"--steps", &flags.steps},     {"--warmup", &flags.warmup},
      {"--threads", &flags.threads}, {"--bucket-kib", &flags.bucket_kib}};
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    if (name == "--help" || name == "-h") {
      help = true;
      return flags;
    }
    if (i + 1 >= argc) {
      std::cerr << "istar_data_parallel_bench: " << name << ": unknown flag or missing value\n";
      return std::nullopt;
    }
    const std::string value = argv[++i];
    if (name == "--regularizer" || name == "--schedule" || name == "--device") {
      std::string& text = name == "--regularizer" ? flags.regularizer
                          : name == "--schedule"  ? flags.schedule
                                                  : flags.device;
      text = value;
      continue;
    }
    auto it = std::find_if(numbers.begin(), numbers.end(),
                           [&](const auto& entry) { return entry.first == name; });
    if (it == numbers.end()) {
      std::cerr << "istar_data_parallel_bench: unknown flag " << name << "\n";
      return std::nullopt;
    }
    if (!absl::SimpleAtoi(value, it->second) || *it->second < 0) {
      std::cerr << "istar_data_parallel_bench: " << name << ": expected a non-negative integer, got '"
                << value << "'\n";
      return std::nullopt;
    }
  }
  return flags;
}

// The checks the model and the loss would otherwise fail on less clearly: "" when fine.
std::string CheckFlags(const Flags& f) {
  if (f.regularizer != "baseline" && f.regularizer != "cosreg" && f.regularizer != "istar") {
    return "--regularizer: expected baseline, cosreg or istar, got '" + f.regularizer + "'";
  }
  if (f.seq < 2 || f.hidden < 2 || f.layers < 1 || f.heads < 1 || f.intermediate < 1) {
    return "--seq and --hidden must be at least 2, --layers, --heads and --intermediate at least 1";
  }
  if (f.hidden % f.heads != 0) return "--hidden must be a multiple of --heads";
  if (f.steps < 1) return "--steps must be at least 1";
  if (f.bucket_kib < 1) return "--bucket-kib must be at least 1";
  if (f.schedule != "overlapped" && f.schedule != "after-backward") {
    return "--schedule: expected overlapped or after-backward, got '" + f.schedule + "'";
  }
  return "";
}

// The regularizer's collectives (through MakeCrossRankSum) and the gradient buckets (through
// GradientAverager) each go through a counting decorator of their own over the same
// communicator, so that their bytes are measured where they happen rather than computed.
using istar::comm::CountingCommunicator;

istar::models::ModelConfig BenchConfig(const Flags& f) {
  istar::models::ModelConfig config =
      istar::models::DefaultConfig(istar::models::Architecture::kBert);
  config.vocab_size = kVocab;
  config.hidden_size = f.hidden;
  config.embedding_size = f.hidden;  // BERT: equal to hidden_size
  config.num_hidden_layers = f.layers;
  config.num_attention_heads = f.heads;
  config.intermediate_size = f.intermediate;
  config.max_position_embeddings = std::max<int64_t>(f.seq, 128);
  return config;
}

istar::trainer::RegularizerSettings MakeRegularizer(const Flags& f) {
  istar::trainer::RegularizerSettings settings;
  if (f.regularizer == "cosreg") {
    settings = {.name = "cosreg", .lambda = 1.0};
  } else if (f.regularizer == "istar") {
    settings = {.name = "istar", .lambda = -1.0, .zeta = 0.2};
    // S0: the sample covariance of random points, made once (seeded: the same on every rank).
    at::manual_seed(2);
    const at::Tensor sample = at::randn({4096, f.hidden}, at::kDouble);
    settings.shrinkage = sample.t().mm(sample) / 4095.0;
  }
  return settings;
}

// One fixed global batch, the same on every rank: random ids, lengths seq/2..seq, labels 0/1.
struct GlobalBatch {
  at::Tensor ids, mask, labels;
};

GlobalBatch MakeGlobalBatch(const Flags& f) {
  at::manual_seed(0);
  GlobalBatch batch;
  batch.ids = at::randint(1, kVocab, {f.batch, f.seq}, at::kLong);
  const at::Tensor lengths = at::randint(f.seq / 2, f.seq + 1, {f.batch, 1}, at::kLong);
  batch.mask = (at::arange(f.seq, at::kLong).unsqueeze(0) < lengths).to(at::kLong);
  batch.ids = batch.ids * batch.mask;  // padding id 0 after each sequence's end
  batch.labels = at::randint(0, 2, {f.batch}, at::kLong);
  return batch;
}

// What one rank needs for its steps.
struct Trainer {
  std::unique_ptr<istar::models::TaskModel> model;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::unique_ptr<istar::trainer::GradientAverager> averager;
  std::unique_ptr<istar::regularizers::CrossRankSum> cross_rank_sum;  // null for one rank
  istar::trainer::RegularizerSettings regularizer;
  istar::models::Batch shard;
  at::Tensor labels;
  int64_t global_rows = 0;
  std::vector<int64_t> layers;  // 1..L
};

// The step's communicators: the regularizer's and the gradients' all-reduces are counted apart,
// over the same communicator of the tensors (NCCL between GPUs, else the MPI group); `host` is
// the MPI group (barriers).
struct Groups {
  istar::comm::Communicator& host;
  CountingCommunicator& loss;
  CountingCommunicator& gradients;
};

absl::StatusOr<Trainer> MakeTrainer(const Flags& f, Groups& groups, const at::Device& device) {
  Trainer t;
  ISTAR_ASSIGN_OR_RETURN(
      t.model, istar::models::CreateModel(BenchConfig(f),
                                          istar::models::Head::kSequenceClassification, 2, 1));
  torch::nn::Module& module = t.model->module();
  module.to(device);
  ISTAR_RETURN_IF_ERROR(istar::trainer::BroadcastModule(groups.loss, module));
  module.train();
  t.optimizer = std::make_unique<torch::optim::AdamW>(
      module.parameters(), torch::optim::AdamWOptions(1e-4).weight_decay(0.0));
  istar::trainer::GradientAverager::Options options{.bucket_bytes = f.bucket_kib << 10};
  if (f.schedule == "after-backward") {
    options.schedule = istar::trainer::GradientAverager::Schedule::kAfterBackward;
  }
  t.averager = std::make_unique<istar::trainer::GradientAverager>(groups.gradients,
                                                                  module.parameters(), options);
  if (groups.loss.size() > 1) t.cross_rank_sum = istar::regularizers::MakeCrossRankSum(groups.loss);
  t.regularizer = MakeRegularizer(f);
  if (t.regularizer.shrinkage.defined())
    t.regularizer.shrinkage = t.regularizer.shrinkage.to(device);
  const GlobalBatch batch = MakeGlobalBatch(f);
  const istar::trainer::Shard rows =
      istar::trainer::ShardOf(f.batch, groups.host.rank(), groups.host.size());
  t.shard = {.input_ids = batch.ids.slice(0, rows.begin, rows.end).to(device),
             .attention_mask = batch.mask.slice(0, rows.begin, rows.end).to(device)};
  t.labels = batch.labels.slice(0, rows.begin, rows.end).to(device);
  t.global_rows = f.batch;
  t.layers.resize(static_cast<size_t>(f.layers));
  std::iota(t.layers.begin(), t.layers.end(), 1);
  return t;
}

// Bytes all-reduced by one step, by whom.
struct StepSample {
  double ms = 0.0;
  double average_ms = 0.0;     // in Average(), after backward(): communication not overlapped
  int64_t loss_bytes = 0;      // regularizer (forward and backward) plus the task loss's sum
  int64_t gradient_bytes = 0;  // GradientAverager's buckets
  int64_t calls = 0;
};

// Waits for the work queued on `device` (a GPU's stream; nothing on a CPU), so that the clock
// reads the end of the step rather than of its queueing.
void Synchronize(const at::Device& device) {
  if (!device.is_cuda()) return;
  c10::impl::VirtualGuardImpl guard(device.type());
  guard.getStream(device).synchronize();
}

// One optimizer step; the clock starts after a barrier so that the ranks start together.
absl::StatusOr<StepSample> Step(Trainer& t, Groups& groups, const at::Device& device) {
  using Clock = std::chrono::steady_clock;
  Synchronize(device);
  ISTAR_RETURN_IF_ERROR(groups.host.Barrier());
  const auto start = Clock::now();
  const int64_t loss0 = groups.loss.allreduce_bytes();
  const int64_t gradients0 = groups.gradients.allreduce_bytes();
  const int64_t calls0 = groups.loss.calls() + groups.gradients.calls();
  t.optimizer->zero_grad();
  const istar::models::ModelOutput out = t.model->Forward(t.shard);
  istar::trainer::PointCloud cloud;
  if (t.regularizer.name != "baseline") {
    cloud = istar::trainer::GatherPoints(out.hidden_states, t.shard.attention_mask, t.layers);
  }
  const at::Tensor task_sum = istar::trainer::ClassificationLossSum(out.logits, t.labels);
  const istar::regularizers::CrossRankSum& ranks =
      t.cross_rank_sum ? *t.cross_rank_sum : istar::regularizers::LocalSum();
  ISTAR_ASSIGN_OR_RETURN(
      const istar::trainer::StepLoss loss,
      istar::trainer::ComputeStepLoss(task_sum, t.global_rows, cloud, t.regularizer, ranks));
  loss.objective.backward();
  const auto backward_done = Clock::now();
  ISTAR_RETURN_IF_ERROR(t.averager->Average());
  const auto averaged = Clock::now();
  torch::nn::utils::clip_grad_norm_(t.model->module().parameters(), 1.0);
  t.optimizer->step();
  Synchronize(device);
  const auto end = Clock::now();
  using Ms = std::chrono::duration<double, std::milli>;
  return StepSample{.ms = Ms(end - start).count(),
                    .average_ms = Ms(averaged - backward_done).count(),
                    .loss_bytes = groups.loss.allreduce_bytes() - loss0,
                    .gradient_bytes = groups.gradients.allreduce_bytes() - gradients0,
                    .calls = groups.loss.calls() + groups.gradients.calls() - calls0};
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Runs warmup and timed steps on this rank; returns the key=value line (printed by rank 0).
absl::StatusOr<std::string> Run(const Flags& f, istar::comm::Communicator& host) {
  ISTAR_ASSIGN_OR_RETURN(istar::trainer::GroupDevice device,
                         istar::trainer::SetUpGroupDevice(host, f.device));
  istar::comm::Communicator& tensors = device.tensors ? *device.tensors : host;
  CountingCommunicator loss_group(tensors);
  CountingCommunicator gradient_group(tensors);
  Groups groups{.host = host, .loss = loss_group, .gradients = gradient_group};
  const at::Device where(device.device);
  ISTAR_ASSIGN_OR_RETURN(Trainer t, MakeTrainer(f, groups, where));
  std::vector<StepSample> samples;
  for (int64_t i = 0; i < f.warmup + f.steps; ++i) {
    ISTAR_ASSIGN_OR_RETURN(StepSample sample, Step(t, groups, where));
    if (i >= f.warmup) samples.push_back(sample);
  }
  std::vector<double> ms;
  std::vector<double> average_ms;
  for (const StepSample& s : samples) {
    ms.push_back(s.ms);
    average_ms.push_back(s.average_ms);
    // Every step all-reduces the same buffers: a differing count would be a bug of the bench.
    if (s.loss_bytes != samples[0].loss_bytes || s.gradient_bytes != samples[0].gradient_bytes) {
      return absl::InternalError("all-reduced bytes differ between steps");
    }
  }
  const StepSample& s = samples[0];
  return absl::StrCat(
      "ranks=", host.size(), " regularizer=", f.regularizer, " batch=", f.batch,
      " schedule=", f.schedule, " device=", device.device, " nccl=", device.tensors ? 1 : 0,
      " bucket_kib=", f.bucket_kib, " seq=", f.seq, " hidden=", f.hidden, " layers=", f.layers,
      " steps=", f.steps, " threads=", at::get_num_threads(), " step_ms_median=", Median(ms),
      " step_ms_mean=", std::accumulate(ms.begin(), ms.end(), 0.0) / ms.size(),
      " step_ms_min=", *std::min_element(ms.begin(), ms.end()),
      " average_ms_median=", Median(average_ms),
      " allreduce_bytes_per_step=", s.loss_bytes + s.gradient_bytes,
      " gradient_bytes=", s.gradient_bytes, " regularizer_bytes=", s.loss_bytes,
      " allreduce_calls_per_step=", s.calls, " buckets=", t.averager->buckets(),
      " averager_bytes=", t.averager->bytes_per_average());
}

// Runs on every rank of an mpirun job; a rank that fails alone ends the job rather than leave
// the others waiting in a collective.
int RunInMpiJob(const Flags& flags, int* argc, char*** argv) {
  auto session = istar::comm::MpiSession::Start(argc, argv);
  if (!session.ok()) {
    std::cerr << "istar_data_parallel_bench: " << session.status() << "\n";
    return 1;
  }
  auto group = istar::comm::CreateMpiCommunicator(**session);
  if (!group.ok()) {
    std::cerr << "istar_data_parallel_bench: " << group.status() << "\n";
    return 1;
  }
  if (flags.batch < (*group)->size()) {  // the same on every rank: each stops, rank 0 says why
    if ((*group)->rank() == 0) {
      std::cerr << "data_parallel_bench: --batch " << flags.batch << " gives some of the "
                << (*group)->size() << " ranks no rows\n";
    }
    return 2;
  }
  absl::StatusOr<std::string> line;
  try {
    line = Run(flags, **group);
  } catch (const c10::Error& e) {
    line = absl::InternalError(e.what_without_backtrace());
  }
  if (!line.ok()) {
    std::cerr << "data_parallel_bench: rank " << (*group)->rank() << ": " << line.status() << "\n";
    if ((*group)->size() > 1) (*session)->Abort(1);
    return 1;
  }
  if ((*group)->rank() == 0) std::cout << *line << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool help = false;
  const std::optional<Flags> flags = ParseFlags(argc, argv, help);
  if (help) {
    std::cout << kUsage;
    return 0;
  }
  if (!flags) {
    std::cerr << kUsage;
    return 2;
  }
  if (const std::string error = CheckFlags(*flags); !error.empty()) {
    std::cerr << "istar_data_parallel_bench: " << error << "\n";
    return 2;
  }
  if (flags->threads > 0) at::set_num_threads(static_cast<int>(flags->threads));
  if (istar::comm::MpiSession::InMpiJob()) return RunInMpiJob(*flags, &argc, &argv);
  istar::comm::LocalCommunicator local;
  absl::StatusOr<std::string> line;
  try {
    line = Run(*flags, local);
  } catch (const c10::Error& e) {
    line = absl::InternalError(e.what_without_backtrace());
  }
  if (!line.ok()) {
    std::cerr << "istar_data_parallel_bench: " << line.status() << "\n";
    return 1;
  }
  std::cout << *line << std::endl;
  return 0;
}
