// Crash-safe writes (temporary file, fsync, rename, fsync of the folder) and
// bounded whole-file reads.
//
// rename(2) within one file system replaces the target atomically: a reader sees
// either the old file or the new one, never a mix. The fsync before the rename
// makes sure the new bytes are on disk before the name points at them (else a
// power cut could leave a renamed but empty file); the fsync of the folder makes
// the rename itself durable.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include "dimgrad/io.hpp"

namespace dg::io {
namespace {

std::string errno_text() { return std::strerror(errno); }

std::string dir_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Paths this process is writing right now: two writers of one path in one
// process would share the temporary name.
std::mutex g_busy_mu;
std::set<std::string> g_busy;

}  // namespace

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  if (path_.empty()) throw IOError("cannot save: empty file name");
  if (!path_.empty() && path_.back() == '/') throw IOError("cannot save to '" + path_ + "': it names a folder");
  {
    std::lock_guard<std::mutex> lock(g_busy_mu);
    if (!g_busy.insert(path_).second)
      throw IOError("cannot save '" + path_ + "': another save of the same file is in progress in this process");
  }
  remove_stale_temp_files(path_);
  tmp_ = path_ + ".tmp." + std::to_string(::getpid());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ < 0) {
    std::string why = errno_text();
    std::lock_guard<std::mutex> lock(g_busy_mu);
    g_busy.erase(path_);
    throw IOError("cannot save '" + path_ + "': cannot create temporary file '" + tmp_ + "': " + why);
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
  std::lock_guard<std::mutex> lock(g_busy_mu);
  g_busy.erase(path_);
}

void AtomicFileWriter::write(const void* data, size_t n) {
  if (fd_ < 0) throw IOError("cannot write '" + path_ + "': the file was already committed");
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    // Large writes in pieces: some kernels cap one write(2) near 2 GiB.
    ssize_t w = ::write(fd_, p, std::min<size_t>(n, size_t(1) << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      throw IOError("cannot save '" + path_ + "': writing '" + tmp_ + "' failed: " + errno_text());
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFileWriter::commit() {
  if (fd_ < 0) throw IOError("cannot commit '" + path_ + "' twice");
  if (::fsync(fd_) != 0) throw IOError("cannot save '" + path_ + "': fsync failed: " + errno_text());
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) throw IOError("cannot save '" + path_ + "': close failed: " + errno_text());
  if (::rename(tmp_.c_str(), path_.c_str()) != 0)
    throw IOError("cannot save '" + path_ + "': renaming '" + tmp_ + "' over it failed: " + errno_text());
  committed_ = true;
  // The rename is done and visible; a failed folder fsync only weakens durability
  // across a power cut, so it is not an error worth losing the save for.
  int dfd = ::open(dir_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomic(const std::string& path, std::string_view content) {
  AtomicFileWriter w(path);
  w.write(content);
  w.commit();
}

int remove_stale_temp_files(const std::string& path) {
  const std::string dir = dir_of(path), prefix = base_of(path) + ".tmp.";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  int removed = 0;
  const pid_t self = ::getpid();
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string digits = name.substr(prefix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid <= 0 || pid == self) continue;
    // kill(pid, 0) probes for a process without signalling it: ESRCH = gone.
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    if (::unlink((dir + "/" + name).c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IOError("cannot open '" + path + "': " + errno_text());
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw IOError("cannot stat '" + path + "': " + errno_text());
  if (S_ISDIR(st.st_mode)) throw IOError("cannot read '" + path + "': it is a folder, not a file");
  // A regular file is read to its size; anything else (a pipe) in chunks up to the limit.
  const bool regular = S_ISREG(st.st_mode);
  if (regular && static_cast<uint64_t>(st.st_size) > max_bytes)
    throw IOError("cannot read '" + path + "': " + std::to_string(st.st_size) + " bytes is more than the limit of " +
                  std::to_string(max_bytes));
  std::vector<uint8_t> out(regular ? static_cast<size_t>(st.st_size) : size_t(1) << 16);
  size_t got = 0;
  for (;;) {
    if (got == out.size()) {
      if (regular) break;
      if (out.size() >= max_bytes)
        throw IOError("cannot read '" + path + "': more than the limit of " + std::to_string(max_bytes) + " bytes");
      out.resize(std::min<uint64_t>(max_bytes, out.size() * 2));
    }
    ssize_t r = ::read(fd, out.data() + got, out.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw IOError("cannot read '" + path + "': " + errno_text());
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return out;
}

}  // namespace dg::io
