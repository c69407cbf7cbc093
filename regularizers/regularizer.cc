#include "regularizers/regularizer.h"

#include <iterator>

#include "absl/strings/str_cat.h"
#include "catalog/catalog.h"
#include "regularizers/internal/terms.h"

namespace istar::regularizers {
namespace {

// Note [The table of terms]
// One line per catalogue row with a term. A table rather than self-registering classes: static
// registration in a static library needs whole-archive linking (the linker drops an object
// nothing refers to), and a table says in one place what this build can train.
struct Factory {
  std::string_view name;
  std::unique_ptr<const Regularizer> (*make)(const ParameterValues&);
};

constexpr Factory kFactories[] = {
    {"cosreg", internal::MakeCosReg},         {"istar", internal::MakeIStar},
    {"vicreg", internal::MakeVicReg},         {"uniformity", internal::MakeUniformity},
    {"dispersion", internal::MakeDispersion}, {"sigreg", internal::MakeSigReg},
};

}  // namespace

absl::StatusOr<std::unique_ptr<const Regularizer>> MakeRegularizer(std::string_view name,
                                                                   const ParameterValues& values) {
  const catalog::RegularizerSpec* spec = catalog::FindRegularizer(name);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown regularizer '", std::string(name),
                                                   "'; expected one of ",
                                                   catalog::RegularizerNames()));
  }
  for (const auto& [key, value] : values) {
    if (key != "lambda" && spec->FindParameter(key) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(name), " has no parameter '", key, "'"));
    }
  }
  ParameterValues checked;
  for (const catalog::ParameterSpec& parameter : spec->parameters) {
    if (parameter.name == "lambda") continue;  // the caller's weight
    const auto it = values.find(parameter.name);
    if (it == values.end() && !parameter.default_value.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(name), " needs its parameter '",
                                                     std::string(parameter.name), "'"));
    }
    const double value = it != values.end() ? it->second : *parameter.default_value;
    if (!parameter.range.Contains(value)) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(name), ": ",
                                                     std::string(parameter.name), " = ", value,
                                                     " is outside its range"));
    }
    checked.emplace(std::string(parameter.name), value);
  }
  if (!spec->has_lambda()) return std::unique_ptr<const Regularizer>();  // the baseline
  for (const Factory& factory : kFactories) {
    if (factory.name == name) return factory.make(checked);
  }
  return absl::UnimplementedError(absl::StrCat(
      "the regularizer '", std::string(name),
      "' is in the catalogue but has no term in this build (regularizers/regularizer.cc)"));
}

}  // namespace istar::regularizers
