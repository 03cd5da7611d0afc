// Shared by tests/io and tests/data: runs a reader over every input under
// fuzz/corpus/<target>/ and fuzz/regressions/<target>/ (crash inputs found by
// fuzzing, kept forever). Each must parse or throw dg::IOError — never another
// exception, never a crash (the sanitizer build checks the rest).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "dimgrad/errors.hpp"
#include "dimgrad/io.hpp"

namespace fuzzcorpus {

inline std::vector<std::filesystem::path> inputs(const std::string& target) {
  std::vector<std::filesystem::path> out;
  for (const char* kind : {"corpus", "regressions"}) {
    std::filesystem::path dir = std::filesystem::path(DG_SOURCE_DIR) / "fuzz" / kind / target;
    if (std::filesystem::exists(dir))
      for (auto& e : std::filesystem::directory_iterator(dir))
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

}  // namespace fuzzcorpus
