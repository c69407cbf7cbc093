// File: regularizers/regularizer.h
// -----------------------------------------------------------------------------
// A regularizer as the trainer uses it. MakeRegularizer builds one from its row of the catalogue
// (catalog/catalog.h) and its parameter values; its Term turns the point cloud of one training
// step (this rank's points; every rank's through the CrossRankSum) into the unweighted term that
// the trainer adds to the task loss, times lambda. The trainer names no regularizer: it builds
// what the trial's `regularizer` names and calls Term.
//
// Adding a regularizer (docs/isotropy.md, "Adding a regularizer"): its row in
// catalog/regularizers.cc; a class implementing Regularizer in its own file here, with a Make
// function declared in internal/terms.h and listed in the table of regularizer.cc; its tests and
// its section of docs/isotropy.md.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<const Regularizer> term,
//                          MakeRegularizer("vicreg", {{"gamma", 1.0}}));
//   ISTAR_ASSIGN_OR_RETURN(at::Tensor value, term->Term(cloud, {.ranks = &ranks}));
//   at::Tensor loss = task_loss + lambda * value;
//
// Errors: MakeRegularizer gives InvalidArgument for a name the catalogue does not know, a
// parameter it lacks, a value outside the row's range or a name the row does not have. Term gives
// InvalidArgument for a cloud the term rejects (too few points, NaN), the same on every rank.
//
// Thread safety: a Regularizer is immutable; Term may be called from several threads.
#ifndef ISTAR_REGULARIZERS_REGULARIZER_H_
#define ISTAR_REGULARIZERS_REGULARIZER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "regularizers/isotropy.h"

namespace istar::regularizers {

// The hidden states of chosen layers at the real (non-padding) tokens of one rank's batch.
struct PointCloud {
  // [layers.size() * tokens, H]: rows [k * tokens, (k + 1) * tokens) are layer layers[k], for the
  // same tokens in the same order in every layer.
  at::Tensor points;
  int64_t tokens = 0;           // real tokens per layer (rows of one layer)
  std::vector<int64_t> layers;  // 1-based layer numbers, in row order
  // [tokens] int64 on the points' device: the sequence (row of the batch) of each token, in
  // [0, sequences). Undefined when unknown: the terms over sequences (uniformity, dispersion)
  // then refuse the cloud.
  at::Tensor sequence;
  int64_t sequences = 0;  // sequences of this rank's batch
};

// What a step gives a term besides its points.
struct StepContext {
  const CrossRankSum* ranks = &LocalSum();  // the worker group's ranks
  at::Tensor shrinkage;                     // S0 [H, H] of this epoch, when the trial has one
  // Seeds a term's random draws (SIGReg's directions): the same on every rank, new each step.
  uint64_t draw_seed = 0;
};

// A regularizer's parameter values by name ("gamma" -> 1.0). `lambda` may be present: it is the
// caller's weight and is ignored here.
using ParameterValues = std::map<std::string, double, std::less<>>;

class Regularizer {
 public:
  virtual ~Regularizer() = default;

  // The term of the union of every rank's `cloud`, unweighted: a 0-dim tensor in the points'
  // dtype, the same on every rank, differentiable with respect to cloud.points. A collective when
  // step.ranks has more than one rank: every rank calls it, in the same order.
  [[nodiscard]] virtual absl::StatusOr<at::Tensor> Term(const PointCloud& cloud,
                                                        const StepContext& step) const = 0;
};

// The regularizer of catalogue row `name` with `values` (a parameter the row gives a default may
// be left out). Null for a row without a term (the baseline).
[[nodiscard]] absl::StatusOr<std::unique_ptr<const Regularizer>> MakeRegularizer(
    std::string_view name, const ParameterValues& values);

}  // namespace istar::regularizers

#endif  // ISTAR_REGULARIZERS_REGULARIZER_H_
