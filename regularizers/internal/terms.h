// The Make functions of the regularizers' classes, one per catalogue row with a term; the table
// in regularizer.cc maps names to them. Each is called by MakeRegularizer with `values` checked
// against its row: every parameter of the row present (defaults filled in) and in its range.
#ifndef ISTAR_REGULARIZERS_INTERNAL_TERMS_H_
#define ISTAR_REGULARIZERS_INTERNAL_TERMS_H_

#include <memory>

#include "regularizers/regularizer.h"

namespace istar::regularizers::internal {

std::unique_ptr<const Regularizer> MakeCosReg(const ParameterValues& values);      // isotropy.cc
std::unique_ptr<const Regularizer> MakeIStar(const ParameterValues& values);       // isotropy.cc
std::unique_ptr<const Regularizer> MakeVicReg(const ParameterValues& values);      // vicreg.cc
std::unique_ptr<const Regularizer> MakeUniformity(const ParameterValues& values);  // uniformity.cc
std::unique_ptr<const Regularizer> MakeDispersion(const ParameterValues& values);  // dispersion.cc
std::unique_ptr<const Regularizer> MakeSigReg(const ParameterValues& values);      // sigreg.cc

}  // namespace istar::regularizers::internal

#endif  // ISTAR_REGULARIZERS_INTERNAL_TERMS_H_
