// Every row of DG_OP_TABLE must have a float64 gradcheck case.
//
// The choice (see tests/ops/gradcheck_registry.hpp): cases live next to the ops
// they test, in any test directory, registered with DG_GRADCHECK_CASE(id, "row",
// ...). Each binary proves its own cases (the named row must be a node of the
// case's graph, and gradcheck must pass). This test is the cross-binary part: it
// reads every test source under tests/ and fails when a row of the table — today's
// rows or any row added later — is named by no case, so a new op cannot join the
// table without a gradcheck.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "ops/gradcheck_registry.hpp"

namespace fs = std::filesystem;

namespace {

// row name → the test files that register a case for it.
std::map<std::string, std::set<std::string>> cases_in_sources() {
  std::map<std::string, std::set<std::string>> found;
  const std::regex re(R"(DG_GRADCHECK_CASE(?:_OPT)?\(\s*\w+\s*,\s*\"([A-Za-z0-9_]+)\")");
  const fs::path root = fs::path(DG_SOURCE_DIR) / "tests";
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file() || e.path().extension() != ".cpp") continue;
    std::ifstream f(e.path());
    std::stringstream s;
    s << f.rdbuf();
    const std::string text = s.str();
    for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it)
      found[(*it)[1].str()].insert(fs::relative(e.path(), root).string());
  }
  return found;
}

}  // namespace

TEST(GradcheckCoverage, EveryTableOpHasACase) {
  auto in_sources = cases_in_sources();
  std::set<std::string> here;
  for (const auto& c : dg::test::gradcheck_registry()) here.insert(c.op);
  std::string missing;
  for (const dg::OpInfo* op = dg::op_table_begin(); op != dg::op_table_end(); ++op)
    if (!here.count(op->name) && !in_sources.count(op->name)) missing += std::string(" ") + op->name;
  EXPECT_TRUE(missing.empty()) << "ops of DG_OP_TABLE without a gradcheck case:" << missing
                               << "\nAdd DG_GRADCHECK_CASE(id, \"<op name>\", inputs, fn) in the op's test directory "
                                  "(see tests/ops/gradcheck_registry.hpp) and DG_GRADCHECK_TESTS() once in that binary.";
}

// The source scan sees this binary's own cases (so the scan itself works).
TEST(GradcheckCoverage, SourceScanFindsTheCasesOfThisBinary) {
  auto in_sources = cases_in_sources();
  for (const auto& c : dg::test::gradcheck_registry())
    EXPECT_TRUE(in_sources.count(c.op)) << c.name << " registers op " << c.op << " but the scan missed it";
}

// A case's claim is checked against its graph: every case names a real table row.
TEST(GradcheckCoverage, CasesNameRowsOfTheTable) {
  std::set<std::string> rows;
  for (const dg::OpInfo* op = dg::op_table_begin(); op != dg::op_table_end(); ++op) rows.insert(op->name);
  ASSERT_GT(dg::test::gradcheck_registry().size(), 100u);
  for (const auto& c : dg::test::gradcheck_registry())
    EXPECT_TRUE(rows.count(c.op)) << c.name << " names op \"" << c.op << "\" which is not a row of DG_OP_TABLE";
}
