#include "regularizers/internal/point_cloud.h"

#include <cmath>

#include <ATen/ATen.h>

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
                                    const char* what) {
  if (!points.defined() || points.dim() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": points must be a 2-D tensor [N, d], got shape ",
        points.defined() ? ShapeString(points) : "undefined"));
  }
  if (points.scalar_type() != at::kFloat && points.scalar_type() != at::kDouble) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": points must be float32 or float64, got ",
                                                   c10::toString(points.scalar_type())));
  }
  if (points.size(1) < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": points need at least 2 dimensions, got d = ", points.size(1)));
  }
  if (!keep.defined()) return points;
  if (keep.scalar_type() != at::kBool || keep.dim() != 1 || keep.size(0) != points.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": keep must be a bool tensor of shape [", points.size(0), "], got ",
        c10::toString(keep.scalar_type()), " of shape ", ShapeString(keep)));
  }
  if (keep.device() != points.device()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": keep is on ", keep.device().str(), " but points are on ",
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

}  // namespace istar::regularizers::internal
