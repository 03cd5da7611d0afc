// Every input under fuzz/corpus/ and fuzz/regressions/ (crash inputs found by
// fuzzing, kept forever) for the IDX, CIFAR-10 and CSV readers: each either
// parses or throws dg::IOError — never another exception, never a crash.
#include "data/data_test_util.hpp"
#include "fuzz_corpus_util.hpp"

using namespace datatest;

using fuzzcorpus::run_all;

TEST(FuzzCorpus, Idx) {
  run_all("idx", [](const std::vector<uint8_t>& b) {
    auto a = dg::data::parse_idx(b.data(), b.size(), "corpus", uint64_t(1) << 26);
    if (a.magic == 0x00000803) dg::data::idx_images(a, "corpus");
    if (a.magic == 0x00000801) dg::data::idx_labels(a, "corpus", 10);
  });
}

TEST(FuzzCorpus, Cifar10) {
  run_all("cifar10", [](const std::vector<uint8_t>& b) { dg::data::parse_cifar10(b.data(), b.size(), "corpus"); });
}

TEST(FuzzCorpus, Csv) {
  // As the fuzz target: the first byte picks the options.
  run_all("csv", [](const std::vector<uint8_t>& b) {
    if (b.empty()) return;
    dg::data::CsvOptions o;
    const uint8_t k = b[0];
    o.delimiter = (k & 1) ? ';' : ',';
    o.header = static_cast<dg::data::CsvOptions::Header>((k >> 1) % 3);
    o.label_index = static_cast<int64_t>((k >> 3) % 5) - 2;
    if (k >> 7) o.label_name = "label";
    dg::data::parse_csv(std::string_view(reinterpret_cast<const char*>(b.data()) + 1, b.size() - 1), o, "corpus");
  });
}
