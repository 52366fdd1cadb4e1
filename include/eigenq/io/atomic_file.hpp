// Writes a file so that it appears whole or not at all: the bytes go to a
// temporary file in the destination's folder (same file system, so rename is
// atomic), which replaces the destination only on commit(). Destroying an
// AtomicFile that was not committed (an exception, a failed tensor) removes
// the temporary file: no partial output, and an existing good file untouched.
//
//   eigenq::io::AtomicFile out("model.q.safetensors");
//   out.write(header.data(), header.size());
//   out.write_at(offset, tensor, bytes);   // pwrite: threads may write disjoint ranges
//   out.commit();                          // fsync, then rename over the destination
#pragma once

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eigenq/core/error.hpp"
#include "eigenq/io/mapped_file.hpp"

namespace eigenq {
namespace io {

struct AtomicFileOptions {
  // fsync the data before the rename and the folder after it, so a crash or
  // power loss leaves either the old file or the complete new one.
  bool sync = true;
};

class AtomicFile {
 public:
  explicit AtomicFile(std::string path, AtomicFileOptions options = {})
      : path_(std::move(path)), options_(options) {
    if (path_.empty()) raise<IoError>("output path is empty");
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      raise<IoError>(path_, ": exists and is not a regular file; refusing to replace it");
    }
    const std::size_t slash = path_.rfind('/');
    folder_ = slash == std::string::npos ? std::string(".") : (slash == 0 ? std::string("/") : path_.substr(0, slash));
    const std::string base = slash == std::string::npos ? path_ : path_.substr(slash + 1);
    if (base.empty()) raise<IoError>(path_, ": names a folder, not a file");
    std::random_device entropy;
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
      temp_ = folder_ + "/." + base + ".eigenq-" + std::to_string(::getpid()) + "-" + std::to_string(entropy());
      // 0666 and the umask: the same permissions a plain open() would give.
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && errno != EEXIST) {
        raise<IoError>(path_, ": cannot create a temporary file in ", folder_, ": ", detail::errno_text(errno));
      }
    }
    if (fd_ < 0) raise<IoError>(path_, ": cannot find a free temporary file name in ", folder_);
  }

  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  ~AtomicFile() { discard(); }

  const std::string& path() const { return path_; }
  // The temporary file's path while writing (for cleanup on signals).
  const std::string& temp_path() const { return temp_; }
  bool committed() const { return committed_; }

  // Appends at the current end of what write() has written.
  void write(const void* data, std::size_t bytes) {
    write_at(append_offset_, data, bytes);
    append_offset_ += bytes;
  }

  // Writes at an absolute offset (pwrite: safe from several threads on
  // disjoint ranges).
  void write_at(std::uint64_t offset, const void* data, std::size_t bytes) {
    check_open("write");
    const auto* p = static_cast<const std::uint8_t*>(data);
    while (bytes > 0) {
      const ssize_t n = ::pwrite(fd_, p, bytes, static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        failed_ = true;
        raise<IoError>(path_, ": write failed: ", detail::errno_text(errno));
      }
      if (n == 0) {
        failed_ = true;
        raise<IoError>(path_, ": write made no progress");
      }
      p += n;
      offset += static_cast<std::uint64_t>(n);
      bytes -= static_cast<std::size_t>(n);
    }
  }

  // Makes the file appear under its name, replacing any previous file.
  void commit() {
    check_open("commit");
    if (failed_) raise<IoError>(path_, ": a write failed earlier; not replacing the destination");
    if (options_.sync && ::fsync(fd_) != 0) {
      raise<IoError>(path_, ": fsync failed: ", detail::errno_text(errno));
    }
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      const int err = errno;
      ::unlink(temp_.c_str());
      raise<IoError>(path_, ": close failed: ", detail::errno_text(err));
    }
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      const int err = errno;
      ::unlink(temp_.c_str());
      raise<IoError>(path_, ": cannot rename the temporary file into place: ", detail::errno_text(err));
    }
    committed_ = true;
    if (options_.sync) {
      const int dir = ::open(folder_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dir >= 0) {
        ::fsync(dir);  // best effort: some file systems refuse to fsync folders
        ::close(dir);
      }
    }
  }

  // Abandons the file: removes the temporary file, leaves the destination as it was.
  void discard() noexcept {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (!committed_ && !temp_.empty()) {
      ::unlink(temp_.c_str());
      temp_.clear();
    }
  }

 private:
  void check_open(const char* what) const {
    if (fd_ < 0) raise<IoError>(path_, ": ", what, " after the file was committed or discarded");
  }

  std::string path_;
  std::string folder_;
  std::string temp_;
  AtomicFileOptions options_;
  int fd_ = -1;
  std::uint64_t append_offset_ = 0;
  std::atomic<bool> failed_{false};  // set by any writing thread
  bool committed_ = false;
};

}  // namespace io
}  // namespace eigenq
