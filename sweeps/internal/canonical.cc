#include "sweeps/internal/canonical.h"

#include <openssl/err.h>
#include <openssl/evp.h>

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
  config["regularizer_layers"] = training.regularizer_layers;
  config["shrinkage_points"] = training.shrinkage_points;
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

}  // namespace istar::sweeps::internal
