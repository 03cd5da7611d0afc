// Shared helpers for the io tests: temporary folders, byte files, error checks.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <dimgrad/dimgrad.hpp>
#include <dimgrad/io.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace iotest {

namespace fs = std::filesystem;

inline std::string fixture(const std::string& name) { return std::string(DG_SOURCE_DIR) + "/tests/fixtures/io/" + name; }

// A fresh folder under the system temp dir, removed with its content at scope end.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "dimgrad-io-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

inline std::vector<uint8_t> to_bytes(const std::string& s) { return {s.begin(), s.end()}; }

// Runs f, expects an exception of type E (dg::Error or a subclass) whose message
// contains every one of `parts`.
template <class E, class F> void expect_error_of(F&& f, std::initializer_list<std::string> parts, const char* type) {
  try {
    f();
    ADD_FAILURE() << "expected " << type << " containing '" << *parts.begin() << "', nothing was thrown";
  } catch (const E& e) {
    std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << type << ", got another exception: " << e.what();
  }
}
template <class F> void expect_io_error(F&& f, std::initializer_list<std::string> parts) {
  expect_error_of<dg::IOError>(std::forward<F>(f), parts, "dg::IOError");
}
template <class F> void expect_error(F&& f, std::initializer_list<std::string> parts) {
  expect_error_of<dg::Error>(std::forward<F>(f), parts, "dg::Error");
}

// Flat values of a tensor as doubles (any dtype), for comparisons with JSON fixtures.
inline std::vector<double> values(const dg::Tensor& t) {
  dg::Tensor c = t.contiguous();
  std::vector<double> out(static_cast<size_t>(c.numel()));
  dg::dispatch_dtype(c.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = c.data_ptr<T>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(p[i]);
  });
  return out;
}

inline std::vector<int64_t> int_values(const dg::Tensor& t) {
  dg::Tensor c = t.to(dg::kInt64).contiguous();  // uint8 widened
  const int64_t* p = c.data_ptr<int64_t>();
  return {p, p + c.numel()};
}

// A JSON array of numbers or booleans as doubles.
inline std::vector<double> json_doubles(const nlohmann::json& a) {
  std::vector<double> out;
  for (const auto& v : a) out.push_back(v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>());
  return out;
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  return nlohmann::json::parse(f);
}

}  // namespace iotest
