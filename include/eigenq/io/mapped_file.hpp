// A read-only memory map of a whole file (POSIX mmap), so readers hand out
// zero-copy views of tensors and big checkpoints need no RAM of their own.
//
// Pages a reader is done with can be released (madvise MADV_DONTNEED): they
// leave the process's resident set and are read again from the page cache if
// touched later, so streaming through a file larger than RAM keeps the
// resident set at the size of the tensors in flight.
//
// As with every mmap reader, a file truncated by another process while it is
// mapped makes later accesses fault (SIGBUS); eigenq never truncates its inputs.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eigenq/core/error.hpp"

namespace eigenq {
namespace io {

// Device and inode: two paths name the same file when these agree.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  friend bool operator==(FileIdentity a, FileIdentity b) { return a.device == b.device && a.inode == b.inode; }
};

namespace detail {

inline std::string errno_text(int err) { return std::strerror(err); }

}  // namespace detail

// True when both paths exist and are the same file (also through links).
inline bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {};
  struct stat sb {};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

class MappedFile {
 public:
  MappedFile() = default;

  explicit MappedFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) raise<IoError>(path_, ": cannot open for reading: ", detail::errno_text(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      const int err = errno;
      close_fd();
      raise<IoError>(path_, ": cannot stat: ", detail::errno_text(err));
    }
    if (!S_ISREG(st.st_mode)) {
      close_fd();
      raise<IoError>(path_, ": not a regular file");
    }
    identity_ = {st.st_dev, st.st_ino};
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        close_fd();
        raise<IoError>(path_, ": cannot map ", size_, " bytes: ", detail::errno_text(err));
      }
      data_ = static_cast<const std::uint8_t*>(p);
      ::madvise(const_cast<std::uint8_t*>(data_), size_, MADV_SEQUENTIAL);  // a hint; failure is harmless
    }
  }

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& o) noexcept { swap(o); }
  MappedFile& operator=(MappedFile&& o) noexcept {
    if (this != &o) {
      MappedFile tmp(std::move(o));
      swap(tmp);
    }
    return *this;
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<std::uint8_t*>(data_), size_);
    close_fd();
  }

  const std::string& path() const { return path_; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  FileIdentity identity() const { return identity_; }

  // Asks the kernel to read [offset, offset + length) ahead (a hint).
  void prefetch(std::size_t offset, std::size_t length) const { advise(offset, length, MADV_WILLNEED); }

  // Drops the pages of [offset, offset + length) from the resident set. The
  // range is widened to whole pages; neighbours' pages are read again from the
  // page cache if used, so this never changes what the map reads.
  void release(std::size_t offset, std::size_t length) const { advise(offset, length, MADV_DONTNEED); }

 private:
  void advise(std::size_t offset, std::size_t length, int advice) const {
    if (data_ == nullptr || length == 0 || offset >= size_) return;
    if (length > size_ - offset) length = size_ - offset;
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t begin = offset / page * page;
    const std::size_t end = offset + length;
    ::madvise(const_cast<std::uint8_t*>(data_) + begin, end - begin, advice);  // hints: failure is harmless
  }

  void close_fd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void swap(MappedFile& o) noexcept {
    std::swap(path_, o.path_);
    std::swap(fd_, o.fd_);
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(identity_, o.identity_);
  }

  std::string path_;
  int fd_ = -1;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  FileIdentity identity_;
};

}  // namespace io
}  // namespace eigenq
