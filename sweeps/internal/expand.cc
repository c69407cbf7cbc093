#include "sweeps/internal/expand.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>

#include "base/check.h"
#include "base/status_macros.h"
#include "sweeps/internal/canonical.h"
#include "sweeps/internal/random.h"

namespace istar::sweeps::internal {
namespace {

// Trials in order of arrival, each id once.
class TrialList {
 public:
  // `expected`: how many trials will be added, if known, so that no container grows meanwhile.
  explicit TrialList(size_t expected) {
    trials_.reserve(expected);
    ids_.reserve(expected);
  }

  absl::Status Add(TrialSpec trial) {
    ISTAR_RETURN_IF_ERROR(encoder_.SetIdentity(trial));
    if (ids_.insert(trial.id).second) trials_.push_back(std::move(trial));
    return absl::OkStatus();
  }
  std::vector<TrialSpec> Take() && { return std::move(trials_); }

 private:
  CanonicalEncoder encoder_;
  std::vector<TrialSpec> trials_;
  std::unordered_set<std::string> ids_;
};

const std::string& FolderOf(const std::vector<FolderEntry>& entries, const std::string& name) {
  const auto it = std::find_if(entries.begin(), entries.end(),
                               [&](const FolderEntry& entry) { return entry.name == name; });
  ISTAR_CHECK(it != entries.end()) << "'" << name << "' passed validation but has no folder";
  return it->folder;
}

// A trial with the settings that the model, task and regularizer fix; the rest come later.
TrialSpec StartTrial(const SweepDocument& doc, const std::string& model, const std::string& task,
                     const RegularizerAxes& entry) {
  const std::string& regularizer = entry.regularizer;
  TrialSpec trial;
  trial.model = model;
  trial.model_path = FolderOf(doc.models, model);
  trial.task = task;
  trial.task_path = FolderOf(doc.tasks, task);
  trial.regularizer = regularizer;
  trial.training = doc.pair_training.at({model, task});
  if (!entry.layers.empty()) trial.training.regularizer_layers = entry.layers;
  return trial;
}

// The shared axes under one setting of a regularizer entry, learning_rate outermost.
absl::Status ExpandShared(const SweepDocument& doc, const TrialSpec& start, TrialList& out) {
  for (const double learning_rate : doc.learning_rate.values) {
    for (const int64_t batch_size : doc.batch_size.values) {
      for (const int64_t epochs : doc.epochs.values) {
        for (const int64_t seed : doc.seed.values) {
          TrialSpec trial = start;
          trial.learning_rate = learning_rate;
          trial.batch_size = batch_size;
          trial.epochs = epochs;
          trial.seed = seed;
          ISTAR_RETURN_IF_ERROR(out.Add(std::move(trial)));
        }
      }
    }
  }
  return absl::OkStatus();
}

// The entry's own parameters from the `next`-th on (lambda and zeta are set), then the shared
// axes.
absl::Status ExpandParameters(const SweepDocument& doc, const TrialSpec& start,
                              const RegularizerAxes& entry, size_t next, TrialList& out) {
  if (next == entry.parameters.size()) return ExpandShared(doc, start, out);
  const auto& [name, axis] = entry.parameters[next];
  for (const double value : axis.values) {
    TrialSpec trial = start;
    trial.parameters[name] = value;
    ISTAR_RETURN_IF_ERROR(ExpandParameters(doc, trial, entry, next + 1, out));
  }
  return absl::OkStatus();
}

// The grid points of one regularizer entry, from lambda inwards. See Note [Expansion order].
absl::Status ExpandEntry(const SweepDocument& doc, const TrialSpec& start,
                         const RegularizerAxes& entry, TrialList& out) {
  for (const double lambda : entry.lambda.values) {
    for (const double zeta : entry.zeta.values) {
      TrialSpec trial = start;
      trial.lambda = lambda;
      trial.zeta = zeta;
      ISTAR_RETURN_IF_ERROR(ExpandParameters(doc, trial, entry, 0, out));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TrialSpec>> ExpandGrid(const SweepDocument& doc) {
  TrialList out(static_cast<size_t>(GridSize(doc)));  // at most kMaxTrials: ReadGrid checked
  for (const std::string& model : doc.model.values) {
    for (const std::string& task : doc.task.values) {
      for (const RegularizerAxes& entry : doc.regularizers) {
        const TrialSpec start = StartTrial(doc, model, task, entry);
        ISTAR_RETURN_IF_ERROR(ExpandEntry(doc, start, entry, out));
      }
    }
  }
  return std::move(out).Take();
}

// Note [Sampling]
// Each of the `count` draws picks, in this order: model, task, a regularizer entry (uniformly,
// whatever its number of settings), its lambda, its zeta, its other parameters (catalogue
// order), learning_rate, batch_size, epochs, seed.
// Every axis takes its draw even when it has one value, so the stream of random numbers does not
// depend on which axes are fixed. A list or {choice: ...} is a uniform choice (Random::Index);
// integer {uniform: [a, b]} is Random::Between(a, b); number {uniform: [a, b]} is
// a + (b - a) * Unit(); {log_uniform: [a, b]} is sign(a) * exp(log|a| + (log|b| - log|a|) *
// Unit()). Real values are then rounded to 6 significant digits (std::to_chars, which rounds
// exactly) and clamped into [a, b]: tables stay readable, and an id does not hang on the last bit
// of the C library's exp and log, which the C++ standard leaves to each implementation.
double RoundForId(double value, double low, double high) {
  char text[32];
  const auto [end, error] =
      std::to_chars(text, text + sizeof(text), value, std::chars_format::scientific, 5);
  ISTAR_CHECK(error == std::errc()) << "to_chars(" << value << ")";
  double rounded = value;
  const auto [parsed, parse_error] = std::from_chars(text, end, rounded);
  ISTAR_CHECK(parse_error == std::errc() && parsed == end)
      << "from_chars(" << std::string_view(text, end - text) << ")";
  return std::clamp(rounded, low, high);
}

double Draw(Random& random, const Axis<double>& axis) {
  if (axis.kind == AxisKind::kValues) return axis.values[random.Index(axis.values.size())];
  const double u = random.Unit();
  if (axis.kind == AxisKind::kUniform) {
    return RoundForId(axis.low + (axis.high - axis.low) * u, axis.low, axis.high);
  }
  const double sign = axis.low < 0 ? -1.0 : 1.0;
  const double from = std::log(std::abs(axis.low));
  const double to = std::log(std::abs(axis.high));
  return RoundForId(sign * std::exp(from + (to - from) * u), axis.low, axis.high);
}

int64_t Draw(Random& random, const Axis<int64_t>& axis) {
  if (axis.kind == AxisKind::kValues) return axis.values[random.Index(axis.values.size())];
  return random.Between(axis.low, axis.high);  // readers allow only kUniform besides kValues
}

const std::string& Draw(Random& random, const Axis<std::string>& axis) {
  return axis.values[random.Index(axis.values.size())];
}

absl::StatusOr<std::vector<TrialSpec>> SampleTrials(const SweepDocument& doc) {
  Random random(doc.sample->seed);
  TrialList out(/*expected=*/0);  // not count: a small space gives far fewer distinct trials
  for (int64_t i = 0; i < doc.sample->count; ++i) {
    const std::string& model = Draw(random, doc.model);
    const std::string& task = Draw(random, doc.task);
    const RegularizerAxes& entry = doc.regularizers[random.Index(doc.regularizers.size())];
    TrialSpec trial = StartTrial(doc, model, task, entry);
    trial.lambda = Draw(random, entry.lambda);
    trial.zeta = Draw(random, entry.zeta);
    for (const auto& [name, axis] : entry.parameters) trial.parameters[name] = Draw(random, axis);
    trial.learning_rate = Draw(random, doc.learning_rate);
    trial.batch_size = Draw(random, doc.batch_size);
    trial.epochs = Draw(random, doc.epochs);
    trial.seed = Draw(random, doc.seed);
    ISTAR_RETURN_IF_ERROR(out.Add(std::move(trial)));
  }
  return std::move(out).Take();
}

}  // namespace

absl::StatusOr<std::vector<TrialSpec>> ExpandTrials(const SweepDocument& doc) {
  return doc.sample.has_value() ? SampleTrials(doc) : ExpandGrid(doc);
}

}  // namespace istar::sweeps::internal
