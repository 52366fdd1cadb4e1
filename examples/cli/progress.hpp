// Progress on stderr: a bar redrawn in place when stderr is a terminal
// (tensors done, bytes, rate, ETA), one plain line per tensor otherwise (logs,
// CI), nothing with --quiet. Thread-safe: workers report as they finish.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

#include <unistd.h>

#include "cli_util.hpp"

namespace eigenq_cli {

class Progress {
 public:
  enum class Mode { bar, lines, quiet };

  static Mode mode_for(bool quiet) {
    if (quiet) return Mode::quiet;
    return ::isatty(STDERR_FILENO) ? Mode::bar : Mode::lines;
  }

  Progress(std::string verb, std::size_t tensors, std::uint64_t bytes, Mode mode)
      : verb_(std::move(verb)), tensors_(tensors), bytes_(bytes), mode_(mode), start_(Clock::now()) {
    if (mode_ == Mode::bar) draw(true);
  }

  // One tensor finished; `line` describes it for the plain-line mode.
  void done(std::uint64_t bytes, const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++done_tensors_;
    done_bytes_ += bytes;
    if (mode_ == Mode::lines) {
      std::fprintf(stderr, "[%zu/%zu] %s\n", done_tensors_, tensors_, line.c_str());
      std::fflush(stderr);
    } else if (mode_ == Mode::bar) {
      draw(done_tensors_ == tensors_);
    }
  }

  // Clears the bar (the summary follows on stdout).
  void finish() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (mode_ == Mode::bar) {
      std::fputs("\r\x1b[K", stderr);
      std::fflush(stderr);
    }
  }

  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  using Clock = std::chrono::steady_clock;

  void draw(bool force) {
    const auto now = Clock::now();
    if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double fraction = bytes_ > 0 ? static_cast<double>(done_bytes_) / static_cast<double>(bytes_)
                                       : (tensors_ > 0 ? static_cast<double>(done_tensors_) / static_cast<double>(tensors_) : 1.0);
    constexpr int width = 24;
    const int filled = static_cast<int>(fraction * width);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar += std::string(static_cast<std::size_t>(width - filled), '.');
    const double rate = elapsed > 0.0 ? static_cast<double>(done_bytes_) / elapsed : 0.0;
    std::string eta = "--";
    if (rate > 0.0 && done_bytes_ < bytes_) {
      eta = format_double("%.0fs", static_cast<double>(bytes_ - done_bytes_) / rate);
    } else if (done_bytes_ >= bytes_) {
      eta = "0s";
    }
    std::fprintf(stderr, "\r%s [%s] %zu/%zu tensors  %s / %s  %s/s  ETA %s\x1b[K", verb_.c_str(), bar.c_str(),
                 done_tensors_, tensors_, human_bytes(static_cast<double>(done_bytes_)).c_str(),
                 human_bytes(static_cast<double>(bytes_)).c_str(), human_bytes(rate).c_str(), eta.c_str());
    std::fflush(stderr);
  }

  std::string verb_;
  std::size_t tensors_;
  std::uint64_t bytes_;
  Mode mode_;
  Clock::time_point start_;
  Clock::time_point last_draw_{};
  std::size_t done_tensors_ = 0;
  std::uint64_t done_bytes_ = 0;
  std::mutex mutex_;
};

}  // namespace eigenq_cli
