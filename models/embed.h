// File: models/embed.h
// -----------------------------------------------------------------------------
// Hidden states of a checkpoint over a text file: the point clouds whose isotropy
// `istar isoscore` measures. This header is LibTorch-free, for the command line (`istar embed`);
// the model runs in LibTorch behind it, in eval mode and without gradients.
//
// One row is written per token of every sentence, in input order (sentence by sentence, token by
// token), padding excluded. By default the special tokens ([CLS], [SEP]) are included, as the
// IsoScore papers measure every token the model sees; EmbedOptions::special_tokens = false drops
// them (the model still sees them). EmbedOptions::cls_only writes one row per sentence instead: its
// position 0 ([CLS]), the sentence vector the paper's final [CLS] measures use.
//
// Output files (docs/models.md):
//   .npy          exactly one layer: float32 [N_tokens, hidden_size];
//   .safetensors  one F32 tensor "layer_<k>" [N_tokens, hidden_size] per chosen layer k, and
//                 "token_index", F64 [N_tokens, 2]: each row's sentence (0-based, counting the
//                 sentences read) and the token's position in its encoding ([CLS] is 0). F64 keeps
//                 it readable by arrays::ReadMatrix; the values are exact integers.
// Layer k is hidden_states[k]: 0 is the embedding output, num_hidden_layers the last layer.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(EmbedSummary summary,
//                          EmbedText({.model_dir = "ckpt", .input_path = "dev.tsv",
//                                     .column = "sentence", .output_path = "dev.safetensors",
//                                     .layers = {0, 12}}));
//
// Thread safety: EmbedText is thread-safe for different output files.
#ifndef ISTAR_MODELS_EMBED_H_
#define ISTAR_MODELS_EMBED_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace istar::models {

struct EmbedOptions {
  std::string model_dir;  // a checkpoint folder with a tokenizer (LoadPretrained)
  // Plain text, one sentence per line (blank lines skipped); or, with `column`, a tab-separated
  // file whose first line is a header (GLUE's .tsv files): the column with that header is read.
  std::string input_path;
  std::string column;       // empty: plain text
  std::string output_path;  // .npy or .safetensors, chosen by extension
  // Layers to write, each in 0..num_hidden_layers; -1 means every layer.
  std::vector<int> layers = {-1};
  // Tokens per sentence, special tokens included; longer sentences are cut to it, and to the
  // model's max_position_embeddings if that is smaller.
  int64_t max_length = 512;
  int64_t batch_size = 32;     // sentences per forward pass
  bool special_tokens = true;  // write rows for [CLS] and [SEP] too
  // Write only each sentence's position-0 row ([CLS] for BERT-like models): one row per sentence.
  // Needs special_tokens (InvalidArgument otherwise).
  bool cls_only = false;
  int64_t progress_every = 0;        // write a progress line every this many batches; 0: never
  std::ostream* progress = nullptr;  // where progress lines go (e.g. &std::cerr); null: nowhere
};

struct EmbedSummary {
  int64_t sentences = 0;  // sentences read and embedded
  int64_t tokens = 0;     // rows written per layer
  int64_t hidden_size = 0;
  std::vector<int> layers;  // the layers written, ascending
};

// Embeds every sentence of options.input_path and writes the chosen layers' hidden states.
// Returns:
//   NotFound           if the input file, the model folder or its files are missing;
//   InvalidArgument    for a layer out of range, several layers with a .npy output, an output
//                      extension other than .npy/.safetensors, a column not in the header, a row
//                      without that column, no sentences, max_length or batch_size < 1,
//                      cls_only without special_tokens, or the errors of loading the checkpoint;
//   FailedPrecondition if the model folder holds no tokenizer;
//   Internal           if LibTorch fails or the output cannot be written;
//   a summary otherwise.
[[nodiscard]] absl::StatusOr<EmbedSummary> EmbedText(const EmbedOptions& options);

}  // namespace istar::models

#endif  // ISTAR_MODELS_EMBED_H_
