// GEMM: float32 through oneDNN's sgemm (fastest measured on this CPU; see
// docs/gemm-backends.md), float64 through OpenBLAS's dgemm (oneDNN has none;
// float64 is for gradcheck, where speed matters little).
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include "kernels/kernels.hpp"
#include "tensor/internal.hpp"

namespace dg::kernels {

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (st != dnnl_success) throw Error("oneDNN sgemm failed with status " + std::to_string(static_cast<int>(st)));
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0 ? 0.0 : beta * C[i * ldc + j];
    return;
  }
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(M),
              static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta,
              C, static_cast<int>(ldc));
}

namespace {

// How a 2-d strided tensor [rows×cols] can be handed to GEMM without a copy.
struct GemmOperand {
  Tensor keep;  // owns a contiguous copy when one was needed
  const void* data;
  bool trans;
  int64_t ld;
};

GemmOperand gemm_operand(const Tensor& t) {
  const int64_t rows = t.size(0), cols = t.size(1);
  const int64_t s0 = t.stride(0), s1 = t.stride(1);
  if ((s1 == 1 || cols == 1) && (s0 >= std::max<int64_t>(cols, 1) || rows == 1))
    return {Tensor(), t.raw_data(), false, rows == 1 ? std::max<int64_t>(cols, 1) : s0};
  if ((s0 == 1 || rows == 1) && (s1 >= std::max<int64_t>(rows, 1) || cols == 1))
    return {Tensor(), t.raw_data(), true, cols == 1 ? std::max<int64_t>(rows, 1) : s1};
  Tensor c = contiguous_copy(t);
  return {c, c.raw_data(), false, std::max<int64_t>(cols, 1)};
}

}  // namespace

void mm_into(const Tensor& out, const Tensor& a, const Tensor& b, double beta) {
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  GemmOperand A = gemm_operand(a), B = gemm_operand(b);
  const int64_t ldc = std::max<int64_t>(out.stride(0), std::max<int64_t>(N, 1));
  dispatch_floating(a.dtype(), "mm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    gemm(A.trans, B.trans, M, N, K, T(1), static_cast<const T*>(A.data), A.ld, static_cast<const T*>(B.data), B.ld,
         static_cast<T>(beta), static_cast<T*>(out.raw_data()), ldc);
  });
}

}  // namespace dg::kernels
