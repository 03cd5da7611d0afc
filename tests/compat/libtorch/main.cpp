// Runs the compat sources against LibTorch and writes their output, the
// expected text committed under tests/fixtures/core/. See CMakeLists.txt here.
#include <fstream>
#include <iostream>

#include "compat/compat_namespace.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: compat_torch <print_samples.txt> <compat_program.txt>\n";
    return 2;
  }
  std::ofstream p(argv[1]), c(argv[2]);
  compat_print_samples(p);
  compat_program(c);
  return 0;
}
