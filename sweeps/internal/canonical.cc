#include "sweeps/internal/canonical.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"

namespace istar::sweeps::internal {
namespace {

// -0.0 and 0.0 are one setting, but print differently.
double Normalized(double value) { return value == 0.0 ? 0.0 : value; }

std::string OpenSslErrorText() {
  const unsigned long code = ERR_get_error();
  if (code == 0) return "no OpenSSL error recorded";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

}  // namespace

std::string CanonicalEncoder::Json(const TrialSpec& trial) {
  const TrainingSettings& training = trial.training;
  nlohmann::json& config = object_;
  config["format"] = kCanonicalFormat;
  config["model"] = trial.model;
  config["model_path"] = trial.model_path;
  config["task"] = trial.task;
  config["task_path"] = trial.task_path;
  config["regularizer"] = trial.regularizer;
  config["batch_size"] = trial.batch_size;
  config["epochs"] = trial.epochs;
  config["seed"] = trial.seed;
  config["learning_rate"] = Normalized(trial.learning_rate);
  config["max_seq_length"] = training.max_seq_length;
  config["warmup_ratio"] = Normalized(training.warmup_ratio);
  config["weight_decay"] = Normalized(training.weight_decay);
  config["precision"] = training.precision;
  config["eval_every_steps"] = training.eval_every_steps;
  config["isotropy_every_steps"] = training.isotropy_every_steps;
  nlohmann::json layers = nlohmann::json::array();
  for (const int64_t layer : training.regularizer_layers) {
    if (layer == kLastLayer) {
      layers.push_back(kLastLayerName);
    } else {
      layers.push_back(layer);
    }
  }
  config["regularizer_layers"] = std::move(layers);
  config["shrinkage_points"] = training.shrinkage_points;
  // Present only when not the default: see Note [Canonical trial configuration].
  static const TrainingSettings kDefaults;
  if (training.lr_schedule == kDefaults.lr_schedule) {
    config.erase("lr_schedule");
  } else {
    config["lr_schedule"] = std::string(LrScheduleName(training.lr_schedule));
  }
  if (training.max_grad_norm == kDefaults.max_grad_norm) {
    config.erase("max_grad_norm");
  } else if (training.max_grad_norm.has_value()) {
    config["max_grad_norm"] = Normalized(*training.max_grad_norm);
  } else {
    config["max_grad_norm"] = kMaxGradNormOff;
  }
  SetUnlessDefault("doc_stride", training.doc_stride, kDefaults.doc_stride,
                   [](int64_t stride) { return nlohmann::json(stride); });
  SetUnlessDefault("selection", training.selection, kDefaults.selection,
                   [](const SelectionSplit& selection) {
                     return nlohmann::json{{"fraction", Normalized(selection.fraction)},
                                           {"seed", selection.seed}};
                   });
  SetUnlessDefault("point_cloud_padding", training.point_cloud_padding,
                   kDefaults.point_cloud_padding, [](PointCloudPadding padding) {
                     return nlohmann::json(OptionName(padding, kPointCloudPaddingNames));
                   });
  SetUnlessDefault(
      "isotropy_scope", training.isotropy_scope, kDefaults.isotropy_scope,
      [](IsotropyScope scope) { return nlohmann::json(OptionName(scope, kIsotropyScopeNames)); });
  SetUnlessDefault("segment_ids", training.segment_ids, kDefaults.segment_ids,
                   [](bool on) { return nlohmann::json(on); });
  SetUnlessDefault("shrinkage_sample", training.shrinkage_sample, kDefaults.shrinkage_sample,
                   [](ShrinkageSample sample) {
                     return nlohmann::json(OptionName(sample, kShrinkageSampleNames));
                   });
  SetUnlessDefault("evaluation_zeta", training.evaluation_zeta, kDefaults.evaluation_zeta,
                   [](double zeta) { return nlohmann::json(Normalized(zeta)); });
  // Present only for the regularizers that have them: see Note [Canonical trial configuration].
  for (const std::string& key : parameter_keys_) config.erase(key);
  parameter_keys_.clear();
  const catalog::RegularizerSpec* spec = catalog::FindRegularizer(trial.regularizer);
  ISTAR_CHECK(spec != nullptr) << "trial with the unknown regularizer '" << trial.regularizer
                               << "' passed validation";
  for (const catalog::ParameterSpec& parameter : spec->parameters) {
    const std::string key(parameter.name);
    const std::optional<double> value = trial.Parameter(key);
    ISTAR_CHECK(value.has_value()) << "trial without its parameter " << key;
    config[key] = Normalized(*value);
    parameter_keys_.push_back(key);
  }
  return config.dump();
}

absl::StatusOr<std::string> Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1 ||
      length != 32) {
    return absl::InternalError(
        absl::StrCat("OpenSSL EVP_Digest(SHA-256) failed: ", OpenSslErrorText()));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * length, '0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return hex;
}

absl::Status CanonicalEncoder::SetIdentity(TrialSpec& trial) {
  trial.canonical_json = Json(trial);
  absl::StatusOr<std::string> id = Sha256Hex(trial.canonical_json);
  if (!id.ok()) {
    return absl::InternalError(absl::StrCat("computing the id of trial ", trial.canonical_json,
                                            ": ", id.status().message()));
  }
  trial.id = *std::move(id);
  return absl::OkStatus();
}

namespace {

// Note [A trial from its canonical JSON]
// A leased trial travels as its canonical JSON (and the two settings outside its identity), not
// as the sweep file that every rank would re-expand. Reading it back is strict: every key of the
// layout must be there with its JSON type (lr_schedule and max_grad_norm only when not their
// defaults: Note [Canonical trial configuration] in canonical.h), nothing else may be, and
// re-encoding the result must give back the same text, whose SHA-256 must be the trial's id. So
// a configuration that was hand-edited, truncated, written by a newer layout (`format`), or
// paired with another trial's id is refused, never trained as something else.

// A field of the JSON object, or InvalidArgument naming it.
absl::StatusOr<const nlohmann::json*> Field(const nlohmann::json& object, const char* key,
                                            nlohmann::json::value_t type) {
  const auto it = object.find(key);
  if (it == object.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("canonical configuration: missing key '", key, "'"));
  }
  bool ok = it->type() == type;
  if (type == nlohmann::json::value_t::number_integer) ok = it->is_number_integer();  // or unsigned
  if (type == nlohmann::json::value_t::number_float) ok = it->is_number();  // re-encoding checks it
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat("canonical configuration: key '", key,
                                                   "' has the wrong type (", it->type_name(), ")"));
  }
  return &*it;
}

absl::StatusOr<std::string> StringField(const nlohmann::json& object, const char* key) {
  ISTAR_ASSIGN_OR_RETURN(const nlohmann::json* value,
                         Field(object, key, nlohmann::json::value_t::string));
  return value->get<std::string>();
}

absl::StatusOr<int64_t> IntField(const nlohmann::json& object, const char* key) {
  ISTAR_ASSIGN_OR_RETURN(const nlohmann::json* value,
                         Field(object, key, nlohmann::json::value_t::number_integer));
  return value->get<int64_t>();
}

absl::StatusOr<double> DoubleField(const nlohmann::json& object, const char* key) {
  ISTAR_ASSIGN_OR_RETURN(const nlohmann::json* value,
                         Field(object, key, nlohmann::json::value_t::number_float));
  return value->get<double>();
}

// An option written by its name (OptionName), or InvalidArgument naming the key.
template <typename Enum, size_t N>
absl::Status ReadOption(const nlohmann::json& object, const char* key,
                        const std::string_view (&names)[N], Enum& out) {
  if (!object.contains(key)) return absl::OkStatus();
  ISTAR_ASSIGN_OR_RETURN(const std::string name, StringField(object, key));
  const std::optional<Enum> value = ParseOption<Enum>(name, names);
  if (!value.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("canonical configuration: unknown ", key, " '",
                                                   name,
                                                   "': use an istar of the coordinator's version"));
  }
  out = *value;
  return absl::OkStatus();
}

}  // namespace

// The keys of the published protocol's options, each present only when not its default (Note
// [Canonical trial configuration]); values written with their defaults fail the re-encoding check.
absl::Status ReadProtocolOptions(const nlohmann::json& object, TrainingSettings& training) {
  if (object.contains("doc_stride")) {
    ISTAR_ASSIGN_OR_RETURN(training.doc_stride, IntField(object, "doc_stride"));
    if (*training.doc_stride < 1) {
      return absl::InvalidArgumentError("canonical configuration: doc_stride must be >= 1");
    }
  }
  if (object.contains("selection")) {
    ISTAR_ASSIGN_OR_RETURN(const nlohmann::json* selection,
                           Field(object, "selection", nlohmann::json::value_t::object));
    SelectionSplit split;
    ISTAR_ASSIGN_OR_RETURN(split.fraction, DoubleField(*selection, "fraction"));
    ISTAR_ASSIGN_OR_RETURN(split.seed, IntField(*selection, "seed"));
    if (!(split.fraction > 0.0 && split.fraction < 1.0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "canonical configuration: selection.fraction must be in (0, 1), got ", split.fraction));
    }
    training.selection = split;
  }
  ISTAR_RETURN_IF_ERROR(ReadOption(object, "point_cloud_padding", kPointCloudPaddingNames,
                                   training.point_cloud_padding));
  ISTAR_RETURN_IF_ERROR(
      ReadOption(object, "isotropy_scope", kIsotropyScopeNames, training.isotropy_scope));
  ISTAR_RETURN_IF_ERROR(
      ReadOption(object, "shrinkage_sample", kShrinkageSampleNames, training.shrinkage_sample));
  if (object.contains("segment_ids")) {
    ISTAR_ASSIGN_OR_RETURN(const nlohmann::json* on,
                           Field(object, "segment_ids", nlohmann::json::value_t::boolean));
    training.segment_ids = on->get<bool>();
  }
  if (object.contains("evaluation_zeta")) {
    ISTAR_ASSIGN_OR_RETURN(training.evaluation_zeta, DoubleField(object, "evaluation_zeta"));
    if (!(training.evaluation_zeta >= 0.0 && training.evaluation_zeta <= 1.0)) {
      return absl::InvalidArgumentError(
          "canonical configuration: evaluation_zeta must be in [0, 1]");
    }
  }
  return absl::OkStatus();
}

}  // namespace istar::sweeps::internal

namespace istar::sweeps {

absl::StatusOr<TrialSpec> TrialFromCanonicalJson(std::string_view trial_id,
                                                 std::string_view canonical_json) {
  using internal::CanonicalEncoder;
  using internal::DoubleField;
  using internal::Field;
  using internal::IntField;
  using internal::kCanonicalFormat;
  using internal::Sha256Hex;
  using internal::StringField;
  // See Note [A trial from its canonical JSON].
  nlohmann::json object =
      nlohmann::json::parse(canonical_json, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object()) {
    return absl::InvalidArgumentError("canonical configuration: not a JSON object");
  }
  ISTAR_ASSIGN_OR_RETURN(const int64_t format, IntField(object, "format"));
  if (format != kCanonicalFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("canonical configuration: format ", format, ", but this istar reads format ",
                     kCanonicalFormat, ": use an istar of the coordinator's version"));
  }
  TrialSpec trial;
  TrainingSettings& training = trial.training;
  ISTAR_ASSIGN_OR_RETURN(trial.model, StringField(object, "model"));
  ISTAR_ASSIGN_OR_RETURN(trial.model_path, StringField(object, "model_path"));
  ISTAR_ASSIGN_OR_RETURN(trial.task, StringField(object, "task"));
  ISTAR_ASSIGN_OR_RETURN(trial.task_path, StringField(object, "task_path"));
  ISTAR_ASSIGN_OR_RETURN(trial.regularizer, StringField(object, "regularizer"));
  ISTAR_ASSIGN_OR_RETURN(trial.batch_size, IntField(object, "batch_size"));
  ISTAR_ASSIGN_OR_RETURN(trial.epochs, IntField(object, "epochs"));
  ISTAR_ASSIGN_OR_RETURN(trial.seed, IntField(object, "seed"));
  ISTAR_ASSIGN_OR_RETURN(trial.learning_rate, DoubleField(object, "learning_rate"));
  ISTAR_ASSIGN_OR_RETURN(training.max_seq_length, IntField(object, "max_seq_length"));
  ISTAR_ASSIGN_OR_RETURN(training.warmup_ratio, DoubleField(object, "warmup_ratio"));
  ISTAR_ASSIGN_OR_RETURN(training.weight_decay, DoubleField(object, "weight_decay"));
  ISTAR_ASSIGN_OR_RETURN(training.precision, StringField(object, "precision"));
  ISTAR_ASSIGN_OR_RETURN(training.eval_every_steps, IntField(object, "eval_every_steps"));
  ISTAR_ASSIGN_OR_RETURN(training.isotropy_every_steps, IntField(object, "isotropy_every_steps"));
  ISTAR_ASSIGN_OR_RETURN(training.shrinkage_points, IntField(object, "shrinkage_points"));
  // Written only when not their defaults (Note [Canonical trial configuration]); one written with
  // its default fails the re-encoding check below.
  if (object.contains("lr_schedule")) {
    ISTAR_ASSIGN_OR_RETURN(const std::string name, StringField(object, "lr_schedule"));
    const std::optional<LrSchedule> schedule = ParseLrSchedule(name);
    if (!schedule.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("canonical configuration: unknown lr_schedule '", name,
                       "': use an istar of the coordinator's version"));
    }
    training.lr_schedule = *schedule;
  }
  if (const auto it = object.find("max_grad_norm"); it != object.end()) {
    if (it->is_string() && it->get<std::string>() == internal::kMaxGradNormOff) {
      training.max_grad_norm = std::nullopt;
    } else if (it->is_number() && it->get<double>() > 0.0) {
      training.max_grad_norm = it->get<double>();
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "canonical configuration: key 'max_grad_norm' is neither a number > 0 nor \"",
          internal::kMaxGradNormOff, "\" (", it->dump(), ")"));
    }
  }
  ISTAR_ASSIGN_OR_RETURN(const nlohmann::json* layers,
                         Field(object, "regularizer_layers", nlohmann::json::value_t::array));
  for (const nlohmann::json& layer : *layers) {
    if (layer.is_string() && layer.get<std::string>() == internal::kLastLayerName) {
      training.regularizer_layers.push_back(kLastLayer);
    } else if (layer.is_number_integer()) {
      training.regularizer_layers.push_back(layer.get<int64_t>());
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "canonical configuration: regularizer_layers holds a value that is neither an integer "
          "nor \"",
          internal::kLastLayerName, "\" (", layer.dump(), ")"));
    }
  }
  ISTAR_RETURN_IF_ERROR(internal::ReadProtocolOptions(object, training));
  const catalog::RegularizerSpec* spec = catalog::FindRegularizer(trial.regularizer);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "canonical configuration: unknown regularizer '", trial.regularizer, "' (this istar knows ",
        catalog::RegularizerNames(), "): use an istar of the coordinator's version"));
  }
  for (const catalog::ParameterSpec& parameter : spec->parameters) {
    const std::string key(parameter.name);
    ISTAR_ASSIGN_OR_RETURN(const double value, DoubleField(object, key.c_str()));
    if (key == "lambda") {
      trial.lambda = value;
    } else if (key == "zeta") {
      trial.zeta = value;
    } else {
      trial.parameters[key] = value;
    }
  }
  // Keys the layout does not have, and values that do not print back the same (an integer where
  // a double belongs, whitespace, unsorted keys), both show as a different encoding.
  CanonicalEncoder encoder;
  const std::string encoded = encoder.Json(trial);
  if (encoded != canonical_json) {
    return absl::InvalidArgumentError(absl::StrCat(
        "canonical configuration: not in canonical form (it re-encodes as ", encoded, ")"));
  }
  ISTAR_ASSIGN_OR_RETURN(std::string id, Sha256Hex(encoded));
  if (id != trial_id) {
    return absl::InvalidArgumentError(absl::StrCat("canonical configuration: its SHA-256 is ",
                                                   id.substr(0, 12), ", not the trial id ",
                                                   std::string(trial_id.substr(0, 12))));
  }
  trial.id = std::move(id);
  trial.canonical_json = encoded;
  return trial;
}

}  // namespace istar::sweeps
