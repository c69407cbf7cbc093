// The isotropy of the trained model, measured once after the last epoch's evaluation (the I-STAR
// paper's end-of-training measures; docs/isotropy.md, "Final isotropy measures"): stored as
// final_results rows beside the task metrics (docs/database.md, "final_results").
#ifndef ISTAR_TRAINER_INTERNAL_FINAL_MEASURES_H_
#define ISTAR_TRAINER_INTERNAL_FINAL_MEASURES_H_

#include <vector>

#include "absl/status/statusor.h"
#include "db/records.h"
#include "trainer/internal/trial_context.h"
#include "trainer/internal/trial_data.h"

namespace istar::trainer::internal {

// Measures ctx.model (in eval mode, without gradient) on the first evaluation split of `data`
// (the dev split; its stored name is every row's split) and returns these rows:
//   cls_isoscore_star_layer_<k>, k = 1..L: IsoScore* at training.evaluation_zeta (the
//       paper's 0.75 by default; the same zeta as the logged trajectories) of the dev features'
//       position-0 ([CLS]) vectors of layer k, shrunk toward layer k's own S0, the covariance of
//       the first training.shrinkage_points real-token states of layer k over the training
//       features in file order;
//   cls_isoscore_star: the same for k = L;
//   token_isoscore: IsoScore of every real dev token's states of layers 1..L, one point cloud;
//   cls_twonn: the TwoNN dimension of layer L's dev [CLS] vectors;
//   avg_cosine_last_layer: the mean pairwise cosine similarity of layer L's real dev tokens.
// A measure the data cannot define (InvalidArgument from regularizers/isotropy.h: too few points,
// a zero covariance) is left out. Batches of kEvalBatchSize go round-robin over the ranks of
// ctx.group as in EvaluateSplit, and every statistic is summed over them: a collective, and every
// rank returns the same rows. The communicator's errors; may throw c10::Error.
[[nodiscard]] absl::StatusOr<std::vector<db::FinalResult>> FinalIsotropyMeasures(
    TrialContext& ctx, const TrialData& data);

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_FINAL_MEASURES_H_
