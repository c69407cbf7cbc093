#include "arrays/internal/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"

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

absl::StatusOr<WritableFile> WritableFile::Create(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat(path, ": cannot open for writing: ", ErrnoText(errno)));
  }
  return WritableFile(path, fd);
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

}  // namespace istar::arrays::internal
