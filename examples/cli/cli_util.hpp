// Small helpers of the eigenq tool: the usage error, byte counts for people,
// aligned text tables, and removing a half-written output on Ctrl-C.
#pragma once

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

namespace eigenq_cli {

// A bad command line (exit code 2, like every bad input).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Stopwatch {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// "64.0 MiB"
inline std::string human_bytes(double bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%.0f %s", bytes, units[u]);
  else std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[u]);
  return buf;
}

inline std::string format_double(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// Error messages are one line: newlines inside library messages become spaces.
inline std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  return s;
}

// Columns sized to their widest cell; numeric columns right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> header, std::vector<bool> right_aligned = {})
      : header_(std::move(header)), right_(std::move(right_aligned)) {
    right_.resize(header_.size(), false);
  }

  void add(std::vector<std::string> row) {
    row.resize(header_.size());
    rows_.push_back(std::move(row));
  }

  std::string str() const {
    std::vector<std::size_t> width(header_.size());
    for (std::size_t c = 0; c < header_.size(); ++c) {
      width[c] = header_[c].size();
      for (const auto& r : rows_) width[c] = std::max(width[c], r[c].size());
    }
    std::string out = line(header_, width);
    std::size_t total = 0;
    for (std::size_t w : width) total += w + 2;
    out += std::string(total > 2 ? total - 2 : 0, '-') + "\n";
    for (const auto& r : rows_) out += line(r, width);
    return out;
  }

 private:
  std::string line(const std::vector<std::string>& cells, const std::vector<std::size_t>& width) const {
    std::string out;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::string pad(width[c] - cells[c].size(), ' ');
      out += right_[c] ? pad + cells[c] : cells[c] + (c + 1 < cells.size() ? pad : "");
      if (c + 1 < cells.size()) out += "  ";
    }
    return out + "\n";
  }

  std::vector<std::string> header_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// Ctrl-C (or SIGTERM, SIGHUP) while an output is being written removes its
// temporary file, so an interrupted run leaves nothing behind either.
namespace detail {
inline char temp_path_for_signals[4096];
inline volatile std::sig_atomic_t have_temp_path = 0;

inline void remove_temp_and_reraise(int sig) {
  if (have_temp_path) ::unlink(temp_path_for_signals);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}
}  // namespace detail

class TempFileGuard {
 public:
  explicit TempFileGuard(const std::string& temp_path) {
    if (temp_path.size() >= sizeof detail::temp_path_for_signals) return;
    std::memcpy(detail::temp_path_for_signals, temp_path.c_str(), temp_path.size() + 1);
    detail::have_temp_path = 1;
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, detail::remove_temp_and_reraise);
  }
  ~TempFileGuard() {
    detail::have_temp_path = 0;
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, SIG_DFL);
  }
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;
};

}  // namespace eigenq_cli
