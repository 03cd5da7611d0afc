// Every input under fuzz/corpus/ and fuzz/regressions/ (crash inputs found by
// fuzzing, kept forever) for the safetensors and .npy readers: each either
// parses or throws dg::IOError — never another exception, never a crash (the
// sanitizer build checks the rest).
#include "io_test_util.hpp"

using namespace iotest;

namespace {

std::vector<fs::path> inputs(const std::string& target) {
  std::vector<fs::path> out;
  for (const char* kind : {"corpus", "regressions"}) {
    fs::path dir = fs::path(DG_SOURCE_DIR) / "fuzz" / kind / target;
    if (fs::exists(dir))
      for (auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

template <class F> void run_all(const std::string& target, F parse) {
  auto files = inputs(target);
  ASSERT_FALSE(files.empty()) << "no seed corpus for " << target;
  int ok = 0, rejected = 0;
  for (const auto& p : files) {
    auto bytes = dg::io::read_file(p.string());
    try {
      parse(bytes);
      ++ok;
    } catch (const dg::IOError&) {
      ++rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << p << ": threw something other than dg::IOError: " << e.what();
    }
  }
  // The seeds are valid files: at least those must load.
  EXPECT_GT(ok, 0) << target;
  std::cout << "[ info ] " << target << ": " << ok << " loaded, " << rejected << " rejected\n";
}

}  // namespace

TEST(FuzzCorpus, Safetensors) {
  run_all("safetensors", [](const std::vector<uint8_t>& b) { dg::io::parse_safetensors(b.data(), b.size(), "corpus"); });
}

TEST(FuzzCorpus, Npy) {
  run_all("npy", [](const std::vector<uint8_t>& b) { dg::io::parse_npy(b.data(), b.size(), "corpus"); });
}
