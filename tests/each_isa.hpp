// Test helper shared by the test modules: runs a body on every instruction set
// this CPU has (the portable loops, AVX2, AVX-512) and on each of the given
// thread counts, then puts both settings back. Stops at the first fatal failure.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "dimgrad/dimgrad.hpp"
#include "kernels/simd.hpp"

namespace dg_test {

// body(threads, where): `where` names the instruction set and the threads ("avx512, 2 thread(s)").
template <class Body> void on_every_isa_and_thread_count(const std::vector<int>& thread_counts, const Body& body) {
  using dg::kernels::Isa;
  const Isa saved_isa = dg::kernels::active_isa();
  const int saved_threads = dg::get_num_threads();
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(dg::kernels::cpu_isa())) continue;
    dg::kernels::set_isa(isa);
    for (int threads : thread_counts) {
      dg::set_num_threads(threads);
      body(threads, std::string(dg::kernels::isa_name(isa)) + ", " + std::to_string(threads) + " thread(s)");
      if (::testing::Test::HasFatalFailure()) break;
    }
    if (::testing::Test::HasFatalFailure()) break;
  }
  dg::kernels::set_isa(saved_isa);
  dg::set_num_threads(saved_threads);
}

// make() returns float32 tensors (a result and its gradients); on every instruction
// set and thread count they must hold the same bits as on the first run.
template <class Make>
void expect_same_float32_bits_everywhere(const std::vector<int>& thread_counts, const std::string& what,
                                         const Make& make) {
  std::vector<float> ref;
  on_every_isa_and_thread_count(thread_counts, [&](int, const std::string& where) {
    std::vector<float> got;
    for (const dg::Tensor& v : make()) {
      dg::Tensor c = v.contiguous();
      got.insert(got.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    }
    if (ref.empty()) {
      ref = got;
      return;
    }
    ASSERT_EQ(got.size(), ref.size()) << what << ", " << where;
    ASSERT_EQ(std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)), 0) << what << ", " << where;
  });
}

}  // namespace dg_test
