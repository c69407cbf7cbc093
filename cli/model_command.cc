// `istar model inspect DIR`: what a checkpoint folder holds, as istar loads it.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "models/config.h"
#include "models/inspect.h"

namespace istar::cli {
namespace {

struct ModelFlags {
  std::string dir;
  bool json = false;
};

void PrintText(const ModelFlags& flags, const models::ModelSummary& s) {
  const models::ModelConfig& c = s.config;
  std::cout << flags.dir << ": " << s.class_name << " (" << models::ArchitectureName(c.architecture)
            << ")\n"
            << "  layers " << c.num_hidden_layers << ", hidden " << c.hidden_size << ", heads "
            << c.num_attention_heads << ", intermediate " << c.intermediate_size << ", vocab "
            << c.vocab_size << ", max positions " << c.max_position_embeddings << ", activation "
            << c.hidden_act << "\n";
  if (c.architecture == models::Architecture::kAlbert) {
    std::cout << "  embedding size " << c.embedding_size << ", groups " << c.num_hidden_groups
              << ", inner layers per group " << c.inner_group_num << "\n";
  }
  std::cout << "  parameters " << s.total_parameters << " (encoder " << s.encoder_parameters
            << ", head " << s.head_parameters << ")\n"
            << "  weights " << s.weights_path << ": " << s.report.loaded << " tensors loaded\n";
  if (!s.report.missing_keys.empty()) {
    std::cout << "  missing " << absl::StrJoin(s.report.missing_keys, ", ") << "\n";
  }
  if (!s.report.unexpected_keys.empty()) {
    std::cout << "  unexpected " << absl::StrJoin(s.report.unexpected_keys, ", ") << "\n";
  }
  std::cout << "  tokenizer "
            << (s.tokenizer_file.empty() ? std::string("none") : s.tokenizer_file);
  if (!s.tokenizer_file.empty()) std::cout << ", vocabulary " << s.tokenizer_vocab_size;
  std::cout << "\n";
}

void PrintJson(const ModelFlags& flags, const models::ModelSummary& s) {
  nlohmann::ordered_json out = {
      {"dir", flags.dir},
      {"class", s.class_name},
      {"config", nlohmann::ordered_json::parse(models::ModelConfigToJson(s.config))},
      {"parameters",
       {{"total", s.total_parameters},
        {"encoder", s.encoder_parameters},
        {"head", s.head_parameters}}},
      {"weights", s.weights_path},
      {"loaded", s.report.loaded},
      {"missing_keys", s.report.missing_keys},
      {"unexpected_keys", s.report.unexpected_keys},
      {"tokenizer", s.tokenizer_file.empty() ? nlohmann::ordered_json(nullptr)
                                             : nlohmann::ordered_json(s.tokenizer_file)},
      {"tokenizer_vocab_size", s.tokenizer_vocab_size}};
  std::cout << out.dump(2) << "\n";
}

}  // namespace

CommandRunner AddModelCommand(CLI::App& app) {
  auto flags = std::make_shared<ModelFlags>();
  CLI::App* cmd = app.add_subcommand("model", "Inspect Hugging Face checkpoint folders");
  cmd->require_subcommand(1);
  CLI::App* inspect = cmd->add_subcommand(
      "inspect",
      "Print a checkpoint folder's architecture, configuration, parameter counts, the keys "
      "loading reports missing or unexpected, and its tokenizer (docs/models.md)");
  inspect->add_option("DIR", flags->dir, "Folder with config.json and model.safetensors")
      ->required();
  inspect->add_flag("--json", flags->json, "Print one JSON object instead of text");
  return [flags] {
    const absl::StatusOr<models::ModelSummary> summary = models::InspectModel(flags->dir);
    if (!summary.ok()) return ReportError("model inspect", summary.status());
    flags->json ? PrintJson(*flags, *summary) : PrintText(*flags, *summary);
    return 0;
  };
}

}  // namespace istar::cli
