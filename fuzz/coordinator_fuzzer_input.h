// The input format of fuzz/coordinator_fuzzer.cc (its first comment describes it), the state
// every input starts from, and the seeds: one input per path through the handlers.
#ifndef ISTAR_FUZZ_COORDINATOR_FUZZER_INPUT_H_
#define ISTAR_FUZZ_COORDINATOR_FUZZER_INPUT_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/clock.h"
#include "coordinator/coordinator.h"

namespace istar::coordinator::fuzz {

inline constexpr char kToken[] = "fuzz-token-0123456789abcdef";
inline constexpr char kWorker[] = "fuzz-worker";
// The fake clock's time when every input starts.
inline constexpr Timestamp kStart{std::chrono::hours(24 * 365 * 50)};
inline constexpr size_t kMaxCalls = 8;
inline constexpr size_t kMaxMessages = 4;  // per ReportMetrics stream

// What a selector picks, (selector & 15) % 14: the service's methods in the .proto's order, or
// kAdvanceClock.
enum MethodIndex : int {
  kRegisterWorker,
  kLeaseTrial,
  kHeartbeat,
  kReportMetrics,
  kCompleteTrial,
  kFailTrial,
  kSubmitSweep,
  kGetSweep,
  kListTrials,
  kCancelSweep,
  kWatchSweep,
  kListWorkers,
  kReleaseWorker,
  kAdvanceClock,
};

// What a selector's top two bits pick: 0 and 1 the token, 2 none, 3 a wrong one.
enum class Credentials { kToken, kNone, kWrong };
Credentials CredentialsOf(uint8_t selector);

// One call: [selector][length: 2 bytes LE][payload]; a short last record takes what is left.
struct Record {
  uint8_t selector = 0;
  std::string payload;
};
// At most kMaxCalls records.
std::vector<Record> Decode(const uint8_t* data, size_t size);
// ReportMetrics's messages: at most kMaxMessages of [length: 2 bytes LE][bytes], the last taking
// what is left.
std::vector<std::string> SplitMessages(const std::string& payload);

// The coordinator's options: loopback, kToken, lease {30 s, 3 attempts, quarantine after 3},
// hang timeout 60 s, expiry only on demand (the thread waits an hour), WatchSweep polls every
// 5 ms, time from `clock`.
CoordinatorOptions Options(const std::string& db_path, const Clock* clock);

// The database every input starts from, made by real calls at kStart: sweep "fuzz" (4 baseline
// trials, seeds 0..3, ranks 1), kWorker registered, trial_ids[0] and [1] leased to it (fencing
// token 1), [2] and [3] pending.
struct Seeded {
  std::vector<std::string> trial_ids;  // in queue order
};
[[nodiscard]] absl::StatusOr<Seeded> MakeSeededDatabase(const std::string& path);

// Writes the seeds into `dir` (created if missing), one file per path through the handlers.
[[nodiscard]] absl::Status WriteSeeds(const Seeded& seeded, const std::string& dir);

}  // namespace istar::coordinator::fuzz

#endif  // ISTAR_FUZZ_COORDINATOR_FUZZER_INPUT_H_
