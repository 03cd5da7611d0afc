// Crash-safe saving: a writer killed at random moments never damages the file
// it replaces, and a save that fails leaves nothing behind.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <random>
#include <thread>

#include "io_test_util.hpp"

using namespace iotest;
using dg::Tensor;

namespace {

int count_temp_files(const TempDir& dir, const std::string& base) {
  int n = 0;
  for (auto& e : fs::directory_iterator(dir.path))
    if (e.path().filename().string().rfind(base + ".tmp.", 0) == 0) ++n;
  return n;
}

}  // namespace

TEST(AtomicWrite, KilledWriterNeverDamagesThePreviousFile) {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  // Two large versions made before fork: the child only writes (no OpenMP after fork).
  const int64_t n = int64_t(1) << 22;  // 16 MiB per file
  Tensor versions[2] = {dg::full({n}, 1.0f), dg::full({n}, 2.0f)};
  dg::io::save_safetensors(path, {{"v", versions[0]}}, {{"k", "0"}});

  std::mt19937 rng(12345);
  int mid_write = 0;
  const int kills = 20;
  for (int trial = 0; trial < kills; ++trial) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        for (int k = 1;; ++k)
          dg::io::save_safetensors(path, {{"v", versions[k % 2]}}, {{"k", std::to_string(k)}});
      } catch (...) {
        ::_exit(3);  // never unwind into the test framework in the child
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 60000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer should have been killed, not exited";
    mid_write += count_temp_files(dir, "ckpt.safetensors") > 0;

    // Whatever moment the kill hit, the file is one complete version.
    auto f = dg::io::load_safetensors(path);  // verifies the checksum of all 16 MiB
    int k = std::stoi(f.metadata.at("k"));
    const Tensor& v = f.tensors.at("v");
    ASSERT_EQ(v.numel(), n);
    EXPECT_EQ(v.data_ptr<float>()[0], versions[k % 2].data_ptr<float>()[0]) << "trial " << trial;
    EXPECT_EQ(v.data_ptr<float>()[n - 1], versions[k % 2].data_ptr<float>()[0]) << "trial " << trial;
  }
  RecordProperty("kills_during_a_write", mid_write);
  std::cout << "[ info ] " << mid_write << " of " << kills << " kills left a half-written temporary file\n";
  // The next save clears the temporary files of the killed writers.
  dg::io::save_safetensors(path, {{"v", versions[0]}});
  EXPECT_EQ(count_temp_files(dir, "ckpt.safetensors"), 0);
}

TEST(AtomicWrite, AbandonedWriterLeavesTheOldFileAndNoTemporary) {
  TempDir dir;
  const std::string path = dir.file("f.txt");
  dg::io::write_file_atomic(path, "old content");
  {
    dg::io::AtomicFileWriter w(path);
    w.write("new content that is never committed");
    EXPECT_TRUE(fs::exists(w.temp_path()));
    EXPECT_EQ(w.temp_path(), path + ".tmp." + std::to_string(::getpid()));
  }  // destroyed as if an exception unwound the save
  auto b = dg::io::read_file(path);
  EXPECT_EQ(std::string(b.begin(), b.end()), "old content");
  EXPECT_EQ(count_temp_files(dir, "f.txt"), 0);
}

TEST(AtomicWrite, CommitReplacesTheContent) {
  TempDir dir;
  const std::string path = dir.file("f.txt");
  dg::io::write_file_atomic(path, "one");
  dg::io::AtomicFileWriter w(path);
  w.write("two, ");
  w.write(std::string(100000, 'x'));
  w.commit();
  EXPECT_EQ(fs::file_size(path), 100005u);
  expect_io_error([&] { w.commit(); }, {"twice"});
  expect_io_error([&] { w.write("more"); }, {"already committed"});
}

TEST(AtomicWrite, ConcurrentSaveOfOneFileInOneProcessIsRefused) {
  TempDir dir;
  dg::io::AtomicFileWriter w(dir.file("a"));
  expect_io_error([&] { dg::io::AtomicFileWriter w2(dir.file("a")); }, {"another save of the same file"});
}

TEST(AtomicWrite, RemovesOnlyTemporariesOfDeadProcesses) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  write_bytes(path + ".tmp." + std::to_string(dead), {1, 2, 3});
  write_bytes(path + ".tmp.1", {1});  // pid 1 is alive
  write_bytes(path + ".tmp.notapid", {1});
  write_bytes(dir.file("other.tmp." + std::to_string(dead)), {1});  // another file's temporary
  EXPECT_EQ(dg::io::remove_stale_temp_files(path), 1);
  EXPECT_FALSE(fs::exists(path + ".tmp." + std::to_string(dead)));
  EXPECT_TRUE(fs::exists(path + ".tmp.1"));
  EXPECT_TRUE(fs::exists(path + ".tmp.notapid"));
  EXPECT_TRUE(fs::exists(dir.file("other.tmp." + std::to_string(dead))));
}

TEST(AtomicWrite, ReadFileErrors) {
  TempDir dir;
  expect_io_error([&] { dg::io::read_file(dir.file("nope")); }, {"cannot open", "nope", "No such file"});
  expect_io_error([&] { dg::io::read_file(dir.path.string()); }, {"is a folder"});
  write_bytes(dir.file("big"), std::vector<uint8_t>(100, 7));
  expect_io_error([&] { dg::io::read_file(dir.file("big"), 99); }, {"100 bytes is more than the limit of 99"});
  EXPECT_EQ(dg::io::read_file(dir.file("big"), 100).size(), 100u);
}
