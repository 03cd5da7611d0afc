// Helpers for the dimgrad CLI tests: run the built program (DG_CLI_PATH), capture
// its exit code, stdout and stderr; temporary folders; the Fashion-MNIST check.
#pragma once

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#ifndef DG_CLI_PATH
#error "DG_CLI_PATH (the built dimgrad program) must be defined by tools/CMakeLists.txt"
#endif

namespace clitest {

struct Result {
  int code = -1;  // exit status; 128 + signal when killed by one
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

inline bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// A fresh folder under the build tree, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = std::string(DG_BINARY_DIR) + "/cli-test-XXXXXX";
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
    if (path_.empty()) ADD_FAILURE() << "mkdtemp failed";
  }
  ~TempDir() {
    if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Runs `dimgrad <args>` through the shell (args are shell words).
inline Result run(const std::string& args) {
  static int counter = 0;
  const std::string base = std::string(DG_BINARY_DIR) + "/cli-test-io-" + std::to_string(::getpid()) + "-" +
                           std::to_string(counter++);
  const std::string cmd = std::string("'") + DG_CLI_PATH + "' " + args + " >'" + base + ".out' 2>'" + base + ".err' </dev/null";
  int st = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return r;
}

inline const char* kFashionDir = "/usr/share/datasets/fashion-mnist";
inline bool have_fashion_mnist() { return exists(std::string(kFashionDir) + "/train-images-idx3-ubyte.gz"); }

#define REQUIRE_FASHION_MNIST()                                                          \
  do {                                                                                   \
    if (!clitest::have_fashion_mnist())                                                  \
      GTEST_SKIP() << "Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"; \
  } while (0)

// Lines of text that start with "error:" (an error is one clear message).
inline int error_lines(const std::string& err) {
  int n = 0;
  std::istringstream s(err);
  std::string line;
  while (std::getline(s, line))
    if (line.rfind("error:", 0) == 0) ++n;
  return n;
}

}  // namespace clitest
