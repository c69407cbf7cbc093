// File: models/checkpoint.h
// -----------------------------------------------------------------------------
// Loading and saving a module's weights in Hugging Face's file formats, by parameter name.
//
// A Hugging Face model folder holds model.safetensors (or pytorch_model.bin) whose tensor names
// are the module paths of the PyTorch model ("bert.encoder.layer.0.attention.self.query.weight").
// istar's modules use the same names, so loading is a name-by-name copy. As in Hugging Face's
// from_pretrained, loading never fails for keys that do not line up: it reports them.
//   - missing keys: parameters of the module absent from the file (left as initialised; a fresh
//     classification head is the expected case);
//   - unexpected keys: tensors of the file the module has no place for (ignored);
//   - mismatched keys: present in both with different shapes: an error (InvalidArgument), since
//     the checkpoint is for a different configuration.
// A checkpoint of the bare encoder (names without "bert.") loads into a task model whose encoder
// is registered as "bert" and vice versa: the base-model prefix is added or removed as needed.
// Legacy LayerNorm names "gamma"/"beta" are read as "weight"/"bias".
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(LoadReport report,
//                          LoadSafetensors(model, dir + "/model.safetensors", {"bert"}));
//   std::cerr << report.ToString();
//   ISTAR_RETURN_IF_ERROR(SaveSafetensors(model, out_dir + "/model.safetensors"));
//
// Thread safety: the functions are thread-safe for different modules.
#ifndef ISTAR_MODELS_CHECKPOINT_H_
#define ISTAR_MODELS_CHECKPOINT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace istar::models {

// What loading found, in Hugging Face's terms (see the file comment). Both lists are sorted.
struct LoadReport {
  std::vector<std::string> missing_keys;     // the module's names
  std::vector<std::string> unexpected_keys;  // the file's names, as written in it
  int64_t loaded = 0;                        // tensors copied into the module

  // Human-readable summary: "loaded N tensors", then one line for each non-empty list
  // ("missing keys (2): classifier.bias, classifier.weight").
  std::string ToString() const;
};

struct LoadOptions {
  // The name under which the task model registers its encoder ("bert", "albert", "distilbert");
  // empty if the module is the bare encoder or no prefix handling is wanted.
  std::string base_model_prefix;
};

// Copies the tensors of a .safetensors file into the parameters and buffers of `module` with the
// same names, converting F16 / BF16 / F32 / F64 (and I8-I64, U8, BOOL) to the parameter's dtype
// and device. The file is memory-mapped and its header fully validated first; every match is
// checked before anything is copied, so on an error the module is left as it was.
// Returns NotFound (no file), InvalidArgument (malformed file, mismatched shapes, unsupported
// dtype of a tensor the module has a place for; the message names the file and the key),
// Internal if LibTorch fails, the report otherwise.
[[nodiscard]] absl::StatusOr<LoadReport> LoadSafetensors(torch::nn::Module& module,
                                                         const std::string& path,
                                                         const LoadOptions& options = {});

// As LoadSafetensors, for a pytorch_model.bin in torch.save's zip format, read with LibTorch's
// unpickler (torch::jit::pickle_load). With LibTorch 1.13 this reads a plain dict of tensors
// (torch.save({...}), torch::jit::pickle_save) but not Hugging Face's files, whose state dict
// is a collections.OrderedDict: for those, and for the legacy pre-zip format, it returns
// Unimplemented, saying to convert to model.safetensors (docs/checkpoints.md). Returns NotFound
// if the file cannot be opened, InvalidArgument as LoadSafetensors.
[[nodiscard]] absl::StatusOr<LoadReport> LoadPytorchBin(torch::nn::Module& module,
                                                        const std::string& path,
                                                        const LoadOptions& options = {});

// Writes every parameter and persistent buffer of `module` to `path` as .safetensors, named as
// the module names them (float32 as F32, float64 as F64, bfloat16 as BF16, float16 as F16), with
// metadata {"format": "pt"} as Hugging Face writes it; integer and bool buffers are saved too.
// The file is replaced atomically (arrays::WriteSafetensors). InvalidArgument for a tensor of
// another dtype (complex, say), Internal if the file cannot be written.
[[nodiscard]] absl::Status SaveSafetensors(const torch::nn::Module& module,
                                           const std::string& path);

}  // namespace istar::models

#endif  // ISTAR_MODELS_CHECKPOINT_H_
