// `cmake --install` of this build into a temporary prefix, then a separate CMake
// project (tests/install/consumer/) finds it with find_package(dimgrad REQUIRED),
// links dimgrad::dimgrad, builds and runs. Uses the cmake, generator and compiler
// this build was configured with (read from its CMakeCache.txt).
#include <gtest/gtest.h>

#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace fs = std::filesystem;

namespace {

std::map<std::string, std::string> read_cache(const fs::path& build) {
  std::map<std::string, std::string> out;
  std::ifstream f(build / "CMakeCache.txt");
  std::string line;
  while (std::getline(f, line)) {
    auto colon = line.find(':'), eq = line.find('=');
    if (line.empty() || line[0] == '#' || line[0] == '/' || colon == std::string::npos || eq == std::string::npos ||
        colon > eq)
      continue;
    out[line.substr(0, colon)] = line.substr(eq + 1);
  }
  return out;
}

// Runs a shell command; returns its exit status and its output (stdout + stderr).
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Single-quoted for the shell. (Appended piecewise: GCC 12 gives a false
// -Wrestrict warning on "'" + std::string&& at -O3.)
std::string q(const fs::path& p) {
  std::string s(1, '\'');
  s.append(p.string());
  s.push_back('\'');
  return s;
}

}  // namespace

TEST(Install, FindPackageFromASeparateProject) {
  const fs::path build = DG_BINARY_DIR;
  auto cache = read_cache(build);
  ASSERT_TRUE(cache.count("CMAKE_COMMAND")) << "no CMakeCache.txt in " << build;
  const std::string cmake = q(cache["CMAKE_COMMAND"]);
  const fs::path tmp = fs::temp_directory_path() / ("dimgrad-install-test-" + std::to_string(getpid()));
  fs::remove_all(tmp);
  const fs::path prefix = tmp / "prefix", consumer_build = tmp / "build";

  auto [rc_install, out_install] = run(cmake + " --install " + q(build) + " --prefix " + q(prefix));
  ASSERT_EQ(rc_install, 0) << out_install
                           << "\n(cmake --install installs every target of the build: build them all first, "
                              "as `cmake --build <dir>` does, before running this test)";
  EXPECT_TRUE(fs::exists(prefix / "include/dimgrad/dimgrad.hpp"));
  const fs::path config_dir = fs::exists(prefix / "lib/cmake/dimgrad") ? prefix / "lib/cmake/dimgrad"
                                                                          : prefix / "lib64/cmake/dimgrad";
  EXPECT_TRUE(fs::exists(config_dir / "dimgradConfig.cmake")) << out_install;
  EXPECT_TRUE(fs::exists(config_dir / "dimgradTargets.cmake")) << out_install;

  std::string configure = cmake + " -S " + q(fs::path(DG_SOURCE_DIR) / "tests/install/consumer") + " -B " +
                          q(consumer_build) + " -DCMAKE_PREFIX_PATH=" + q(prefix) + " -DCMAKE_BUILD_TYPE=Release";
  if (cache.count("CMAKE_GENERATOR")) configure += " -G " + q(cache["CMAKE_GENERATOR"]);
  if (cache.count("CMAKE_CXX_COMPILER")) configure += " -DCMAKE_CXX_COMPILER=" + q(cache["CMAKE_CXX_COMPILER"]);
  auto [rc_conf, out_conf] = run(configure);
  ASSERT_EQ(rc_conf, 0) << out_conf;
  auto [rc_build, out_build] = run(cmake + " --build " + q(consumer_build));
  ASSERT_EQ(rc_build, 0) << out_build;
  auto [rc_run, out_run] = run(q(consumer_build / "consumer"));
  EXPECT_EQ(rc_run, 0) << out_run;
  EXPECT_EQ(out_run, "loss 16 grad -3\n");
  // The consumer runs against the installed library, not the build tree's.
  auto [rc_ldd, out_ldd] = run("ldd " + q(consumer_build / "consumer"));
  EXPECT_NE(out_ldd.find(prefix.string()), std::string::npos) << out_ldd;
  fs::remove_all(tmp);
}
