// Shared helpers for the reliability tests: temporary folders, /proc/self/status
// readings, environment knobs and error-message checks.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <dimgrad/dimgrad.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

namespace reltest {

namespace fs = std::filesystem;

// AddressSanitizer keeps freed memory in a quarantine and maps shadow memory, so
// RSS and address-space measurements mean nothing under it.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif

// A fresh folder under the system temp dir, removed with its content at scope end.
struct TempDir {
  fs::path path;
  explicit TempDir(const char* prefix = "dimgrad-rel") {
    std::string tmpl = (fs::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}
inline std::vector<uint8_t> to_bytes(const std::string& s) { return {s.begin(), s.end()}; }

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM", "VmSize"); -1 if absent.
inline int64_t proc_status_kib(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.compare(0, key.size() + 1, key + ":") == 0) {
      std::istringstream in(line.substr(key.size() + 1));
      int64_t v = -1;
      in >> v;
      return v;
    }
  }
  return -1;
}

// An integer from the environment (e.g. DG_KILL_COUNT), or `fallback`.
inline int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long long x = std::strtoll(v, &end, 10);
  return end && *end == '\0' ? static_cast<int64_t>(x) : fallback;
}

// Runs f and expects an exception of type E whose message contains every one of `parts`.
template <class E, class F> void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "expected an exception containing '" << *parts.begin() << "', nothing was thrown";
  } catch (const E& e) {
    std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected another exception type, got: " << e.what();
  }
}

// The bytes of a tensor (any dtype, made contiguous), for bit-exact comparisons.
inline std::vector<uint8_t> tensor_bytes(const dg::Tensor& t) {
  dg::Tensor c = t.contiguous();
  auto* p = static_cast<const uint8_t*>(c.raw_data());
  return {p, p + c.nbytes()};
}

}  // namespace reltest
