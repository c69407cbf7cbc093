#include "models/checkpoint.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "arrays/safetensors.h"
#include "base/status_macros.h"
#include "torch_boundary/torch_boundary.h"

namespace istar::models {
namespace {

// The formats store little-endian elements, which from_blob reads as native ones.
static_assert(std::endian::native == std::endian::little,
              "checkpoints assume a little-endian host");

using arrays::TensorDType;

// One tensor of a checkpoint, as read: its name in the file and its values, or, when istar cannot
// turn it into a tensor (an unsupported dtype), why not. Such an entry is an error only if the
// module has a place for it.
struct Entry {
  std::string key;
  std::vector<int64_t> shape;
  at::Tensor tensor;  // Undefined when `unsupported` is set.
  std::string unsupported;
};

std::string ShapeText(at::IntArrayRef shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// The file dtypes a module's tensor can be loaded from, and saved as.
constexpr std::pair<TensorDType, at::ScalarType> kScalarTypes[] = {
    {TensorDType::kF16, at::kHalf},  {TensorDType::kBF16, at::kBFloat16},
    {TensorDType::kF32, at::kFloat}, {TensorDType::kF64, at::kDouble},
    {TensorDType::kI64, at::kLong},  {TensorDType::kI32, at::kInt},
    {TensorDType::kI16, at::kShort}, {TensorDType::kI8, at::kChar},
    {TensorDType::kU8, at::kByte},   {TensorDType::kBool, at::kBool}};

std::optional<at::ScalarType> ScalarTypeOf(TensorDType dtype) {
  for (const auto& [file_type, scalar_type] : kScalarTypes) {
    if (file_type == dtype) return scalar_type;
  }
  return std::nullopt;
}

std::optional<TensorDType> TensorDTypeOf(at::ScalarType type) {
  for (const auto& [file_type, scalar_type] : kScalarTypes) {
    if (scalar_type == type) return file_type;
  }
  return std::nullopt;
}

// A tensor over the mapped bytes of `info`, without a copy. Note [Reading mapped tensors]: the
// mapping is read-only (PROT_READ), so the tensor must only ever be read (it is the source of a
// copy_), and it must not outlive the SafetensorsFile. If the writer did not align the bytes to
// the element size, they are first copied to an aligned buffer.
Entry ToEntry(const arrays::TensorInfo& info) {
  Entry entry{.key = info.name};
  for (uint64_t dim : info.shape) {
    if (dim > static_cast<uint64_t>(INT64_MAX)) {
      entry.unsupported = absl::StrCat("dimension ", dim, " does not fit in int64");
      return entry;
    }
    entry.shape.push_back(static_cast<int64_t>(dim));
  }
  const std::optional<at::ScalarType> type = ScalarTypeOf(info.dtype);
  if (!type.has_value()) {
    entry.unsupported = absl::StrCat("unsupported dtype ", info.dtype_name,
                                     " (expected F16, BF16, F32, F64, I8-I64, U8 or BOOL)");
    return entry;
  }
  const auto address = reinterpret_cast<uintptr_t>(info.data.data());
  if (info.data.empty() || address % arrays::TensorDTypeSize(info.dtype) != 0) {
    entry.tensor = at::empty(entry.shape, at::TensorOptions().dtype(*type));
    if (!info.data.empty()) {
      std::memcpy(entry.tensor.data_ptr(), info.data.data(), info.data.size());
    }
  } else {
    entry.tensor = at::from_blob(const_cast<std::byte*>(info.data.data()), entry.shape,
                                 at::TensorOptions().dtype(*type));
  }
  return entry;
}

// Note [Checkpoint key mapping]
// As Hugging Face's from_pretrained: a file key "x.LayerNorm.gamma" / ".beta" is read as
// "x.LayerNorm.weight" / ".bias"; then, with a base-model prefix P, if the module has keys
// starting "P." and the file has none, every file key gets "P." prepended (a bare encoder's
// checkpoint fills the task model's encoder); if the file has such keys and the module has none,
// "P." is stripped from the file keys that have it (the others, a pre-training head say, are then
// unexpected). Otherwise keys are compared as they are.
class KeyMapper {
 public:
  KeyMapper(const std::vector<Entry>& entries, const std::map<std::string, at::Tensor>& targets,
            const std::string& prefix) {
    if (prefix.empty()) return;
    prefix_ = prefix + ".";
    const auto starts = [&](const std::string& key) { return key.rfind(prefix_, 0) == 0; };
    const bool module_has = std::any_of(targets.begin(), targets.end(),
                                        [&](const auto& target) { return starts(target.first); });
    const bool file_has = std::any_of(entries.begin(), entries.end(),
                                      [&](const Entry& entry) { return starts(entry.key); });
    add_ = module_has && !file_has;
    strip_ = file_has && !module_has;
  }

  std::string ModuleKey(std::string key) const {
    for (const auto& [legacy, modern] : {std::pair{"LayerNorm.gamma", "LayerNorm.weight"},
                                         std::pair{"LayerNorm.beta", "LayerNorm.bias"}}) {
      const std::string_view suffix(legacy);
      if (key.size() >= suffix.size() && key.ends_with(suffix)) {
        key = key.substr(0, key.size() - suffix.size()) + modern;
      }
    }
    if (add_) return prefix_ + key;
    if (strip_ && key.rfind(prefix_, 0) == 0) return key.substr(prefix_.size());
    return key;
  }

 private:
  std::string prefix_;
  bool add_ = false;
  bool strip_ = false;
};

std::map<std::string, at::Tensor> Targets(const torch::nn::Module& module) {
  std::map<std::string, at::Tensor> targets;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    targets.emplace(item.key(), item.value());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    if (item.value().defined()) targets.emplace(item.key(), item.value());
  }
  return targets;
}

// Matches `entries` to the module's tensors, checks every match, then copies: a module is either
// loaded completely or, on an error, left untouched.
absl::StatusOr<LoadReport> CopyIntoModule(torch::nn::Module& module, const std::string& path,
                                          const std::vector<Entry>& entries,
                                          const LoadOptions& options) {
  const std::map<std::string, at::Tensor> targets = Targets(module);
  const KeyMapper mapper(entries, targets, options.base_model_prefix);
  std::map<std::string, const Entry*> plan;  // By module key.
  LoadReport report;
  for (const Entry& entry : entries) {
    const std::string key = mapper.ModuleKey(entry.key);
    const auto target = targets.find(key);
    if (target == targets.end()) {
      report.unexpected_keys.push_back(entry.key);
      continue;
    }
    const std::string context = absl::StrCat(path, ": tensor '", entry.key, "'");
    if (!entry.unsupported.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(context, ": ", entry.unsupported));
    }
    if (target->second.sizes() != at::IntArrayRef(entry.shape)) {
      return absl::InvalidArgumentError(absl::StrCat(
          context, ": shape ", ShapeText(entry.shape), " in the checkpoint, but the module's '",
          key, "' has shape ", ShapeText(target->second.sizes())));
    }
    plan[key] = &entry;
  }
  for (const auto& [key, tensor] : targets) {
    if (!plan.contains(key)) report.missing_keys.push_back(key);
  }
  std::sort(report.unexpected_keys.begin(), report.unexpected_keys.end());
  at::NoGradGuard no_grad;
  for (const auto& [key, entry] : plan) {
    at::Tensor target = targets.at(key);
    // copy_ converts the dtype (F16 -> float32, say) and moves to the target's device.
    target.copy_(entry->tensor);
  }
  report.loaded = static_cast<int64_t>(plan.size());
  return report;
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// The context of CatchTorch for a copy into `path`'s module.
std::string CopyingInto(const std::string& path) {
  return absl::StrCat(path, ": copying the checkpoint into the module failed");
}

}  // namespace

std::string LoadReport::ToString() const {
  std::string text = absl::StrCat("loaded ", loaded, " tensors\n");
  if (!missing_keys.empty()) {
    absl::StrAppend(&text, "missing keys (", missing_keys.size(),
                    "): ", absl::StrJoin(missing_keys, ", "), "\n");
  }
  if (!unexpected_keys.empty()) {
    absl::StrAppend(&text, "unexpected keys (", unexpected_keys.size(),
                    "): ", absl::StrJoin(unexpected_keys, ", "), "\n");
  }
  return text;
}

absl::StatusOr<LoadReport> LoadSafetensors(torch::nn::Module& module, const std::string& path,
                                           const LoadOptions& options) {
  ISTAR_ASSIGN_OR_RETURN(const std::unique_ptr<arrays::SafetensorsFile> file,
                         arrays::SafetensorsFile::Open(path));
  return CatchTorch(CopyingInto(path), [&] {
    std::vector<Entry> entries;
    for (const arrays::TensorInfo& info : file->tensors()) entries.push_back(ToEntry(info));
    return CopyIntoModule(module, path, entries, options);
  });
}

absl::StatusOr<LoadReport> LoadPytorchBin(torch::nn::Module& module, const std::string& path,
                                          const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  c10::IValue value;
  try {
    value = torch::jit::pickle_load(bytes);
  } catch (const c10::Error& e) {
    // Note [pytorch_model.bin]: LibTorch 1.13's unpickler reads every collections.OrderedDict as
    // None (it expects one only as a tensor's unused backward hooks), and torch.save writes
    // model.state_dict(), an OrderedDict: so Hugging Face's files fail here, while a plain dict
    // of tensors in the same zip format loads. Verified with a file laid out as torch.save
    // writes it; see docs/checkpoints.md.
    return absl::UnimplementedError(absl::StrCat(
        path, ": this LibTorch cannot unpickle the file (", FirstLine(e.what_without_backtrace()),
        "). A state dict saved by torch.save (a collections.OrderedDict, as Hugging Face writes "
        "it) is not readable with LibTorch 1.13; convert the folder to model.safetensors"));
  }
  if (!value.isGenericDict()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a state dict (a dict of tensors)"));
  }
  std::vector<Entry> entries;
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString() || !item.value().isTensor()) continue;  // Python-only extras.
    at::Tensor tensor = item.value().toTensor();
    entries.push_back(
        Entry{.key = item.key().toStringRef(), .shape = tensor.sizes().vec(), .tensor = tensor});
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.key < b.key; });
  return CatchTorch(CopyingInto(path),
                    [&] { return CopyIntoModule(module, path, entries, options); });
}

absl::Status SaveSafetensors(const torch::nn::Module& module, const std::string& path) {
  std::vector<at::Tensor> keep_alive;  // The contiguous CPU copies the spans point into.
  std::vector<arrays::TensorToWrite> tensors;
  ISTAR_RETURN_IF_ERROR(CatchTorch(
      absl::StrCat(path, ": copying the module's tensors to the CPU failed"),
      [&]() -> absl::Status {
        for (const auto& [key, target] : Targets(module)) {
          const std::optional<TensorDType> dtype = TensorDTypeOf(target.scalar_type());
          if (!dtype.has_value()) {
            return absl::InvalidArgumentError(absl::StrCat(
                path, ": cannot save '", key, "' of dtype ", c10::toString(target.scalar_type())));
          }
          at::Tensor cpu = target.detach().to(at::kCPU).contiguous();
          const std::vector<int64_t> sizes = cpu.sizes().vec();
          tensors.push_back(arrays::TensorToWrite{
              .name = key,
              .dtype = *dtype,
              .shape = std::vector<uint64_t>(sizes.begin(), sizes.end()),
              .data = std::span(static_cast<const std::byte*>(cpu.data_ptr()), cpu.nbytes())});
          keep_alive.push_back(std::move(cpu));
        }
        return absl::OkStatus();
      }));
  return arrays::WriteSafetensors(path, tensors, {{"format", "pt"}});
}

}  // namespace istar::models
