// Validation shared by the functions of regularizers/isotropy.h.
#ifndef ISTAR_REGULARIZERS_INTERNAL_POINT_CLOUD_H_
#define ISTAR_REGULARIZERS_INTERNAL_POINT_CLOUD_H_

#include <ATen/core/Tensor.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "regularizers/regularizer.h"

namespace istar::regularizers::internal {

// Checks that `points` is a 2-D float32/float64 tensor with at least 2 columns and that `keep` is
// undefined or a bool tensor of shape [N] on the same device. Returns the kept rows (`points`
// itself when `keep` is undefined). `what` names the caller in error messages, `argument` the
// caller's name for `points`.
[[nodiscard]] absl::StatusOr<at::Tensor> KeptRows(const at::Tensor& points, const at::Tensor& keep,
                                                  const char* what,
                                                  const char* argument = "points");

// Returns InvalidArgument("<what>: ...") when `value` (a 0-dim tensor, read back to the host)
// is NaN or infinite: the points it was computed from held NaN or infinite values.
[[nodiscard]] absl::Status CheckFinite(const at::Tensor& value, const char* what);

// Checks that `cloud` is laid out as regularizer.h says and says each token's sequence: points
// [layers.size() * tokens, d] with at least one layer, `sequence` an int64 [tokens] tensor on the
// points' device, sequences >= 0. (The ids' range is checked by the functions that use them.)
// `what` names the regularizer in the message.
[[nodiscard]] absl::Status CheckSequences(const PointCloud& cloud, const char* what);

// The group of every row of cloud.points: (layer block k, sequence s) is group
// k * sequences + s, in [0, layers.size() * sequences). A cloud CheckSequences accepted.
at::Tensor LayerSequenceGroups(const PointCloud& cloud);

}  // namespace istar::regularizers::internal

#endif  // ISTAR_REGULARIZERS_INTERNAL_POINT_CLOUD_H_
