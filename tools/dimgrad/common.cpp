#include "common.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dimgrad/io.hpp"

namespace dgcli {

std::atomic<bool> g_interrupted{false};

namespace {
// The first SIGINT/SIGTERM sets the flag; a second one (Ctrl-C again while the
// checkpoint is written) ends the process the default way — the atomic write
// keeps the previous checkpoint intact. Only async-signal-safe calls.
void on_interrupt_signal(int sig) {
  if (!g_interrupted.exchange(true)) return;
  std::signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  ::kill(::getpid(), sig);
}
extern "C" void interrupt_handler(int sig) { on_interrupt_signal(sig); }
}  // namespace

// Why the signals are blocked where the model runs: oneDNN's JIT sgemm runs with
// its stack pointer inside a small heap buffer, and a handler's frame (several KiB
// with the AVX-512 register state) pushed below that pointer overwrites the malloc
// chunk before it ("corrupted size vs. prev_size" a few steps after a Ctrl-C). So
// SIGINT and SIGTERM are blocked in this thread and in every thread it creates
// later (the data loader, the OpenMP team that runs oneDNN), and a thread of ours
// takes them with sigwait. Threads that libraries started before main (OpenBLAS's
// pool) cannot be masked from here; a signal the kernel hands to one of them runs
// the handler on that thread's own stack, which is safe. A signal the parent set
// to be ignored (nohup, a background job of a non-interactive shell) stays ignored.
void install_interrupt_handler() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM}) {
    struct sigaction old {};
    if (sigaction(sig, nullptr, &old) != 0 || old.sa_handler == SIG_IGN) continue;
    struct sigaction sa {};
    sa.sa_handler = interrupt_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(sig, &sa, nullptr);
    sigaddset(&set, sig);
  }
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) return;
  std::thread([set] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) == 0) on_interrupt_signal(sig);
    }
  }).detach();
}

std::string timestamp_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d_%H-%M-%S", &tm);
  return buf;
}

std::string format_duration(double s) {
  char buf[64];
  if (!(s >= 0) || s > 1e8) return "?";
  if (s < 10) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm %02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh %02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}

std::string fmt(double v, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  return buf;
}

std::string shape_string(dg::IntArrayRef s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& what) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    try {
      long long v = std::stoll(item, &used);
      if (used != item.size()) throw std::invalid_argument(item);
      out.push_back(v);
    } catch (const std::exception&) {
      throw UsageError(what + ": expected a comma-separated list of integers, got '" + text + "'");
    }
  }
  if (out.empty()) throw UsageError(what + ": expected at least one integer");
  return out;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void make_directories(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && !is_directory(cur) && ::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
        throw dg::IOError("cannot create folder '" + cur + "': " + std::strerror(errno));
    }
    if (i < path.size()) cur += path[i];
  }
  if (!is_directory(path)) throw dg::IOError("'" + path + "' exists and is not a folder");
}

std::string read_text_file(const std::string& path) {
  auto bytes = dg::io::read_file(path, uint64_t(1) << 30);
  return std::string(bytes.begin(), bytes.end());
}

void write_text_file(const std::string& path, const std::string& text) { dg::io::write_file_atomic(path, text); }

std::string path_join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  return a.back() == '/' ? a + b : a + "/" + b;
}

bool stdout_is_tty() { return ::isatty(STDOUT_FILENO) == 1; }

std::string html_escape(const std::string& s) {
  std::string r;
  r.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': r += "&amp;"; break;
      case '<': r += "&lt;"; break;
      case '>': r += "&gt;"; break;
      case '"': r += "&quot;"; break;
      default: r += c;
    }
  }
  return r;
}

std::vector<double> to_doubles(const dg::Tensor& t) {
  dg::Tensor c = t.to(dg::kFloat64).contiguous();
  const double* p = c.data_ptr<double>();
  return std::vector<double>(p, p + c.numel());
}

std::vector<int64_t> to_longs(const dg::Tensor& t) {
  dg::Tensor c = t.to(dg::kInt64).contiguous();
  const int64_t* p = c.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + c.numel());
}

}  // namespace dgcli
