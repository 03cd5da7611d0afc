// dimgrad CLI — small shared helpers: errors that map to exit codes, formatting,
// files, and the interrupt flag set on SIGINT/SIGTERM.
#pragma once

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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
