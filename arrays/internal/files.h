// File: arrays/internal/files.h
// -----------------------------------------------------------------------------
// The file handles the array formats need: a read-only file read by offset, so that a parser
// can check every length in a header against the file size before it allocates; a read-only
// memory mapping, for formats whose tensors are handed out in place; and a file written by
// appending, either in place or atomically through a temporary file.
#ifndef ISTAR_ARRAYS_INTERNAL_FILES_H_
#define ISTAR_ARRAYS_INTERNAL_FILES_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace istar::arrays::internal {

// An open regular file and its size at the time it was opened. Owns the descriptor; move-only.
class ReadOnlyFile {
 public:
  // NotFound if `path` does not exist, cannot be opened, or is not a regular file.
  [[nodiscard]] static absl::StatusOr<ReadOnlyFile> Open(const std::string& path);

  ReadOnlyFile(ReadOnlyFile&& other) noexcept;
  ReadOnlyFile& operator=(ReadOnlyFile&& other) noexcept;
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;
  ~ReadOnlyFile();

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

  // Returns bytes [offset, offset + length). The range must lie within size(): callers validate
  // lengths read from a header first, so a range past the end is a bug. InvalidArgument if the
  // file shrank since it was opened, Internal on an OS read error.
  [[nodiscard]] absl::StatusOr<std::string> Read(uint64_t offset, uint64_t length) const;

 private:
  friend class MappedFile;  // Maps the open descriptor.

  ReadOnlyFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}

  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// A regular file mapped read-only (PROT_READ, MAP_PRIVATE) in full. Owns the mapping; move-only.
// An empty file has an empty span and no mapping (mmap refuses length 0). If the file is
// truncated by another process while mapped, touching the lost pages raises SIGBUS: the
// reader trusts that nobody rewrites a checkpoint in place (writers here rename instead).
class MappedFile {
 public:
  // NotFound as ReadOnlyFile::Open; Internal (with the OS error) if mmap fails.
  [[nodiscard]] static absl::StatusOr<MappedFile> Open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {data_, size_}; }

 private:
  MappedFile(const std::byte* data, size_t size) : data_(data), size_(size) {}

  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

// A file created (or truncated) for writing. Owns the descriptor; move-only. If Close() is not
// reached with every write succeeded, the destructor removes the partial file, so a failed write
// never leaves a file that looks valid.
class WritableFile {
 public:
  // Internal (with the OS error) if `path` cannot be created.
  [[nodiscard]] static absl::StatusOr<WritableFile> Create(const std::string& path);

  // Creates a new, uniquely named file beside `final_path` ("<final_path>.tmp.XXXXXX"), for a
  // write that must appear at `final_path` whole or not at all: Append, then CommitTo. Internal
  // (with the OS error) if it cannot be created.
  [[nodiscard]] static absl::StatusOr<WritableFile> CreateTemporaryFor(
      const std::string& final_path);

  WritableFile(WritableFile&& other) noexcept;
  WritableFile& operator=(WritableFile&& other) = delete;
  WritableFile(const WritableFile&) = delete;
  WritableFile& operator=(const WritableFile&) = delete;
  ~WritableFile();

  // Internal (with the OS error) if the bytes cannot be written.
  [[nodiscard]] absl::Status Append(std::string_view bytes);
  // Flushes and closes; Internal (with the OS error) on failure.
  [[nodiscard]] absl::Status Close();
  // Flushes to disk (fsync), closes, and renames the file to `final_path`, replacing any file
  // there. Internal (with the OS error) on failure, and the temporary file is removed.
  [[nodiscard]] absl::Status CommitTo(const std::string& final_path);

 private:
  WritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::string path_;
  int fd_ = -1;
  bool closed_ = false;
};

}  // namespace istar::arrays::internal

#endif  // ISTAR_ARRAYS_INTERNAL_FILES_H_
