// Runs the built eigenq tool (EIGENQ_CLI) for the CLI tests: exit code, stdout and stderr
// captured (stderr is then not a terminal), and the check every bad input must pass: exit
// code 2, nothing on stdout, one line on stderr holding the given fragments, in the tool's
// words.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <initializer_list>
#include <regex>
#include <string>
#include <vector>

#include "io_test_util.hpp"

extern char** environ;

namespace cli_test {

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::string& path) {
  const auto b = io_test::read_bytes(path);
  return std::string(b.begin(), b.end());
}

// Runs the tool with stdout and stderr captured in files (so stderr is not a terminal).
inline Result run(const std::vector<std::string>& args) {
  static int counter = 0;
  const std::string base = ::testing::TempDir() + "eigenq_cli_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  const std::string out = base + ".out";
  const std::string err = base + ".err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> argv_storage{EIGENQ_CLI};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  Result r;
  if (posix_spawn(&pid, EIGENQ_CLI, &actions, nullptr, argv.data(), environ) == 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  posix_spawn_file_actions_destroy(&actions);
  r.out = slurp(out);
  r.err = slurp(err);
  ::unlink(out.c_str());
  ::unlink(err.c_str());
  return r;
}

// The library's C++ names (policies, observers, types), which the tool's messages must not use:
// it says --scheme log-signed, not LogSigned.
inline const std::regex cpp_names(R"(LogSigned|Log2|LinearRealOffset|Linear<|Codebook|Observer|Histogram|QTensor|Quantizer|)"
                           R"(PerTensor|PerChannel|PerGroup|DoubleQuantized|eigenq::|std::)");

inline void expect_exit_2(const Result& r, std::initializer_list<const char*> fragments) {
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  for (const char* f : fragments) EXPECT_NE(r.err.find(f), std::string::npos) << r.err << "missing: " << f;
  EXPECT_FALSE(std::regex_search(r.err, cpp_names)) << "a C++ name in the tool's message: " << r.err;
}

}  // namespace cli_test
