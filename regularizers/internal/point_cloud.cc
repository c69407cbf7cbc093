#include "regularizers/internal/point_cloud.h"

#include <ATen/ATen.h>

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"

namespace istar::regularizers::internal {
namespace {

std::string ShapeString(const at::Tensor& t) {
  std::string out = "[";
  for (int64_t i = 0; i < t.dim(); ++i) absl::StrAppend(&out, i ? ", " : "", t.size(i));
  return out + "]";
}

}  // namespace

absl::StatusOr<at::Tensor> KeptRows(const at::Tensor& points, const at::Tensor& keep,
                                    const char* what, const char* argument) {
  if (!points.defined() || points.dim() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", argument, " must be a 2-D tensor [N, d], got shape ",
                     points.defined() ? ShapeString(points) : "undefined"));
  }
  if (points.scalar_type() != at::kFloat && points.scalar_type() != at::kDouble) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", argument,
                                                   " must be float32 or float64, got ",
                                                   c10::toString(points.scalar_type())));
  }
  if (points.size(1) < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": ", argument, " need at least 2 dimensions, got d = ", points.size(1)));
  }
  if (!keep.defined()) return points;
  if (keep.scalar_type() != at::kBool || keep.dim() != 1 || keep.size(0) != points.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": keep must be a bool tensor of shape [", points.size(0), "], got ",
        c10::toString(keep.scalar_type()), " of shape ", ShapeString(keep)));
  }
  if (keep.device() != points.device()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": keep is on ", keep.device().str(),
                                                   " but ", argument, " are on ",
                                                   points.device().str()));
  }
  return points.index_select(0, keep.nonzero().squeeze(1));
}

absl::Status CheckFinite(const at::Tensor& value, const char* what) {
  const double v = value.item<double>();
  if (!std::isfinite(v)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": points hold NaN or infinite values (result is ", v, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckSequences(const PointCloud& cloud, const char* what) {
  if (cloud.layers.empty() || !cloud.points.defined() || cloud.points.dim() != 2 ||
      cloud.points.size(0) != cloud.tokens * static_cast<int64_t>(cloud.layers.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the point cloud must hold ", cloud.layers.size(), " layer(s) of ",
                     cloud.tokens, " tokens, got points of shape ",
                     cloud.points.defined() ? ShapeString(cloud.points) : "undefined"));
  }
  if (!cloud.sequence.defined()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": needs the sequence of each token, and the point cloud does not say it"));
  }
  if (cloud.sequence.scalar_type() != at::kLong || cloud.sequence.dim() != 1 ||
      cloud.sequence.size(0) != cloud.tokens || cloud.sequence.device() != cloud.points.device() ||
      cloud.sequences < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": sequence must be an int64 tensor of shape [", cloud.tokens, "] on ",
        cloud.points.device().str(), ", got ", c10::toString(cloud.sequence.scalar_type()),
        " of shape ", ShapeString(cloud.sequence), " on ", cloud.sequence.device().str()));
  }
  return absl::OkStatus();
}

at::Tensor LayerSequenceGroups(const PointCloud& cloud) {
  std::vector<at::Tensor> groups;
  for (size_t k = 0; k < cloud.layers.size(); ++k) {
    groups.push_back(cloud.sequence + static_cast<int64_t>(k) * cloud.sequences);
  }
  return at::cat(groups);
}

}  // namespace istar::regularizers::internal
