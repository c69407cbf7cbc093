// The regularizer catalogue: one row per regularizer (catalog.h).
#include <algorithm>
#include <iterator>

#include "catalog/catalog.h"

namespace istar::catalog {
namespace {

constexpr Range kAnyNumber{};
constexpr Range kUnitInterval{.min = 0.0, .max = 1.0};
constexpr Range kPositive{.min = 0.0, .min_open = true};

// Every regularizer's weight. Its sign is the direction: a positive lambda lowers the term (for
// I-STAR, raises IsoScore*), a negative one raises it.
constexpr ParameterSpec kLambda{
    .name = "lambda", .range = kAnyNumber, .meaning = "weight of the term in the loss"};

constexpr ParameterSpec kCosRegParameters[] = {kLambda};
constexpr ParameterSpec kIStarParameters[] = {
    kLambda,
    {.name = "zeta",
     .range = kUnitInterval,
     .meaning = "shrinkage weight of S0 in the covariance (0: plain IsoScore)"},
};
constexpr ParameterSpec kVicRegParameters[] = {
    kLambda,
    {.name = "gamma",
     .range = kPositive,
     .default_value = 1.0,
     .meaning = "target standard deviation of each hidden dimension"},
};
constexpr ParameterSpec kUniformityParameters[] = {
    kLambda,
    {.name = "t",
     .range = kPositive,
     .default_value = 2.0,
     .meaning = "temperature of the Gaussian potential exp(-t ||u - v||^2)"},
};
constexpr ParameterSpec kLambdaOnly[] = {kLambda};

// Note [Catalogue order]
// The order of this table is the order of the columns of `istar compare` and of `istar trials`'
// rows, so baseline, cosreg and istar keep the places they had before the catalogue existed.
constexpr RegularizerSpec kRegularizers[] = {
    {.name = "baseline", .summary = "no regularizer: the task loss alone", .citation = ""},
    {.name = "cosreg",
     .summary = "lambda * mean pairwise cosine similarity of the hidden states",
     .citation = "Gao, He, Tan, Qin, Wang & Liu, Representation Degeneration Problem in "
                 "Training Natural Language Generation Models, ICLR 2019",
     .parameters = kCosRegParameters},
    {.name = "istar",
     .summary = "lambda * (1 - IsoScore*) of the hidden states, shrunk towards S0 by zeta",
     .citation = "Rudman & Eickhoff, Stable Anisotropic Regularization, ICLR 2024",
     .parameters = kIStarParameters,
     .uses_shrinkage = true},
    {.name = "vicreg",
     .summary = "lambda * (variance + covariance terms of VICReg) of the hidden states",
     .citation = "Bardes, Ponce & LeCun, VICReg: Variance-Invariance-Covariance Regularization "
                 "for Self-Supervised Learning, ICLR 2022",
     .parameters = kVicRegParameters},
    {.name = "uniformity",
     .summary = "lambda * uniformity loss of the unit-normalised sentence vectors",
     .citation = "Wang & Isola, Understanding Contrastive Representation Learning through "
                 "Alignment and Uniformity on the Hypersphere, ICML 2020",
     .parameters = kUniformityParameters,
     .default_layers = DefaultLayers::kLast},
    {.name = "dispersion",
     .summary = "lambda * average pairwise cosine among the tokens of each sequence",
     .citation = "the within-sequence form of CosReg (Gao et al., ICLR 2019); docs/isotropy.md",
     .parameters = kLambdaOnly},
    {.name = "sigreg",
     .summary = "lambda * SIGReg: Epps-Pulley statistics of random 1-D projections against N(0, 1)",
     .citation = "Balestriero & LeCun, LeJEPA: Provable and Scalable Self-Supervised Learning "
                 "Without the Heuristics, arXiv:2511.08544, 2025",
     .parameters = kLambdaOnly,
     .default_layers = DefaultLayers::kLast},
};

}  // namespace

const ParameterSpec* RegularizerSpec::FindParameter(std::string_view name) const {
  for (const ParameterSpec& parameter : parameters) {
    if (parameter.name == name) return &parameter;
  }
  return nullptr;
}

std::span<const RegularizerSpec> Regularizers() { return kRegularizers; }

const RegularizerSpec* FindRegularizer(std::string_view name) {
  for (const RegularizerSpec& spec : kRegularizers) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

size_t RegularizerOrder(std::string_view name) {
  const auto it = std::find_if(std::begin(kRegularizers), std::end(kRegularizers),
                               [&](const RegularizerSpec& spec) { return spec.name == name; });
  return static_cast<size_t>(it - std::begin(kRegularizers));
}

std::string RegularizerNames() {
  std::string names;
  for (const RegularizerSpec& spec : kRegularizers) {
    if (!names.empty()) names += ", ";
    names += spec.name;
  }
  return names;
}

}  // namespace istar::catalog
