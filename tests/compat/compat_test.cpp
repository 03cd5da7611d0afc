// The compat sources, compiled against dimgrad, must print exactly what the same
// sources printed when compiled against LibTorch (tests/compat/libtorch/ made the
// fixtures; CI only needs the committed text). The comparison is line by line and
// byte for byte, except for one documented normalization (same_line below): a
// number may differ by one unit in its last printed digit. On a mismatch the
// first differing line is shown.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "compat/compat_namespace.hpp"

namespace {

std::string read_fixture(const std::string& name) {
  std::ifstream f(std::string(DG_SOURCE_DIR) + "/tests/fixtures/core/" + name);
  EXPECT_TRUE(f.good()) << "missing fixture " << name;
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Whether two printed lines agree: byte for byte, or — the one normalization —
// with the same layout (same length, same non-numeric text) and numbers that
// differ by at most one unit in their last printed digit. float32 math in the two
// libraries may round differently in the last bit (LibTorch's vectorized exp
// gives exp(4.f) = 54.598152, the correctly rounded value is 54.598148), which
// moves a printed 4th decimal by one.
bool same_line(const std::string& e, const std::string& a) {
  if (e == a) return true;
  if (e.size() != a.size()) return false;
  std::istringstream se(e), sa(a);
  std::string te, ta;
  while (se >> te) {
    if (!(sa >> ta)) return false;
    if (te == ta) continue;
    size_t pe = 0, pa = 0;
    double ve, va;
    try {
      ve = std::stod(te, &pe);
      va = std::stod(ta, &pa);
    } catch (const std::exception&) {
      return false;
    }
    if (pe != te.size() || pa != ta.size()) return false;
    const size_t dot = te.find('.');
    if (dot == std::string::npos || te.find('e') != std::string::npos || te.size() != ta.size()) return false;
    const double ulp = std::pow(10.0, -static_cast<double>(te.size() - dot - 1));
    if (std::abs(ve - va) > 1.5 * ulp) return false;
  }
  return !(sa >> ta);
}

// Compares line by line so that a failure points at the first wrong line.
void expect_same_text(const std::string& expected, const std::string& actual) {
  std::istringstream e(expected), a(actual);
  std::string le, la;
  int line = 0, normalized = 0;
  std::string context;
  while (true) {
    bool ge = static_cast<bool>(std::getline(e, le));
    bool ga = static_cast<bool>(std::getline(a, la));
    ++line;
    if (!ge && !ga) break;
    if (ge && (le.rfind("==", 0) == 0 || le.rfind("###", 0) == 0)) context = le;
    ASSERT_TRUE(ge == ga && same_line(le, la))
        << "first difference at line " << line << " (after \"" << context
        << "\"):\n  LibTorch: " << (ge ? "\"" + le + "\"" : "<end>") << "\n  dimgrad:  " << (ga ? "\"" + la + "\"" : "<end>");
    if (le != la) ++normalized;
  }
  // The normalization is for a rare last-digit difference, not a way of life.
  EXPECT_LE(normalized, 3) << "lines that matched only up to a last-digit difference";
}

}  // namespace

TEST(Compat, PrintingMatchesLibTorch) {
  std::ostringstream out;
  compat_print_samples(out);
  expect_same_text(read_fixture("print_samples.txt"), out.str());
}

TEST(Compat, ProgramPrintsWhatLibTorchPrinted) {
  std::ostringstream out;
  compat_program(out);
  expect_same_text(read_fixture("compat_program.txt"), out.str());
}

// Printing leaves the stream's format as it found it (LibTorch's FormatGuard).
TEST(Compat, PrintingRestoresStreamFormat) {
  std::ostringstream out;
  out.precision(3);
  out << std::scientific;
  out << T::tensor({1.5, 2.25}) << "|" << 0.5;
  EXPECT_NE(out.str().find("|5.000e-01"), std::string::npos) << out.str();
}
