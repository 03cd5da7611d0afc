// dimgrad CLI — small shared helpers: errors that map to exit codes, formatting,
// files, and the interrupt flag set on SIGINT/SIGTERM.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "dimgrad/errors.hpp"
#include "dimgrad/tensor.hpp"

namespace dgcli {

using json = nlohmann::json;

// A usage problem found after parsing (a bad value combination): exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Set when SIGINT or SIGTERM arrives; the training loop checks it between steps.
// install_interrupt_handler must run before any other thread starts (see common.cpp).
extern std::atomic<bool> g_interrupted;
void install_interrupt_handler();

// "2024-05-01_12-30-05" (local time), for default run folder names.
std::string timestamp_now();
// "1m 05s", "2h 03m", "45s", "3.2s"
std::string format_duration(double seconds);
// "%.4f"-style formatting without iostream state.
std::string fmt(double v, int precision = 4);
// "[64, 1, 28, 28]"
std::string shape_string(dg::IntArrayRef s);
// "1,28,28" → {1, 28, 28}; throws UsageError naming `what`.
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& what);

// An integer JSON value that fits T, else dg::Error naming `what`. nlohmann's own
// get<T>() converts a float or an out-of-range integer with a plain cast, which is
// undefined behaviour for 1e300 (a fuzz finding on checkpoints' configurations).
template <class T>
T json_integer(const json& v, const std::string& what) {
  const bool fits = v.is_number_unsigned()  ? std::in_range<T>(v.get<uint64_t>())
                    : v.is_number_integer() ? std::in_range<T>(v.get<int64_t>())
                                            : false;
  if (!fits) throw dg::Error(what + " must be an integer in [" + std::to_string(std::numeric_limits<T>::min()) + ", " +
                             std::to_string(std::numeric_limits<T>::max()) + "], got " + v.dump());
  return static_cast<T>(v.is_number_unsigned() ? v.get<uint64_t>() : uint64_t(v.get<int64_t>()));
}
// The same for every element of a JSON list.
template <class T>
std::vector<T> json_integers(const json& v, const std::string& what) {
  if (!v.is_array()) throw dg::Error(what + " must be a list of integers, got " + v.dump());
  std::vector<T> r;
  for (const json& x : v) r.push_back(json_integer<T>(x, what));
  return r;
}

bool file_exists(const std::string& path);
bool is_directory(const std::string& path);
// mkdir -p; throws dg::IOError with the reason.
void make_directories(const std::string& path);
std::string read_text_file(const std::string& path);
// Atomic (temporary file + fsync + rename) through dg::io.
void write_text_file(const std::string& path, const std::string& text);
std::string path_join(const std::string& a, const std::string& b);

// stdout is a terminal (progress bar) or not (one line per epoch).
bool stdout_is_tty();

// HTML-escape for report text.
std::string html_escape(const std::string& s);

// Float32 tensor values as a std::vector<double> (any strides, any floating dtype).
std::vector<double> to_doubles(const dg::Tensor& t);
// Int64 tensor values as a std::vector<int64_t>.
std::vector<int64_t> to_longs(const dg::Tensor& t);

}  // namespace dgcli
