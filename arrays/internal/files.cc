#include "arrays/internal/files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status_macros.h"

namespace istar::arrays::internal {
namespace {

// strerror's text, through the thread-safe strerror_r that libstdc++ uses (the header promises
// concurrent reads of different files).
std::string ErrnoText(int error) { return std::generic_category().message(error); }

}  // namespace

absl::StatusOr<ReadOnlyFile> ReadOnlyFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", ErrnoText(errno)));
  }
  struct stat info;
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return absl::NotFoundError(absl::StrCat(path, ": not a regular file"));
  }
  return ReadOnlyFile(path, fd, static_cast<uint64_t>(info.st_size));
}

ReadOnlyFile::ReadOnlyFile(ReadOnlyFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)), size_(other.size_) {}

ReadOnlyFile& ReadOnlyFile::operator=(ReadOnlyFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
  }
  return *this;
}

ReadOnlyFile::~ReadOnlyFile() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::string> ReadOnlyFile::Read(uint64_t offset, uint64_t length) const {
  ISTAR_CHECK(offset <= size_ && length <= size_ - offset)
      << path_ << ": read of " << length << " bytes at " << offset << " past size " << size_;
  std::string bytes(length, '\0');
  uint64_t done = 0;
  while (done < length) {
    const ssize_t n =
        ::pread(fd_, bytes.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::InternalError(absl::StrCat(path_, ": read failed: ", ErrnoText(errno)));
    }
    if (n == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": file ended at byte ", offset + done, " of the ", size_,
                       " it had when opened (was it truncated while being read?)"));
    }
    done += static_cast<uint64_t>(n);
  }
  return bytes;
}

absl::StatusOr<MappedFile> MappedFile::Open(const std::string& path) {
  ISTAR_ASSIGN_OR_RETURN(const ReadOnlyFile file, ReadOnlyFile::Open(path));
  if (file.size() == 0) return MappedFile(nullptr, 0);
  // The descriptor can be closed once mapped: the mapping keeps its own reference to the file.
  void* data = ::mmap(nullptr, file.size(), PROT_READ, MAP_PRIVATE, file.fd_, 0);
  if (data == MAP_FAILED) {
    return absl::InternalError(absl::StrCat(path, ": mmap failed: ", ErrnoText(errno)));
  }
  return MappedFile(static_cast<const std::byte*>(data), file.size());
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

absl::StatusOr<WritableFile> WritableFile::Create(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat(path, ": cannot open for writing: ", ErrnoText(errno)));
  }
  return WritableFile(path, fd);
}

absl::StatusOr<WritableFile> WritableFile::CreateTemporaryFor(const std::string& final_path) {
  std::string path = absl::StrCat(final_path, ".tmp.XXXXXX");
  const int fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat(final_path, ": cannot create a temporary file: ", ErrnoText(errno)));
  }
  // mkostemp creates the file 0600; give it Create's mode. (Reading the umask would mean setting
  // it, which races with other threads creating files.)
  ::fchmod(fd, 0644);
  return WritableFile(std::move(path), fd);
}

WritableFile::WritableFile(WritableFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      closed_(std::exchange(other.closed_, true)) {}

WritableFile::~WritableFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!closed_) ::unlink(path_.c_str());
}

absl::Status WritableFile::Append(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::InternalError(absl::StrCat(path_, ": write failed: ", ErrnoText(errno)));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status WritableFile::Close() {
  const int result = ::close(std::exchange(fd_, -1));
  if (result != 0) {
    return absl::InternalError(absl::StrCat(path_, ": close failed: ", ErrnoText(errno)));
  }
  closed_ = true;
  return absl::OkStatus();
}

absl::Status WritableFile::CommitTo(const std::string& final_path) {
  if (::fsync(fd_) != 0) {
    return absl::InternalError(absl::StrCat(path_, ": fsync failed: ", ErrnoText(errno)));
  }
  ISTAR_RETURN_IF_ERROR(Close());
  if (::rename(path_.c_str(), final_path.c_str()) != 0) {
    const int error = errno;
    ::unlink(path_.c_str());
    return absl::InternalError(
        absl::StrCat(final_path, ": cannot rename ", path_, " into place: ", ErrnoText(error)));
  }
  return absl::OkStatus();
}

}  // namespace istar::arrays::internal
