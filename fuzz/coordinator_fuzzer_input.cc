#include "fuzz/coordinator_fuzzer_input.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "coordinator/client.h"
#include "istar/v1/coordinator.pb.h"

namespace istar::coordinator::fuzz {
namespace {

using std::chrono::milliseconds;

std::string SweepYaml(const std::string& name, int trials) {
  std::string seeds;
  for (int s = 0; s < trials; ++s) absl::StrAppend(&seeds, s == 0 ? "" : ", ", s);
  return absl::StrCat("name: ", name,
                      "\nmodels: {bert: /ckpt/bert}\ntasks: {sst2: /data/sst2}\ntraining:\n"
                      "  ranks_per_trial: 1\ngrid:\n  seed: [",
                      seeds, "]\n  regularizers: [baseline]\n");
}

// Every regularizer, two ranks per trial, a random search: the loader's other paths.
constexpr char kSampledYaml[] = R"yaml(name: sampled
models: {bert: /ckpt/bert, distilbert: /ckpt/distilbert}
tasks: {sst2: /data/sst2, qnli: /data/qnli}
training: {ranks_per_trial: 2, max_seq_length: 64}
grid:
  learning_rate: {log_uniform: [5e-6, 5e-5]}
  seed: {uniform: [0, 1000]}
  regularizers:
    - baseline
    - cosreg: {lambda: [1.0]}
    - istar: {lambda: [-5], zeta: [0.2]}
sample: {count: 6, seed: 7}
)yaml";

// Builds one input, record by record.
class InputWriter {
 public:
  InputWriter& Call(MethodIndex method, const google::protobuf::Message& request,
                    Credentials credentials = Credentials::kToken) {
    return Raw(Selector(method, credentials), request.SerializeAsString());
  }
  // ReportMetrics with `batches`, one message each.
  InputWriter& Report(const std::vector<v1::MetricBatch>& batches) {
    std::string payload;
    for (const v1::MetricBatch& batch : batches) AppendFramed(&payload, batch.SerializeAsString());
    return Raw(kReportMetrics, payload);
  }
  InputWriter& Advance(milliseconds by) {
    const auto ms = static_cast<uint32_t>(by.count());
    std::string payload;
    for (int i = 0; i < 4; ++i) payload.push_back(static_cast<char>((ms >> (8 * i)) & 0xff));
    return Raw(kAdvanceClock, payload);
  }
  InputWriter& Raw(uint8_t selector, const std::string& payload) {
    bytes_.push_back(static_cast<char>(selector));
    AppendFramed(&bytes_, payload);
    return *this;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  static uint8_t Selector(MethodIndex method, Credentials credentials) {
    switch (credentials) {
      case Credentials::kToken:
        return static_cast<uint8_t>(method);
      case Credentials::kNone:
        return static_cast<uint8_t>(0x80 | method);
      case Credentials::kWrong:
        return static_cast<uint8_t>(0xc0 | method);
    }
    return 0;
  }
  static void AppendFramed(std::string* out, const std::string& bytes) {
    const size_t length = std::min<size_t>(bytes.size(), 0xffff);
    out->push_back(static_cast<char>(length & 0xff));
    out->push_back(static_cast<char>(length >> 8));
    out->append(bytes, 0, length);
  }

  std::string bytes_;
};

v1::RegisterWorkerRequest Register(const std::string& worker, int ranks) {
  v1::RegisterWorkerRequest request;
  request.set_worker_id(worker);
  request.set_host("fuzz-host");
  request.set_ranks(ranks);
  return request;
}

v1::LeaseTrialRequest Lease(const std::string& worker, int ranks) {
  v1::LeaseTrialRequest request;
  request.set_worker_id(worker);
  request.set_ranks(ranks);
  return request;
}

v1::HeartbeatRequest Heartbeat(const std::string& trial, std::optional<int64_t> steps) {
  v1::HeartbeatRequest request;
  request.set_trial_id(trial);
  request.set_fencing_token(1);
  request.set_has_progress(steps.has_value());
  request.set_steps_begun(steps.value_or(0));
  return request;
}

v1::MetricBatch Batch(const std::string& trial, int64_t step) {
  v1::MetricBatch batch;
  batch.set_trial_id(trial);
  batch.set_fencing_token(1);
  v1::Metric* loss = batch.add_metrics();
  loss->set_step(step);
  loss->set_epoch(0.5);
  loss->set_split("train");
  loss->set_name("loss");
  loss->set_value(0.69);
  v1::IsotropyMeasure* iso = batch.add_isotropy();
  iso->set_step(step);
  iso->set_epoch(0.5);
  iso->set_layer(-1);
  iso->set_isoscore_star(0.1);
  iso->set_isoscore(0.2);
  iso->set_avg_cosine(0.3);
  return batch;
}

v1::CompleteTrialRequest Complete(const std::string& trial) {
  v1::CompleteTrialRequest request;
  request.set_trial_id(trial);
  request.set_fencing_token(1);
  v1::FinalResult* result = request.add_results();
  result->set_split("validation");
  result->set_name("accuracy");
  result->set_value(0.91);
  return request;
}

v1::FailTrialRequest FailRequest(const std::string& trial, bool retryable, bool requeue) {
  v1::FailTrialRequest request;
  request.set_trial_id(trial);
  request.set_fencing_token(1);
  request.set_reason("CUDA error: an illegal memory access");
  request.set_retryable(retryable);
  request.set_infrastructure(true);
  request.set_requeue(requeue);
  return request;
}

v1::SubmitSweepRequest Submit(const std::string& yaml) {
  v1::SubmitSweepRequest request;
  request.set_yaml(yaml);
  request.set_source_name("seed.yaml");
  return request;
}

template <typename T>
T Named(const std::string& sweep) {
  T request;
  request.set_sweep(sweep);
  return request;
}

v1::ReleaseWorkerRequest Release(const std::string& worker) {
  v1::ReleaseWorkerRequest request;
  request.set_worker_id(worker);
  return request;
}

std::vector<std::pair<std::string, std::string>> Seeds(const Seeded& seeded) {
  const std::string& t0 = seeded.trial_ids.at(0);
  const std::string& t1 = seeded.trial_ids.at(1);
  v1::ListTrialsRequest leased = Named<v1::ListTrialsRequest>("fuzz");
  leased.add_states(v1::TRIAL_STATE_LEASED);
  leased.add_states(v1::TRIAL_STATE_PENDING);
  std::vector<std::pair<std::string, std::string>> seeds;
  auto add = [&seeds](const std::string& name, const InputWriter& input) {
    seeds.emplace_back(name, input.bytes());
  };
  add("worker", InputWriter()
                    .Call(kRegisterWorker, Register("fuzz-worker-2", 1))
                    .Call(kLeaseTrial, Lease("fuzz-worker-2", 1))
                    .Call(kLeaseTrial, Lease("fuzz-worker-2", 2))
                    .Call(kListWorkers, v1::ListWorkersRequest()));
  add("hang", InputWriter()
                  .Call(kHeartbeat, Heartbeat(t0, 5))
                  .Call(kHeartbeat, Heartbeat(t1, std::nullopt))
                  .Advance(milliseconds(61'000))
                  .Call(kHeartbeat, Heartbeat(t0, 5))
                  .Call(kLeaseTrial, Lease(kWorker, 1)));
  add("complete", InputWriter()
                      .Report({Batch(t0, 10), Batch(t0, 20)})
                      .Call(kCompleteTrial, Complete(t0))
                      .Call(kGetSweep, Named<v1::GetSweepRequest>("fuzz")));
  add("fail", InputWriter()
                  .Call(kFailTrial, FailRequest(t0, /*retryable=*/true, /*requeue=*/false))
                  .Call(kFailTrial, FailRequest(t1, /*retryable=*/false, /*requeue=*/true))
                  .Call(kLeaseTrial, Lease(kWorker, 1))
                  .Call(kListTrials, leased));
  add("submit", InputWriter()
                    .Call(kSubmitSweep, Submit(SweepYaml("fuzz-b", 2)))
                    .Call(kSubmitSweep, Submit(kSampledYaml))
                    .Call(kGetSweep, Named<v1::GetSweepRequest>("sampled"))
                    .Call(kListTrials, Named<v1::ListTrialsRequest>("fuzz-b"))
                    .Call(kWatchSweep, Named<v1::WatchSweepRequest>("fuzz-b")));
  add("cancel", InputWriter()
                    .Call(kCancelSweep, Named<v1::CancelSweepRequest>("fuzz"))
                    .Call(kHeartbeat, Heartbeat(t0, std::nullopt))
                    .Call(kWatchSweep, Named<v1::WatchSweepRequest>("fuzz"))
                    .Report({Batch(t1, 1)}));
  add("expire", InputWriter()
                    .Advance(milliseconds(31'000))
                    .Call(kLeaseTrial, Lease(kWorker, 1))
                    .Advance(milliseconds(31'000))
                    .Call(kLeaseTrial, Lease(kWorker, 1))
                    .Call(kReleaseWorker, Release(kWorker))
                    .Call(kLeaseTrial, Lease(kWorker, 1)));
  add("auth", InputWriter()
                  .Call(kRegisterWorker, Register("intruder", 1), Credentials::kNone)
                  .Call(kListWorkers, v1::ListWorkersRequest(), Credentials::kWrong)
                  .Report({Batch(t0, 1)})
                  .Call(kGetSweep, Named<v1::GetSweepRequest>("fuzz"), Credentials::kNone));
  // Requests past libFuzzer's first length limits, each once a bug: errors quoting 30,000
  // bytes, and a state listed 60,000 times (tests/coordinator/server_test.cc).
  v1::SubmitSweepRequest long_source = Submit("name: x\nmodels: {bert: /a}\n");
  long_source.set_source_name(std::string(30'000, 's'));
  std::string long_value = "name: x\nmodels: {bert: /a}\ntasks: {sst2: /b}\ngrid:\n  seed: [";
  for (int k = 0; k < 5'000; ++k) long_value += "\xc3\xa9";
  long_value += "]\n  regularizers: [baseline]\n";
  add("long-messages",
      InputWriter().Call(kSubmitSweep, long_source).Call(kSubmitSweep, Submit(long_value)));
  v1::ListTrialsRequest repeated = Named<v1::ListTrialsRequest>("fuzz");
  for (int k = 0; k < 60'000; ++k) repeated.add_states(v1::TRIAL_STATE_PENDING);
  add("repeated-states", InputWriter().Call(kListTrials, repeated));
  add("garbage", InputWriter()
                     .Raw(kHeartbeat, "\xff\xff\xff")
                     .Report({Batch(t0, 1)})
                     .Raw(kReportMetrics, "\x02\x00\x0a\xff")
                     .Call(kGetSweep, Named<v1::GetSweepRequest>("no-such-sweep")));
  return seeds;
}

}  // namespace

Credentials CredentialsOf(uint8_t selector) {
  switch (selector >> 6) {
    case 2:
      return Credentials::kNone;
    case 3:
      return Credentials::kWrong;
    default:
      return Credentials::kToken;
  }
}

std::vector<Record> Decode(const uint8_t* data, size_t size) {
  std::vector<Record> records;
  size_t at = 0;
  while (at < size && records.size() < kMaxCalls) {
    Record record{.selector = data[at++]};
    size_t length = size - at;
    if (at + 2 <= size) {
      length = std::min<size_t>(data[at] | (data[at + 1] << 8), size - at - 2);
      at += 2;
    }
    record.payload.assign(reinterpret_cast<const char*>(data + at), length);
    at += length;
    records.push_back(std::move(record));
  }
  return records;
}

std::vector<std::string> SplitMessages(const std::string& payload) {
  std::vector<std::string> messages;
  size_t at = 0;
  while (at < payload.size() && messages.size() < kMaxMessages) {
    if (at + 2 > payload.size()) {
      messages.push_back(payload.substr(at));
      break;
    }
    const size_t length = std::min<size_t>(
        static_cast<uint8_t>(payload[at]) | (static_cast<uint8_t>(payload[at + 1]) << 8),
        payload.size() - at - 2);
    messages.push_back(payload.substr(at + 2, length));
    at += 2 + length;
  }
  return messages;
}

CoordinatorOptions Options(const std::string& db_path, const Clock* clock) {
  return {.db_path = db_path,
          .token = kToken,
          .lease = {.ttl = std::chrono::seconds(30), .max_attempts = 3, .quarantine_after = 3},
          .hang_timeout = std::chrono::seconds(60),
          .expiry_interval = std::chrono::hours(1),
          .watch_interval = milliseconds(5),
          .clock = clock};
}

absl::StatusOr<Seeded> MakeSeededDatabase(const std::string& path) {
  FakeClock clock(kStart);
  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<CoordinatorServer> server,
                         CoordinatorServer::Start(Options(path, &clock)));
  ISTAR_ASSIGN_OR_RETURN(
      std::unique_ptr<CoordinatorClient> client,
      CoordinatorClient::Connect({.address = server->address(), .token = kToken}));
  ISTAR_RETURN_IF_ERROR(client->SubmitSweep(SweepYaml("fuzz", 4), "fuzz.yaml").status());
  ISTAR_RETURN_IF_ERROR(client->RegisterWorker(kWorker, "fuzz-host", 1).status());
  Seeded seeded;
  for (int k = 0; k < 2; ++k) {
    ISTAR_ASSIGN_OR_RETURN(const std::optional<db::Lease> lease,
                           client->LeaseTrial(kWorker, 1, nullptr));
    if (!lease.has_value() || lease->fencing_token != 1) {
      return absl::InternalError("the seeded sweep has nothing to lease");
    }
    seeded.trial_ids.push_back(lease->trial_id);
  }
  ISTAR_ASSIGN_OR_RETURN(const std::vector<db::TrialRecord> trials, client->ListTrials("fuzz"));
  for (const db::TrialRecord& trial : trials) {
    if (trial.status == db::TrialStatus::kPending) seeded.trial_ids.push_back(trial.id);
  }
  // Closing the store checkpoints the WAL into the file: the copies need the file alone.
  client.reset();
  server->Shutdown(std::chrono::seconds(1));
  return seeded;
}

absl::Status WriteSeeds(const Seeded& seeded, const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat(dir, ": ", error.message()));
  for (const auto& [name, bytes] : Seeds(seeded)) {
    const std::string path = absl::StrCat(dir, "/seed-", name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.good()) return absl::InternalError(absl::StrCat(path, ": cannot write"));
  }
  return absl::OkStatus();
}

}  // namespace istar::coordinator::fuzz
