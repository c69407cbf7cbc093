#include "models/embed.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "arrays/array_file.h"
#include "arrays/safetensors.h"
#include "base/status_macros.h"
#include "models/model.h"
#include "tokenizers/tokenizer.h"
#include "torch_boundary/torch_boundary.h"

namespace istar::models {
namespace {

// Rows gathered so far: per chosen layer, one [n, H] chunk per batch; and (sentence, position).
struct Rows {
  std::vector<std::vector<at::Tensor>> chunks;
  std::vector<double> token_index;
};

absl::StatusOr<std::vector<std::string>> ReadSentences(const EmbedOptions& options) {
  std::ifstream in(options.input_path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(options.input_path, ": cannot open the file"));
  std::vector<std::string> sentences;
  std::string line;
  int64_t column = -1, line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (options.column.empty()) {
      if (line.find_first_not_of(" \t") != std::string::npos) sentences.push_back(line);
      continue;
    }
    const std::vector<std::string> fields = absl::StrSplit(line, '\t');
    if (column < 0) {
      const auto it = std::find(fields.begin(), fields.end(), options.column);
      if (it == fields.end()) {
        return absl::InvalidArgumentError(absl::StrCat(options.input_path, ":1: no column \"",
                                                       options.column, "\" in the header"));
      }
      column = it - fields.begin();
    } else if (static_cast<int64_t>(fields.size()) <= column) {
      if (line.empty()) continue;
      return absl::InvalidArgumentError(absl::StrCat(
          options.input_path, ":", line_number, ": no field for column \"", options.column, "\""));
    } else {
      sentences.push_back(fields[column]);
    }
  }
  if (sentences.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(options.input_path, ": no sentences"));
  }
  return sentences;
}

absl::StatusOr<std::vector<int>> ResolveLayers(const EmbedOptions& options, int num_layers) {
  std::vector<int> layers;
  for (int layer : options.layers) {
    if (layer == -1) {
      for (int k = 0; k <= num_layers; ++k) layers.push_back(k);
    } else if (layer < 0 || layer > num_layers) {
      return absl::InvalidArgumentError(absl::StrCat("layers: ", layer, " is outside 0..",
                                                     num_layers, " (0 = embeddings, -1 = all)"));
    } else {
      layers.push_back(layer);
    }
  }
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  if (layers.empty()) return absl::InvalidArgumentError("layers: none chosen");
  return layers;
}

absl::Status CheckOptions(const EmbedOptions& options) {
  const std::string ext = std::filesystem::path(options.output_path).extension().string();
  if (ext != ".npy" && ext != ".safetensors") {
    return absl::InvalidArgumentError(
        absl::StrCat(options.output_path, ": the output must end in .npy or .safetensors"));
  }
  if (options.max_length < 1 || options.batch_size < 1) {
    return absl::InvalidArgumentError("max_length and batch_size must be positive");
  }
  if (options.cls_only && !options.special_tokens) {
    return absl::InvalidArgumentError(
        "cls_only keeps the [CLS] rows, which special_tokens = false leaves out: choose one");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<tokenizers::Encoding>> EncodeAll(
    const tokenizers::Tokenizer& tokenizer, const std::vector<std::string>& sentences,
    int64_t begin, int64_t end, const EmbedOptions& options, int64_t max_positions) {
  // A sentence longer than the position table is cut to it, as to max_length.
  const int64_t max_length = std::min(options.max_length, max_positions);
  std::vector<tokenizers::Encoding> encodings;
  for (int64_t s = begin; s < end; ++s) {
    absl::StatusOr<tokenizers::Encoding> encoding =
        tokenizer.Encode(sentences[s], {.max_length = max_length});
    if (!encoding.ok()) {
      return absl::Status(encoding.status().code(),
                          absl::StrCat(options.input_path, ": sentence ", s + 1, ": ",
                                       encoding.status().message()));
    }
    encodings.push_back(*std::move(encoding));
  }
  return encodings;
}

// Tokenizes sentences[begin, end), runs the model, and appends the kept rows to `rows`.
absl::Status EmbedBatch(TaskModel& model, const tokenizers::Tokenizer& tokenizer,
                        const std::vector<std::string>& sentences, int64_t begin, int64_t end,
                        const EmbedOptions& options, const std::vector<int>& layers, Rows& rows) {
  ISTAR_ASSIGN_OR_RETURN(
      const std::vector<tokenizers::Encoding> encodings,
      EncodeAll(tokenizer, sentences, begin, end, options, model.config().max_position_embeddings));
  int64_t width = 0;
  for (const tokenizers::Encoding& e : encodings) {
    width = std::max<int64_t>(width, static_cast<int64_t>(e.ids.size()));
  }
  const int64_t batch = end - begin;
  const int64_t pad = std::max<int32_t>(tokenizer.pad_id(), 0);
  std::vector<int64_t> ids(batch * width, pad), mask(batch * width, 0), types(batch * width, 0);
  std::vector<int64_t> keep;  // flat indices b * width + t of the rows to write
  for (int64_t b = 0; b < batch; ++b) {
    const tokenizers::Encoding& e = encodings[b];
    for (size_t t = 0; t < e.ids.size(); ++t) {
      const int64_t flat = b * width + static_cast<int64_t>(t);
      ids[flat] = e.ids[t];
      mask[flat] = 1;
      types[flat] = e.token_type_ids[t];
      if (!options.special_tokens && e.sequence_ids[t] < 0) continue;
      if (options.cls_only && t != 0) continue;
      keep.push_back(flat);
      rows.token_index.insert(rows.token_index.end(),
                              {static_cast<double>(begin + b), static_cast<double>(t)});
    }
  }
  const auto tensor = [&](const std::vector<int64_t>& v) {
    return at::tensor(v, at::kLong).view({batch, width});
  };
  const ModelOutput out = model.Forward(
      {.input_ids = tensor(ids), .attention_mask = tensor(mask), .token_type_ids = tensor(types)});
  const at::Tensor index = at::tensor(keep, at::kLong);
  for (size_t i = 0; i < layers.size(); ++i) {
    const at::Tensor& hidden = out.hidden_states[layers[i]];
    rows.chunks[i].push_back(hidden.reshape({-1, hidden.size(-1)}).index_select(0, index));
  }
  return absl::OkStatus();
}

absl::Status WriteRows(const std::string& path, const std::vector<int>& layers,
                       const std::vector<at::Tensor>& matrices,
                       const std::vector<double>& token_index) {
  if (std::filesystem::path(path).extension() == ".npy") {
    const at::Tensor m = matrices[0].to(at::kDouble).contiguous();
    arrays::Matrix matrix{.rows = m.size(0), .cols = m.size(1)};
    matrix.values.assign(m.data_ptr<double>(), m.data_ptr<double>() + m.numel());
    return arrays::WriteNpy(path, matrix, arrays::DType::kFloat32);
  }
  const auto bytes = [](const void* data, size_t n) {
    return std::span<const std::byte>(static_cast<const std::byte*>(data), n);
  };
  std::vector<arrays::TensorToWrite> tensors;
  for (size_t i = 0; i < layers.size(); ++i) {
    const at::Tensor& m = matrices[i];
    tensors.push_back(
        {.name = absl::StrCat("layer_", layers[i]),
         .dtype = arrays::TensorDType::kF32,
         .shape = {static_cast<uint64_t>(m.size(0)), static_cast<uint64_t>(m.size(1))},
         .data = bytes(m.data_ptr(), m.numel() * sizeof(float))});
  }
  tensors.push_back({.name = "token_index",
                     .dtype = arrays::TensorDType::kF64,
                     .shape = {token_index.size() / 2, 2},
                     .data = bytes(token_index.data(), token_index.size() * sizeof(double))});
  return arrays::WriteSafetensors(path, tensors, {{"format", "pt"}});
}

absl::StatusOr<EmbedSummary> EmbedOrThrow(const EmbedOptions& options) {
  ISTAR_RETURN_IF_ERROR(CheckOptions(options));
  ISTAR_ASSIGN_OR_RETURN(const std::vector<std::string> sentences, ReadSentences(options));
  ISTAR_ASSIGN_OR_RETURN(LoadedModel loaded, LoadPretrained(options.model_dir, Head::kNone));
  if (loaded.tokenizer == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        options.model_dir, ": no tokenizer (tokenizer.json, vocab.txt, spiece.model)"));
  }
  TaskModel& model = *loaded.model;
  EmbedSummary summary{.sentences = static_cast<int64_t>(sentences.size()),
                       .hidden_size = model.config().hidden_size};
  ISTAR_ASSIGN_OR_RETURN(
      summary.layers, ResolveLayers(options, static_cast<int>(model.config().num_hidden_layers)));
  if (summary.layers.size() > 1 &&
      std::filesystem::path(options.output_path).extension() == ".npy") {
    return absl::InvalidArgumentError(absl::StrCat(
        options.output_path, ": a .npy file holds one layer; write several to .safetensors"));
  }
  model.module().eval();
  at::NoGradGuard no_grad;
  Rows rows{.chunks = std::vector<std::vector<at::Tensor>>(summary.layers.size())};
  for (int64_t begin = 0, batch = 1; begin < summary.sentences;
       begin += options.batch_size, ++batch) {
    const int64_t end = std::min(summary.sentences, begin + options.batch_size);
    ISTAR_RETURN_IF_ERROR(
        EmbedBatch(model, *loaded.tokenizer, sentences, begin, end, options, summary.layers, rows));
    if (options.progress != nullptr && options.progress_every > 0 &&
        (batch % options.progress_every == 0 || end == summary.sentences)) {
      *options.progress << "istar embed: " << end << "/" << summary.sentences << " sentences\n";
    }
  }
  std::vector<at::Tensor> matrices;
  for (const auto& chunks : rows.chunks) {
    matrices.push_back(at::cat(chunks, 0).to(at::kFloat).contiguous());
  }
  summary.tokens = matrices[0].size(0);
  ISTAR_RETURN_IF_ERROR(WriteRows(options.output_path, summary.layers, matrices, rows.token_index));
  return summary;
}

}  // namespace

absl::StatusOr<EmbedSummary> EmbedText(const EmbedOptions& options) {
  return CatchTorch(absl::StrCat("embedding ", options.input_path),
                    [&] { return EmbedOrThrow(options); });
}

}  // namespace istar::models
