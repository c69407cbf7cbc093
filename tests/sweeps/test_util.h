// Helpers shared by the sweeps tests.
#ifndef ISTAR_TESTS_SWEEPS_TEST_UTIL_H_
#define ISTAR_TESTS_SWEEPS_TEST_UTIL_H_

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sweeps/sweep.h"

namespace istar::sweeps::testing {

// An istar trial's canonical configuration and its id, computed outside istar with
//   printf '%s' '<the literal>' | sha256sum
inline constexpr char kIStarJson[] =
    R"({"batch_size":32,"epochs":4,"eval_every_steps":0,"format":1,"isotropy_every_steps":50,)"
    R"("lambda":-5.0,"learning_rate":1e-05,"max_seq_length":256,"model":"bert",)"
    R"("model_path":"/ckpt/bert","precision":"fp32","regularizer":"istar",)"
    R"("regularizer_layers":[],"seed":0,"shrinkage_points":250000,"task":"sst2",)"
    R"("task_path":"/data/sst2","warmup_ratio":0.0,"weight_decay":0.0,"zeta":0.2})";
inline constexpr char kIStarId[] =
    "6022d85f081ab84dc96a278b82bb79bb6755bcf3852d313a9ffa70e5d9c7fd2d";

// The same trial with the published code's schedule and no clipping (lr_schedule: constant,
// max_grad_norm: off), and with clipping at 0.5: the keys that are written only when not their
// defaults, in their sorted places. Computed outside istar as above.
inline constexpr char kConstantUnclippedJson[] =
    R"({"batch_size":32,"epochs":4,"eval_every_steps":0,"format":1,"isotropy_every_steps":50,)"
    R"("lambda":-5.0,"learning_rate":1e-05,"lr_schedule":"constant","max_grad_norm":"off",)"
    R"("max_seq_length":256,"model":"bert","model_path":"/ckpt/bert","precision":"fp32",)"
    R"("regularizer":"istar","regularizer_layers":[],"seed":0,"shrinkage_points":250000,)"
    R"("task":"sst2","task_path":"/data/sst2","warmup_ratio":0.0,"weight_decay":0.0,"zeta":0.2})";
inline constexpr char kConstantUnclippedId[] =
    "10ab5444bbfa6fc7d5fdfcb5dc97e4115c600326b5ee9cf6a83c4de4ff7225eb";
inline constexpr char kClippedAtHalfJson[] =
    R"({"batch_size":32,"epochs":4,"eval_every_steps":0,"format":1,"isotropy_every_steps":50,)"
    R"("lambda":-5.0,"learning_rate":1e-05,"max_grad_norm":0.5,"max_seq_length":256,)"
    R"("model":"bert","model_path":"/ckpt/bert","precision":"fp32","regularizer":"istar",)"
    R"("regularizer_layers":[],"seed":0,"shrinkage_points":250000,"task":"sst2",)"
    R"("task_path":"/data/sst2","warmup_ratio":0.0,"weight_decay":0.0,"zeta":0.2})";
inline constexpr char kClippedAtHalfId[] =
    "227c35093648da9d41328f5785bac41d274300c0b86b1de43153b34bec8aaa4e";

// The message of the error ParseSweep returns for `yaml` (named sweep.yaml), or "OK" if it
// returns a sweep; an error of another code than InvalidArgument is reported as a failure.
inline std::string ErrorOf(const std::string& yaml) {
  const absl::StatusOr<SweepSpec> sweep = ParseSweep(yaml, "sweep.yaml");
  if (sweep.ok()) return "OK";
  EXPECT_EQ(sweep.status().code(), absl::StatusCode::kInvalidArgument) << sweep.status();
  return std::string(sweep.status().message());
}

// The sweep of `yaml`; an empty one (and a test failure) if it does not parse.
inline SweepSpec Parse(const std::string& yaml) {
  absl::StatusOr<SweepSpec> sweep = ParseSweep(yaml, "sweep.yaml");
  EXPECT_TRUE(sweep.ok()) << sweep.status() << "\n" << yaml;
  return sweep.ok() ? *std::move(sweep) : SweepSpec{};
}

inline std::vector<std::string> Ids(const SweepSpec& sweep) {
  std::vector<std::string> ids;
  for (const TrialSpec& trial : sweep.trials) ids.push_back(trial.id);
  return ids;
}

}  // namespace istar::sweeps::testing

#endif  // ISTAR_TESTS_SWEEPS_TEST_UTIL_H_
