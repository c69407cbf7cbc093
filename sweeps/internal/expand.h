// File: sweeps/internal/expand.h
// -----------------------------------------------------------------------------
// From a validated SweepDocument to its list of trials, each with its canonical configuration and
// id: every point of the grid in a fixed order, or the draws of a sampled sweep.
//
// Note [Expansion order]
// Grid trials come out as nested loops, outermost first: model, task, regularizer entry (in file
// order), lambda, zeta, the entry's other parameters (in its catalogue row's order), learning_rate,
// batch_size, epochs, seed. So the seeds of one configuration are adjacent, and a partially
// finished sweep has whole configurations done. A trial whose id equals an earlier one's (the same
// value listed twice, or two entries that overlap) is kept once, at its first position. The order
// is part of the format (docs/sweep-format.md): `istar sweep expand` prints it and the store
// numbers trials by it.
#ifndef ISTAR_SWEEPS_INTERNAL_EXPAND_H_
#define ISTAR_SWEEPS_INTERNAL_EXPAND_H_

#include <vector>

#include "absl/status/statusor.h"
#include "sweeps/internal/document.h"
#include "sweeps/sweep.h"

namespace istar::sweeps::internal {

// The trials of `doc`: the grid in the order of Note [Expansion order], or, with doc.sample,
// its count draws in draw order (see Note [Sampling] in expand.cc), duplicates dropped.
// Internal only if hashing fails.
[[nodiscard]] absl::StatusOr<std::vector<TrialSpec>> ExpandTrials(const SweepDocument& doc);

}  // namespace istar::sweeps::internal

#endif  // ISTAR_SWEEPS_INTERNAL_EXPAND_H_
