// `istar embed`: hidden states of chosen layers of a checkpoint over a text file.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "cli/commands.h"
#include "models/embed.h"

namespace istar::cli {
namespace {

struct EmbedFlags {
  models::EmbedOptions options;
  std::string layers = "all";
  bool no_special_tokens = false;
  bool cls_only = false;
};

// "all", or a comma-separated list of layer numbers ("0,12"; -1 also means all).
absl::StatusOr<std::vector<int>> ParseLayers(const std::string& text) {
  if (text == "all") return std::vector<int>{-1};
  std::vector<int> layers;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int layer = 0;
    if (!absl::SimpleAtoi(part, &layer)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--layers: expected \"all\" or numbers like 0,12, got \"", text, "\""));
    }
    layers.push_back(layer);
  }
  return layers;
}

absl::Status Run(EmbedFlags flags) {
  absl::StatusOr<std::vector<int>> layers = ParseLayers(flags.layers);
  if (!layers.ok()) return layers.status();
  flags.options.layers = *layers;
  flags.options.special_tokens = !flags.no_special_tokens;
  flags.options.cls_only = flags.cls_only;
  flags.options.progress = &std::cerr;
  const absl::StatusOr<models::EmbedSummary> summary = models::EmbedText(flags.options);
  if (!summary.ok()) return summary.status();
  std::cout << flags.options.output_path << ": " << summary->tokens << " tokens of "
            << summary->sentences << " sentences, d = " << summary->hidden_size << ", layers "
            << absl::StrJoin(summary->layers, ",") << "\n";
  return absl::OkStatus();
}

}  // namespace

CommandRunner AddEmbedCommand(CLI::App& app) {
  auto flags = std::make_shared<EmbedFlags>();
  models::EmbedOptions& o = flags->options;
  CLI::App* cmd = app.add_subcommand(
      "embed",
      "Write the hidden states of chosen layers of a checkpoint over a text file, one row per "
      "token (padding excluded), for `istar isoscore` (docs/models.md)");
  cmd->add_option("--model", o.model_dir, "Checkpoint folder (config.json, weights, tokenizer)")
      ->required();
  cmd->add_option("--input", o.input_path,
                  "Text file, one sentence per line; with --column, a TSV with a header")
      ->required();
  cmd->add_option("--output", o.output_path,
                  ".npy (one layer) or .safetensors (tensors layer_<k> and token_index)")
      ->required();
  cmd->add_option("--layers", flags->layers,
                  "Comma-separated layers, 0 = embeddings ... L = last, or \"all\"")
      ->default_val("all");
  cmd->add_option("--column", o.column, "Column of a TSV input to read, by header name");
  cmd->add_option("--max-length", o.max_length, "Tokens per sentence, special tokens included")
      ->check(CLI::PositiveNumber)
      ->default_val(512);
  cmd->add_option("--batch-size", o.batch_size, "Sentences per forward pass")
      ->check(CLI::PositiveNumber)
      ->default_val(32);
  cmd->add_option("--progress-every", o.progress_every,
                  "Print progress to stderr every N batches (0: never)")
      ->default_val(10);
  cmd->add_flag("--no-special-tokens", flags->no_special_tokens,
                "Leave out the rows of [CLS] and [SEP] (the model still sees them)");
  cmd->add_flag("--cls-only", flags->cls_only,
                "Write only each sentence's [CLS] row (position 0): one row per sentence and "
                "layer; not with --no-special-tokens");
  return [flags] {
    const absl::Status status = Run(*flags);
    return status.ok() ? 0 : ReportError("embed", status);
  };
}

}  // namespace istar::cli
