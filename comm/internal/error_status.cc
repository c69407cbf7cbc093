#include "comm/internal/error_status.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace istar::comm::internal {

std::string_view ModuleRelativePath(std::string_view file) {
  const std::string_view kModule = "comm/";
  if (file.substr(0, kModule.size()) == kModule) return file;
  const size_t at = file.rfind("/comm/");
  return at == std::string_view::npos ? file : file.substr(at + 1);
}

absl::Status LibraryError(std::string_view file, int line, std::string_view library,
                          std::string_view library_text, std::string_view reason) {
  // Debian's absl::string_view is not std::string_view: build through std::string.
  const std::string path(ModuleRelativePath(file));
  return absl::InternalError(absl::StrCat(path, ":", line, ": ", std::string(library), " '",
                                          std::string(library_text), "': ", std::string(reason)));
}

}  // namespace istar::comm::internal
