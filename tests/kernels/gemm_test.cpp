// kernels::gemm against a float64 triple loop: every transpose combination, dense
// operands and leading dimensions larger than the matrix (sub-matrices), alpha
// and beta, the K-split
// path for long-K products, the split by rows of a weight (A·Bᵀ and Aᵀ·B on
// several threads), A·Bᵀ computed as its transpose (B·Aᵀ, then transposed into C),
// oneDNN's matmul primitive (the route of a linear layer's forward, and any
// product when forced), and the plain-loop reference (float64's path inside an
// OpenMP region, where OpenBLAS must not be called). Each sgemm path is checked
// with the matmul route off (GemmRoute::Sgemm) as well as by gemm's own choice.
#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "dimgrad/tensor.hpp"
#include "kernels/kernels.hpp"
#include "kernels/simd.hpp"

namespace dg::kernels {
namespace {

struct Case {
  bool ta, tb;
  int64_t M, N, K;
};

// Random op(A), op(B) and C for a case, in [-1, 1], stored with leading
// dimensions padded by pad (sub-matrices of larger ones) or dense (pad 0).
template <class T> struct Operands {
  int64_t lda, ldb, ldc;
  std::vector<T> A, B, C;
  Operands(const Case& c, unsigned seed, int64_t pad = 3) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(-1, 1);
    const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
    const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
    lda = a_cols + pad, ldb = b_cols + pad, ldc = c.N + pad;
    A.resize(static_cast<size_t>(a_rows * lda));
    B.resize(static_cast<size_t>(b_rows * ldb));
    C.resize(static_cast<size_t>(c.M * ldc));
    for (auto* v : {&A, &B, &C})
      for (auto& x : *v) x = static_cast<T>(u(rng));
  }
};

// C against float64, and C's padding untouched.
template <class T>
void expect_product(const Case& c, const Operands<T>& o, const std::vector<T>& C0, const std::vector<T>& C,
                    double alpha, double beta, int threads, double tol) {
  const int64_t lda = o.lda, ldb = o.ldb, ldc = o.ldc;
  const std::vector<T>&A = o.A, &B = o.B;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t at = static_cast<size_t>(i * ldc + j);
      if (j >= c.N) {  // the padding of C is never written
        ASSERT_EQ(C[at], C0[at]) << "wrote outside C at row " << i << " column " << j;
        continue;
      }
      double ref = 0, mag = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const double a = c.ta ? A[static_cast<size_t>(k * lda + i)] : A[static_cast<size_t>(i * lda + k)];
        const double b = c.tb ? B[static_cast<size_t>(j * ldb + k)] : B[static_cast<size_t>(k * ldb + j)];
        ref += a * b;
        mag += std::fabs(a * b);
      }
      ref = alpha * ref + beta * static_cast<double>(C0[at]);
      ASSERT_NEAR(C[at], ref, tol * (std::fabs(alpha) * mag + std::fabs(beta) + 1))
          << "C[" << i << "," << j << "] ta=" << c.ta << " tb=" << c.tb << " M=" << c.M << " N=" << c.N << " K=" << c.K
          << " threads=" << threads << " route=" << static_cast<int>(gemm_route());
    }
  }
}

// gemm (or the reference loops) on a case: C = alpha·op(A)·op(B) + beta·C0,
// with leading dimensions padded by pad, or (pad −1) once padded by 3 and once
// dense — the matmul primitive takes only dense ones.
template <class T>
void check(const Case& c, double alpha, double beta, int threads, double tol, bool reference = false,
           int64_t pad = -1) {
  for (int64_t p : pad < 0 ? std::vector<int64_t>{3, 0} : std::vector<int64_t>{pad}) {
    Operands<T> o(c, static_cast<unsigned>(c.M * 131 + c.N * 17 + c.K), p);
    const std::vector<T> C0 = o.C;
    std::vector<T> C = C0;
    const int saved = get_num_threads();
    set_num_threads(threads);
    if (reference)
      gemm_reference<T>(c.ta, c.tb, c.M, c.N, c.K, static_cast<T>(alpha), o.A.data(), o.lda, o.B.data(), o.ldb,
                        static_cast<T>(beta), C.data(), o.ldc);
    else
      gemm(c.ta, c.tb, c.M, c.N, c.K, static_cast<T>(alpha), o.A.data(), o.lda, o.B.data(), o.ldb,
           static_cast<T>(beta), C.data(), o.ldc);
    set_num_threads(saved);
    expect_product(c, o, C0, C, alpha, beta, threads, tol);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// Runs body with gemm's route set to each of routes in turn, then back to Auto.
template <class Body> void on_routes(std::initializer_list<GemmRoute> routes, const Body& body) {
  for (GemmRoute r : routes) {
    set_gemm_route(r);
    body();
    if (::testing::Test::HasFatalFailure()) break;
  }
  set_gemm_route(GemmRoute::Auto);
}

// The last two shapes take the path that transposes a transposed B into a
// buffer first (at most 64 rows of C, N·K ≥ 4096), with a padded and a dense ldb.
TEST(Gemm, Float32AllTransposesAgainstFloat64) {
  on_routes({GemmRoute::Sgemm, GemmRoute::Auto, GemmRoute::Matmul}, [] {
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (Case c : {Case{ta, tb, 7, 5, 3}, Case{ta, tb, 64, 33, 100}, Case{ta, tb, 1, 17, 9},
                       Case{ta, tb, 64, 100, 784}, Case{ta, tb, 3, 70, 64}})
          for (int threads : {1, 2}) {
            check<float>(c, 1.0, 0.0, threads, 1e-6);
            check<float>(c, -0.5, 0.75, threads, 1e-6);
          }
  });
}

// K ≥ 4096 and ≥ 16·max(M, N) with a small output: the K-split path on 2 threads.
TEST(Gemm, Float32LongKSplitAmongThreads) {
  on_routes({GemmRoute::Sgemm, GemmRoute::Auto}, [] {
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (int threads : {1, 2}) {
          check<float>({ta, tb, 8, 20, 8000}, 1.0, 0.0, threads, 1e-6);
          check<float>({ta, tb, 8, 20, 8000}, 0.5, -1.0, threads, 1e-6);
          check<float>({ta, tb, 3, 5, 4099}, 2.0, 1.0, threads, 1e-6);  // K not a multiple of the slice
          // N < 16 and N < M: each thread's A·Bᵀ slice is computed as its transpose.
          check<float>({ta, tb, 20, 8, 8000}, -0.5, 0.75, threads, 1e-6);
        }
  });
}

// C = A·Bᵀ with at most 65536 outputs and not split by rows of B: on 2 threads
// always, on one thread when N < 16 and N < M, computed as Cᵀ = B·Aᵀ into a
// buffer that is transposed into C (tiles of 16×16: M and N not multiples of
// 16, partial tiles, a single row or column; 3000×20 is transposed by both
// threads). On 2 threads 64×100 and 1×90 are split by rows of B instead, each
// block computed as its transpose.
TEST(Gemm, Float32TransposedBComputedAsItsTranspose) {
  on_routes({GemmRoute::Sgemm, GemmRoute::Auto}, [] {
    for (int threads : {1, 2})
      for (Case c : {Case{false, true, 64, 100, 784}, Case{false, true, 128, 10, 512}, Case{false, true, 45, 13, 500},
                     Case{false, true, 3000, 20, 50}, Case{false, true, 700, 1, 400}, Case{false, true, 1, 90, 4000},
                     Case{false, true, 33, 17, 300}}) {
        check<float>(c, 1.0, 0.0, threads, 1e-6);
        check<float>(c, -0.5, 0.75, threads, 1e-6);
      }
  });
}

// A linear layer's products with its weight on several threads, split by rows
// of the weight: C = A·Bᵀ by rows of B (columns of C, at least 16 per thread),
// C = Aᵀ·B by rows of C, ⌈rows/threads⌉ each. Uneven last blocks (N = 100 on 3
// threads, 33 rows on 5), threads left without rows (3 rows on 5 threads),
// blocks of A·Bᵀ computed as their transpose (at
// most 64 rows of A) and as given (150, 130 rows), all with padded and with
// dense leading dimensions; on one thread the same shapes take the unsplit paths.
TEST(Gemm, Float32SplitByRowsOfTheWeight) {
  on_routes({GemmRoute::Sgemm, GemmRoute::Auto}, [] {
    for (int threads : {1, 2, 3, 5}) {
      for (Case c : {Case{false, true, 128, 256, 256}, Case{false, true, 96, 100, 900}, Case{false, true, 64, 200, 700},
                     Case{false, true, 130, 33, 2000}, Case{false, true, 150, 90, 70}, Case{true, false, 100, 784, 64},
                     Case{true, false, 33, 50, 300}, Case{true, false, 3, 500, 400}}) {
        check<float>(c, 1.0, 0.0, threads, 1e-6);
        check<float>(c, -0.5, 0.75, threads, 1e-6);
      }
    }
  });
}

// The epilogue (a linear layer's bias, linear_relu's clip): bit for bit the
// product, then + bias[j] on every row's column j, then max(·, 0), on every
// path — the split by rows of the weight (each thread's own block, its slice
// of the bias), the K-split, OpenBLAS's tiny products, the one-thread small
// ones, the transposed form, a large unsplit C (the epilogue on all threads),
// float64, the matmul primitive (dense operands) — with negative and positive
// outputs, NaN kept, and the padding of C untouched.
template <class T>
void check_epilogue(const Case& c, double beta, int threads, bool with_bias, bool relu, int64_t pad) {
  Operands<T> o(c, static_cast<unsigned>(c.M * 7 + c.N * 3 + c.K), pad);
  const int64_t lda = o.lda, ldb = o.ldb, ldc = o.ldc;
  const std::vector<T>&A = o.A, &B = o.B;
  std::vector<T>& C = o.C;
  if (beta != 0) C[1] = std::numeric_limits<T>::quiet_NaN();  // C[0, 1] stays NaN
  std::vector<T> bias(static_cast<size_t>(c.N));
  for (size_t j = 0; j < bias.size(); ++j) bias[j] = static_cast<T>(0.25 * std::sin(double(j) + 0.5));
  std::vector<T> fused = C, plain = C;
  const int saved = get_num_threads();
  set_num_threads(threads);
  gemm(c.ta, c.tb, c.M, c.N, c.K, T(1), A.data(), lda, B.data(), ldb, static_cast<T>(beta), fused.data(), ldc, relu,
       with_bias ? bias.data() : nullptr);
  gemm(c.ta, c.tb, c.M, c.N, c.K, T(1), A.data(), lda, B.data(), ldb, static_cast<T>(beta), plain.data(), ldc);
  set_num_threads(saved);
  int negative = 0;
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t at = static_cast<size_t>(i * ldc + j);
      T want = plain[at];
      if (j < c.N) {
        if (with_bias) want += bias[static_cast<size_t>(j)];
        negative += want < 0;
        if (relu) want = want <= T(0) ? T(0) : want;
      }
      ASSERT_EQ(std::memcmp(&fused[at], &want, sizeof(T)), 0)
          << "C[" << i << "," << j << "] ta=" << c.ta << " tb=" << c.tb << " M=" << c.M << " N=" << c.N
          << " K=" << c.K << " threads=" << threads << " pad=" << pad << " bias=" << with_bias << " relu=" << relu
          << ": " << fused[at] << " against " << want;
    }
  EXPECT_GT(negative, 0) << "the case has no negative output to clip";
  if (beta != 0 && c.K > 0) {
    EXPECT_TRUE(std::isnan(fused[1])) << "NaN must stay NaN";
  }
}

TEST(Gemm, EpilogueIsTheProductThenBiasThenMaxZeroOnEveryPath) {
  on_routes({GemmRoute::Sgemm, GemmRoute::Auto}, [] {
    for (int threads : {1, 2, 3})
      for (Case c : {Case{false, true, 64, 100, 784}, Case{false, true, 128, 512, 256}, Case{true, false, 100, 784, 64},
                     Case{false, true, 130, 33, 2000}, Case{false, false, 8, 20, 8000}, Case{false, true, 7, 5, 3},
                     Case{false, false, 64, 33, 100}, Case{false, true, 3000, 20, 50}, Case{true, true, 200, 150, 300},
                     Case{false, false, 3000, 40, 30}})
        for (double beta : {0.0, 1.0})
          for (bool with_bias : {false, true})
            for (bool relu : {false, true}) {
              if (!with_bias && !relu) continue;  // no epilogue: the product itself, checked above
              for (int64_t pad : {3, 0}) {
                check_epilogue<float>(c, beta, threads, with_bias, relu, pad);
                // (float64 takes no route: once is enough)
                if (gemm_route() == GemmRoute::Sgemm) check_epilogue<double>(c, beta, threads, with_bias, relu, pad);
              }
            }
  });
}

// Whether oneDNN has its brgemm matmul here: AVX-512 (dimgrad's detection asks
// for the F, BW, VL and DQ that oneDNN's avx512_core does), unless oneDNN is
// held below it — as in the Gemm.WithoutBrgemm run of these tests
// (DNNL_MAX_CPU_ISA=AVX2, tests/CMakeLists.txt), where every shape is declined.
bool brgemm_expected() {
  const char* cap = std::getenv("DNNL_MAX_CPU_ISA");
  const std::string isa = cap ? cap : "ALL";
  return cpu_isa() == Isa::Avx512 && (isa == "ALL" || isa.rfind("AVX512", 0) == 0);
}

int64_t shapes_decided() {
  const DnnlMatmulCounts n = dnnl_matmul_counts();
  return n.made + n.declined;
}

// gemm's own choice: a linear layer's forward (A·Bᵀ, alpha 1, beta 0, from 2¹⁸
// multiply-adds) goes to the matmul primitive, made at the shape's first
// product and once per thread count; the backward's products, other alpha and
// beta, and smaller products do not.
TEST(Gemm, LinearForwardTakesTheMatmulPrimitiveMadeOncePerShape) {
  set_gemm_route(GemmRoute::Auto);
  const bool brgemm = brgemm_expected();
  const Case forward{false, true, 72, 136, 520};  // a shape no other test uses
  for (int threads : {1, 2}) {
    const DnnlMatmulCounts before = dnnl_matmul_counts();
    for (int call = 0; call < 3; ++call) check<float>(forward, 1.0, 0.0, threads, 1e-6, false, 0);
    const DnnlMatmulCounts after = dnnl_matmul_counts();
    EXPECT_EQ(after.made - before.made, brgemm ? 1 : 0) << threads << " thread(s)";
    EXPECT_EQ(after.declined - before.declined, brgemm ? 0 : 1) << threads << " thread(s)";
  }
  const int64_t decided = shapes_decided();
  for (int threads : {1, 2}) {
    check<float>({false, false, 72, 136, 520}, 1.0, 0.0, threads, 1e-6, false, 0);
    check<float>({true, false, 72, 136, 520}, 1.0, 0.0, threads, 1e-6, false, 0);
    check<float>({false, true, 72, 136, 521}, 1.0, 1.0, threads, 1e-6, false, 0);
    check<float>({false, true, 72, 136, 522}, 0.5, 0.0, threads, 1e-6, false, 0);
    check<float>({false, true, 16, 64, 255}, 1.0, 0.0, threads, 1e-6, false, 0);  // 261,120 multiply-adds
    check<float>({false, true, 72, 136, 523}, 1.0, 0.0, threads, 1e-6, false, 3);  // a sub-matrix
  }
  EXPECT_EQ(shapes_decided(), decided)
      << "only dense A·Bᵀ with alpha 1, beta 0, from 2^18 multiply-adds goes to the matmul primitive";
}

// A linear forward on several threads whose blocks of the weight's rows are
// wide (at least 128 columns of C a thread) runs split by those rows, each
// thread's block through a primitive of the thread's own, made once: right on
// 2 and 3 threads (blocks of 200, 200 and of 134, 134, 132 columns), with a
// sub-matrix C (the blocks are copied into it) and with padded A or B, which
// the primitive does not take (sgemm's blocks then).
TEST(Gemm, WideLinearForwardSplitByRowsOfTheWeightThroughThePrimitive) {
  set_gemm_route(GemmRoute::Auto);
  const bool brgemm = brgemm_expected();
  const Case forward{false, true, 72, 400, 520};  // a shape no other test uses
  for (int threads : {2, 3}) {
    const DnnlMatmulCounts before = dnnl_matmul_counts();
    for (int call = 0; call < 3; ++call) check<float>(forward, 1.0, 0.0, threads, 1e-6, false, 0);
    const DnnlMatmulCounts after = dnnl_matmul_counts();
    EXPECT_EQ(after.made - before.made, brgemm ? threads : 0) << threads << " threads: one primitive per thread";
    EXPECT_EQ(after.declined - before.declined, brgemm ? 0 : threads) << threads << " threads";
  }
  Operands<float> o(forward, 11, 0);
  for (int64_t pad : {0, 5}) {
    // C a sub-matrix of a wider one, A and B dense: still the primitive's blocks.
    const int64_t ldc = forward.N + pad;
    std::vector<float> C0(static_cast<size_t>(forward.M * ldc), 7.f), C = C0;
    const int saved = get_num_threads();
    set_num_threads(2);
    const int64_t made = dnnl_matmul_counts().made;
    gemm(false, true, forward.M, forward.N, forward.K, 1.f, o.A.data(), o.lda, o.B.data(), o.ldb, 0.f, C.data(), ldc);
    EXPECT_EQ(dnnl_matmul_counts().made, made) << "the blocks' primitives were made again";
    set_num_threads(saved);
    Operands<float> with_ldc = o;
    with_ldc.ldc = ldc;
    expect_product(forward, with_ldc, C0, C, 1.0, 0.0, 2, 1e-6);
  }
  check<float>(forward, 1.0, 0.0, 2, 1e-6, false, 3);  // padded A and B
}

// Forced onto the matmul primitive, any dense product is right: every
// transpose, a single row, column or K, N not a multiple of 16, 1–3 threads.
// (Sub-matrices, and alpha ≠ 1 or beta ≠ 0, stay on sgemm: checked above.)
TEST(Gemm, MatmulPrimitiveAgainstFloat64) {
  on_routes({GemmRoute::Matmul}, [] {
    const int64_t decided = shapes_decided();
    int shapes = 0;
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (Case c : {Case{ta, tb, 1, 1, 1}, Case{ta, tb, 1, 300, 70}, Case{ta, tb, 300, 1, 70},
                       Case{ta, tb, 33, 17, 1}, Case{ta, tb, 64, 100, 784}, Case{ta, tb, 129, 250, 333}})
          for (int threads : {1, 2, 3}) {
            check<float>(c, 1.0, 0.0, threads, 1e-6, false, 0);
            ++shapes;
          }
    EXPECT_EQ(shapes_decided() - decided, shapes) << "every shape went to the matmul primitive";
  });
}

// Each thread keeps the kMatmulShapes most recently used shapes: using one of
// them again makes nothing, one evicted is made again.
TEST(Gemm, MatmulKeepsTheMostRecentlyUsedShapes) {
  on_routes({GemmRoute::Matmul}, [] {
    auto shape = [](int i) { return Case{false, true, 40 + i, 24, 33}; };
    const int64_t start = shapes_decided();
    for (int i = 0; i < kMatmulShapes + 4; ++i) check<float>(shape(i), 1.0, 0.0, 1, 1e-6, false, 0);
    EXPECT_EQ(shapes_decided() - start, kMatmulShapes + 4);
    EXPECT_EQ(dnnl_matmul_counts().kept_on_this_thread, kMatmulShapes);
    for (int i = 4; i < kMatmulShapes + 4; ++i) check<float>(shape(i), 1.0, 0.0, 1, 1e-6, false, 0);
    EXPECT_EQ(shapes_decided() - start, kMatmulShapes + 4) << "kept shapes were made again";
    for (int i = 0; i < 4; ++i) check<float>(shape(i), 1.0, 0.0, 1, 1e-6, false, 0);
    EXPECT_EQ(shapes_decided() - start, kMatmulShapes + 8) << "evicted shapes were not made again";
  });
}

// Inside a parallel region each thread runs its own products on one thread,
// with primitives and buffers of its own: the same shape on every thread and a
// shape per thread, at once.
TEST(Gemm, MatmulOnEveryThreadOfAParallelRegion) {
  on_routes({GemmRoute::Auto, GemmRoute::Matmul}, [] {
    constexpr int kThreads = 3;
    std::vector<Case> cases;
    for (int t = 0; t < kThreads; ++t) cases.push_back({false, true, 64, 96, 700});
    for (int t = 0; t < kThreads; ++t) cases.push_back({false, true, 48 + 8 * t, 80, 900});
    std::vector<Operands<float>> ops;
    for (size_t i = 0; i < cases.size(); ++i) ops.emplace_back(cases[i], static_cast<unsigned>(i), 0);
    std::vector<std::vector<float>> C0, C;
    for (auto& o : ops) C0.push_back(o.C);
    C = C0;
#pragma omp parallel num_threads(kThreads)
    for (int rep = 0; rep < 3; ++rep)
      for (size_t i = static_cast<size_t>(omp_get_thread_num()); i < cases.size(); i += kThreads) {
        const Case& c = cases[i];
        C[i] = C0[i];
        gemm(c.ta, c.tb, c.M, c.N, c.K, 1.f, ops[i].A.data(), ops[i].lda, ops[i].B.data(), ops[i].ldb, 0.f,
             C[i].data(), ops[i].ldc);
      }
    for (size_t i = 0; i < cases.size(); ++i) expect_product(cases[i], ops[i], C0[i], C[i], 1.0, 0.0, 1, 1e-6);
  });
}

TEST(Gemm, Float64AndTheReferenceLoops) {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool reference : {false, true}) {
        check<double>({ta, tb, 9, 7, 11}, 1.0, 0.0, 2, 1e-13, reference);
        check<double>({ta, tb, 9, 7, 11}, -2.0, 0.5, 2, 1e-13, reference);
        check<float>({ta, tb, 9, 7, 11}, -2.0, 0.5, 1, 1e-6, reference);
      }
}

}  // namespace
}  // namespace dg::kernels
