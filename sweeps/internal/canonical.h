// File: sweeps/internal/canonical.h
// -----------------------------------------------------------------------------
// A trial's identity: its canonical configuration (JSON) and the SHA-256 of it. The format is
// documented in docs/sweep-format.md ("Trial ids"); changing it changes every id, so it carries a
// version, kCanonicalFormat.
//
// Note [Canonical trial configuration]
// The JSON object holds every setting that can change a trial's result, and nothing else:
//   - model and model_path, task and task_path: the folder, because two checkpoints (or data
//     sets) under one name are different trials; the name too, because it is what the result
//     tables group by, so a name given to a new folder, or a new name, starts new trials.
//   - regularizer, and each parameter of its catalogue row (catalog/catalog.h) as a top-level key
//     of the parameter's name: lambda for every regularizer but the baseline, zeta for istar,
//     gamma for vicreg, t for uniformity. A parameter that a regularizer does not have is left
//     out rather than written as 0, so no default can leak into an id, and a regularizer added to
//     the catalogue changes no existing id. A parameter left out of the sweep file is written
//     with its catalogue default. The catalogue's test checks that no parameter is named like
//     one of the keys here.
//   - batch_size, epochs, seed, learning_rate, and every training setting except
//     ranks_per_trial (batch_size is global over ranks, so R ranks compute the same trial) and
//     gradient_accumulation_steps (micro-batches compute the same step, the regularizer over
//     the whole step's points: trainer/step.h).
//   - lr_schedule and max_grad_norm, added after ids had been recorded, are written only when
//     they differ from their defaults (linear; 1.0, the schedule and clipping every trial had
//     before they were settings): "lr_schedule":"constant", "max_grad_norm":0.5 or
//     "max_grad_norm":"off". So every trial that keeps the defaults has the id it always had, and
//     the layout stays format 1. A trial that sets them is refused by an older istar's reader
//     (an unknown key) rather than trained with the defaults. TrialFromCanonicalJson accepts the
//     keys when present and, since re-encoding must reproduce the text, refuses them written
//     with their default values (`"lr_schedule":"linear"`, `"max_grad_norm":1.0`), which no
//     encoder writes. The options of the published protocol added later follow the same rule:
//     doc_stride (an integer), selection ({"fraction":0.5,"seed":0}), point_cloud_padding
//     ("include"), isotropy_scope ("per_rank"), segment_ids (false), shrinkage_sample
//     ("shuffled") and evaluation_zeta (a number; it changes the logged rows, not the training).
//   - format: 1, the version of this layout.
// Not the sweep's name: a trial shared by two sweeps is one trial. Keys are sorted and there is no
// whitespace (nlohmann::json's std::map object and dump()). Numbers keep their type: integers are
// JSON integers, real-valued settings are doubles, printed as the shortest text that reads back to
// the same double, so "-5" and "-5.0" in the file give "-5.0" and the same id; -0.0 is written as
// 0.0. regularizer_layers is sorted (empty: the regularizer's default layers), "last" (the model's
// last layer, kLastLayer) after the numbers.
#ifndef ISTAR_SWEEPS_INTERNAL_CANONICAL_H_
#define ISTAR_SWEEPS_INTERNAL_CANONICAL_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sweeps/sweep.h"

namespace istar::sweeps::internal {

inline constexpr int kCanonicalFormat = 1;

// The value of `max_grad_norm` for a trial without gradient clipping (as in the sweep file).
inline constexpr char kMaxGradNormOff[] = "off";

// The value of `regularizer_layers` that stands for the model's last layer (kLastLayer).
inline constexpr char kLastLayerName[] = "last";

// Writes trials' canonical configurations. It keeps one JSON object and overwrites its fields for
// each trial: building a fresh nlohmann::json object per trial made it the largest cost of
// expanding a 100,000-trial sweep (3.6 us of 5.8 us per trial; 1.3 us reused). Not thread-safe:
// one encoder per thread.
class CanonicalEncoder {
 public:
  // The canonical configuration of `trial` (its id and canonical_json fields are ignored).
  // See Note [Canonical trial configuration].
  std::string Json(const TrialSpec& trial);

  // Fills trial.canonical_json and trial.id from the other fields; Internal if hashing fails.
  [[nodiscard]] absl::Status SetIdentity(TrialSpec& trial);

 private:
  // Writes `key` as to_json(value) (of *value for an optional, whose default is nullopt), or
  // removes it when `value` is `default_value`: Note [Canonical trial configuration].
  template <typename T, typename ToJson>
  void SetUnlessDefault(const char* key, const T& value, const T& default_value, ToJson to_json) {
    if (value == default_value) {
      object_.erase(key);
    } else if constexpr (requires { value.has_value(); }) {
      object_[key] = to_json(*value);
    } else {
      object_[key] = to_json(value);
    }
  }

  nlohmann::json object_ = nlohmann::json::object();
  std::vector<std::string> parameter_keys_;  // the regularizer parameters of the last trial
};

// Reads the keys of the published protocol's options (Note [Canonical trial configuration]) from
// a canonical configuration into `training`: InvalidArgument naming a mistyped key, an unknown
// value or a value out of its range.
[[nodiscard]] absl::Status ReadProtocolOptions(const nlohmann::json& object,
                                               TrainingSettings& training);

// The SHA-256 of `bytes` as 64 lower-case hex digits; Internal if OpenSSL fails.
[[nodiscard]] absl::StatusOr<std::string> Sha256Hex(std::string_view bytes);

}  // namespace istar::sweeps::internal

#endif  // ISTAR_SWEEPS_INTERNAL_CANONICAL_H_
