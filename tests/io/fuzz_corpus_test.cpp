// Every input under fuzz/corpus/ and fuzz/regressions/ (crash inputs found by
// fuzzing, kept forever) for the safetensors and .npy readers: each either
// parses or throws dg::IOError — never another exception, never a crash (the
// sanitizer build checks the rest).
#include "io_test_util.hpp"
#include "fuzz_corpus_util.hpp"

using namespace iotest;

using fuzzcorpus::run_all;

TEST(FuzzCorpus, Safetensors) {
  run_all("safetensors", [](const std::vector<uint8_t>& b) { dg::io::parse_safetensors(b.data(), b.size(), "corpus"); });
}

TEST(FuzzCorpus, Npy) {
  run_all("npy", [](const std::vector<uint8_t>& b) { dg::io::parse_npy(b.data(), b.size(), "corpus"); });
}
