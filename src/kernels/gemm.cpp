// GEMM: float32 through oneDNN's sgemm (fastest measured on this CPU; see
// docs/gemm-backends.md) except tiny products, which OpenBLAS does faster;
// float64 through OpenBLAS's dgemm (oneDNN has none; float64 is for gradcheck,
// where speed matters little).
//
// Threads: oneDNN here runs on OpenMP, the same pool as our loops, and runs
// single-threaded when called inside a parallel region. OpenBLAS (pthreads) has
// a pool of its own, so dgemm is never called from inside an OpenMP region: there
// a plain loop does the (small, gradcheck-sized) product instead.
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/signal_guard.hpp"
#include "tensor/internal.hpp"

namespace dg::kernels {

namespace {

// Up to this many rows of C, a product on one thread transposes a transposed B
// into a buffer first (see sgemm_as_given): oneDNN transposes B while packing
// it for every product, and with few rows of A that packing is a large part of
// the work. Measured on one core (docs/performance.md): 64×784·784×100 (W3's
// first layer) 136 µs as given against 7 + 103 µs transposed first;
// 64×3136·3136×128 (W2's) 609 against 56 + 442; at 128 rows the two were even
// (128×784·784×512: 941 against 995). Before oneDNN's own 2-thread split it
// did not pay (the transpose ran on one thread while the packing was shared: W3
// 272k against 308k samples/s); inside a product split by rows of a weight
// (below) each thread's one-thread product may transpose its B this way.
constexpr int64_t kTransposeBRows = 64;

// Whether oneDNN will run a product on the calling thread alone.
bool one_thread() { return omp_in_parallel() || omp_get_max_threads() == 1; }

// One product in oneDNN, with B transposed first where that pays (above).
void sgemm_as_given(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (tb && one_thread() && M <= kTransposeBRows && N * K >= 4096) {
    // op(B) = Bᵀ [K×N] as a row-major K×N buffer (OpenBLAS's omatcopy), then C = op(A)·buffer.
    thread_local std::vector<float> bt;
    bt.resize(static_cast<size_t>(N * K));
    cblas_somatcopy(CblasRowMajor, CblasTrans, static_cast<int>(N), static_cast<int>(K), 1.0f, B,
                    static_cast<int>(ldb), bt.data(), static_cast<int>(N));
    B = bt.data();
    ldb = N;
    tb = false;
  }
  AsyncSignalsHeld held;  // oneDNN's kernels run on a heap stack: no handler frame may land there
  dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (st != dnnl_success) throw Error("oneDNN sgemm failed with status " + std::to_string(static_cast<int>(st)));
}

// C[M×N] ← Tᵀ + beta·C, where T is stored [N×M]: in 16×16 tiles, so the rows
// read from T and the rows written to C stay in cache across a tile.
void add_transposed(const float* T, int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  parallel_for_if(use_threads(M * N), (M + 15) / 16, [&](int64_t tile) {
    const int64_t i0 = tile * 16, i1 = std::min(M, i0 + 16);
    for (int64_t j0 = 0; j0 < N; j0 += 16) {
      const int64_t j1 = std::min(N, j0 + 16);
      for (int64_t i = i0; i < i1; ++i) {
        float* c = C + i * ldc;
        if (beta == 0.f) {
          for (int64_t j = j0; j < j1; ++j) c[j] = T[j * M + i];
        } else {
          for (int64_t j = j0; j < j1; ++j) c[j] = T[j * M + i] + beta * c[j];
        }
      }
    }
  });
}

// C = A·Bᵀ — a linear layer's forward, Y[batch×out] = X · Wᵀ — runs faster in
// oneDNN 2.6 as its transpose, Cᵀ[N×M] = B·Aᵀ (the same two stored operands,
// roles swapped), into a buffer then transposed into C, when C is small (at
// most 65536 values, so the transpose stays a few µs) and either several
// threads share the product — oneDNN splits the product as given poorly: W3's
// 64×784·100ᵀ 82–88 → 57–71 µs on 2 threads, 32×784·100ᵀ 57 → 37, a last
// layer 128×512·10ᵀ 18–20 → 9–11 — or, on one thread, C has fewer columns than
// a vector and than rows (128×512·10ᵀ 31 → 21 µs, 1000×128·10ᵀ 58 → 48; with
// 100 columns or more the swap measured 2–12% slower on one thread, and with
// more outputs 5–40% slower on two). Most such products on several threads are
// split by rows of B instead (split_by_weight_rows, below), each thread's
// block swapped when small. Measured in docs/performance.md, round 5.
constexpr int64_t kSwapMaxOutput = 65536;
bool swap_nt(bool ta, bool tb, int64_t M, int64_t N) {
  if (ta || !tb || M * N > kSwapMaxOutput) return false;
  return !one_thread() || (N < 16 && N < M);
}

// C = A·Bᵀ computed as Cᵀ[N×M] = B[N×K] · (A[M×K])ᵀ into a buffer T, then C ← Tᵀ + beta·C.
void sgemm_transposed_nt(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                         int64_t ldb, float beta, float* C, int64_t ldc) {
  thread_local std::vector<float> transposed;
  transposed.resize(static_cast<size_t>(M * N));
  float* T = transposed.data();
  sgemm_as_given(false, true, N, M, K, alpha, B, ldb, A, lda, 0.f, T, M);
  add_transposed(T, M, N, beta, C, ldc);
}

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
           int64_t ldb, float beta, float* C, int64_t ldc) {
  if (swap_nt(ta, tb, M, N))
    sgemm_transposed_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    sgemm_as_given(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// One thread's block of a split A·Bᵀ: as its transpose when A has few rows
// (see split_by_weight_rows), otherwise as given.
void sgemm_block_nt(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                    int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= kTransposeBRows && M * N <= kSwapMaxOutput)
    sgemm_transposed_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    sgemm_as_given(false, true, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// A long K with a small output — the weight gradient of a convolution,
// dW[64×288] = dY[64×12544] · colsᵀ — leaves oneDNN too little output to share
// between threads (126 GFLOP/s on 2 threads against 83 on one, measured). Such
// products are split along K instead: each thread multiplies its slice of K
// into its own M×N buffer, and the partial products are added in thread order
// (the same result for the same thread count).
// Below this many multiply-adds (≈ 5 µs of work) a product runs on one thread.
constexpr int64_t kSerialGemmMacs = int64_t(1) << 18;
// Up to this many, OpenBLAS computes it (see gemm below).
constexpr int64_t kTinyGemmMacs = 65536;

bool split_along_k(int64_t M, int64_t N, int64_t K) {
  return K >= 4096 && K >= 16 * std::max(M, N) && M * N <= (int64_t(1) << 18) && use_threads(M * N * K);
}

// Runs body(thread, threads) on every OpenMP thread; an exception on any thread
// is reported once the region has ended (none may leave an OpenMP region).
template <class Body> void on_every_thread(const char* what, const Body& body) {
  bool failed = false;
#pragma omp parallel
  {
    try {
      body(omp_get_thread_num(), omp_get_num_threads());
    } catch (...) {
#pragma omp atomic write
      failed = true;
    }
  }
  if (failed) throw Error(std::string("oneDNN sgemm failed in ") + what);
}

void sgemm_split_k(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                   const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const int max_threads = omp_get_max_threads();
  std::vector<float> part(static_cast<size_t>(max_threads - 1) * static_cast<size_t>(M * N));
  int used = 1;
  on_every_thread("a K-split product", [&](int t, int n) {
    if (t == 0) used = n;
    // Slices of K rounded to 64 so each starts on a cache-line boundary of A and B.
    const int64_t step = ((K + n - 1) / n + 63) / 64 * 64;
    const int64_t k0 = std::min(K, t * step), k1 = std::min(K, k0 + step);
    // Column k0 of op(A)[M×K], row k0 of op(B)[K×N], in their stored layouts.
    const float* a = ta ? A + k0 * lda : A + k0;
    const float* b = tb ? B + k0 : B + k0 * ldb;
    float* c = t == 0 ? C : part.data() + static_cast<size_t>(t - 1) * static_cast<size_t>(M * N);
    const int64_t ld = t == 0 ? ldc : N;
    if (k1 > k0) {
      sgemm(ta, tb, M, N, k1 - k0, alpha, a, lda, b, ldb, t == 0 ? beta : 0.f, c, ld);
    } else if (t != 0) {
      std::fill(c, c + M * N, 0.f);
    }
  });
  for (int t = 1; t < used; ++t) {
    const float* p = part.data() + static_cast<size_t>(t - 1) * static_cast<size_t>(M * N);
    for (int64_t i = 0; i < M; ++i) {
      float* c = C + i * ldc;
      const float* q = p + i * N;
      simd_for(0, N, [=](int64_t j) { c[j] += q[j]; });
    }
  }
}

// gemm's epilogue on a block C[M×N]: C ← C + bias (bias[j] added to column j,
// when bias is given), then C ← max(C, 0) when relu (!(c <= 0) keeps NaN, as
// dg::relu). Row by row, one pass.
template <class T> void epilogue_block(T* C, int64_t ldc, int64_t M, int64_t N, const T* bias, bool relu) {
  if (!bias && !relu) return;
  simd_run([=] {
    for (int64_t i = 0; i < M; ++i) {
      T* __restrict c = C + i * ldc;
      const T* __restrict b = bias;
      if (!b) {
        for (int64_t j = 0; j < N; ++j) c[j] = c[j] <= T(0) ? T(0) : c[j];
      } else if (relu) {
        for (int64_t j = 0; j < N; ++j) {
          const T v = c[j] + b[j];
          c[j] = v <= T(0) ? T(0) : v;
        }
      } else {
        for (int64_t j = 0; j < N; ++j) c[j] += b[j];
      }
    }
  });
}

// The epilogue over all of C on the calling thread, or shared by rows of C
// among the threads when C is large (a product not split by rows of a weight).
template <class T> void epilogue(T* C, int64_t ldc, int64_t M, int64_t N, const T* bias, bool relu) {
  if (!bias && !relu) return;
  constexpr int64_t kRows = 16;
  parallel_for_if(use_threads(M * N), (M + kRows - 1) / kRows, [&](int64_t r) {
    const int64_t i0 = r * kRows;
    epilogue_block(C + i0 * ldc, ldc, std::min(kRows, M - i0), N, bias, relu);
  });
}

// A linear layer's two products with its weight W [out×in] — the forward
// Y = X·Wᵀ (C = A·Bᵀ, B = W) and the weight gradient dW = dYᵀ·X (C = Aᵀ·B,
// C = dW) — are shared between threads by rows of W: thread t multiplies its
// own rows, ⌈rows/threads⌉ of them, on one thread. The optimizer's step splits
// each parameter the same way (parallel_items: W's elements in equal halves,
// which are whole rows whenever rows·in/threads is a multiple of 16, as in
// every workload; otherwise the two differ by part of one row), so the rows of
// W, of dW and of the momentum buffer that a thread updates are the ones it
// just read or wrote, in its own cache. oneDNN 2.6's own split of these
// products ignores that and makes the step move them between the cores: W3's
// SGD step took 33–47 µs inside the training loop against 7–10 µs on the same
// (cached) buffers alone; split by rows, 10–13 µs in about half the runs (in
// the others 30–35 µs, with the forward and backward faster by as much: the
// first layer's working set per core is about the size of its L2). And oneDNN 2.6
// shares A·Bᵀ badly between threads on its own (128×512·512ᵀ: 517 µs on 2
// threads, 1.3× its one-thread time; split by rows 352 µs). Measured in
// docs/performance.md, round 5.
//
// Each thread's block of A·Bᵀ is computed as its transpose (see swap_nt) when
// small: W3's 64×784·100ᵀ in two 64×784·50ᵀ blocks 72 µs against 82 as given.
// Blocks of A·Bᵀ are at least 16 columns wide (narrower ones would write the
// same cache lines of C from several threads): a classifier's last layer
// (N = 10) stays with oneDNN.
bool split_by_weight_rows(bool ta, bool tb, int64_t M, int64_t N, int64_t K) {
  if (ta == tb || !use_threads(M * N * K) || M * N * K < kSerialGemmMacs) return false;
  return ta || N >= 16 * omp_get_max_threads();
}

void gemm_split_weight_rows(bool ta, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                            const float* B, int64_t ldb, float beta, float* C, int64_t ldc, bool relu_after,
                            const float* bias_after, bool blocks_through_matmul) {
  on_every_thread("a product split by rows of the weight", [&](int t, int n) {
    if (ta) {
      // dW = Aᵀ·B: rows i0..i1 of C are columns i0..i1 of A (A is stored transposed).
      const int64_t step = (M + n - 1) / n;
      const int64_t i0 = std::min(M, t * step), i1 = std::min(M, i0 + step);
      if (i1 <= i0) return;
      sgemm(true, false, i1 - i0, N, K, alpha, A + i0, lda, B, ldb, beta, C + i0 * ldc, ldc);
      epilogue_block(C + i0 * ldc, ldc, i1 - i0, N, bias_after, relu_after);
      return;
    }
    // Y = A·Bᵀ: columns j0..j1 of C are rows j0..j1 of B (B is stored transposed).
    const int64_t step = (N + n - 1) / n;
    const int64_t j0 = std::min(N, t * step), j1 = std::min(N, j0 + step), width = j1 - j0;
    if (width <= 0) return;
    const float* bias = bias_after ? bias_after + j0 : nullptr;
    if (blocks_through_matmul) {
      // Y[:, j0:j1] = A · B[j0:j1, :]ᵀ, dense [M×width] in this thread's buffer,
      // then row by row into C with the epilogue while the row is in L1.
      thread_local std::vector<float> block;
      block.resize(static_cast<size_t>(M * width));
      if (dnnl_matmul(false, true, M, width, K, A, lda, B + j0 * ldb, ldb, block.data(), width)) {
        for (int64_t i = 0; i < M; ++i) {
          float* c = C + i * ldc + j0;
          std::copy_n(block.data() + i * width, width, c);
          epilogue_block(c, ldc, 1, width, bias, relu_after);
        }
        return;
      }
    }
    sgemm_block_nt(M, width, K, alpha, A, lda, B + j0 * ldb, ldb, beta, C + j0, ldc);
    epilogue_block(C + j0, ldc, M, width, bias, relu_after);
  });
}

// Whether a product goes to oneDNN's matmul primitive (matmul_dnnl.cpp) rather
// than sgemm: C = A·Bᵀ (alpha 1, beta 0) — a linear layer's forward — from
// kSerialGemmMacs multiply-adds. Measured through gemm with each route forced
// (docs/gemm-backends.md, "The linear forward through oneDNN's matmul
// primitive"), the matmul ran such products 0.94–1.72× as fast on 2 threads
// and 0.89–2.33× on one: well ahead with few rows or columns (the CNN's
// 64×3136·128ᵀ 1.72× on 2 threads, the two-layer net's 64×784·100ᵀ 1.25×,
// inference's 1000×3136·128ᵀ 1.46×, a long-K 64×12544·288ᵀ 1.70× in place of
// the split along K), within the noise on the wide ones (128×784·512ᵀ 0.89–1.12×
// over two runs). The backward's A·B and Aᵀ·B ran 0.75–1.03× as fast, so they
// stay on sgemm, and so do smaller products: the primitive's call costs about
// 2.5 µs more (64×100·10ᵀ: 5.3 against 2.3 µs).
bool use_matmul(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta) {
  if (alpha != 1.f || beta != 0.f || K == 0) return false;
  switch (gemm_route()) {
    case GemmRoute::Sgemm:
      return false;
    case GemmRoute::Matmul:
      return true;
    case GemmRoute::Auto:
      break;
  }
  return !ta && tb && M * N * K >= kSerialGemmMacs;
}

// A linear forward on several threads whose blocks are wide — at least
// kMatmulBlockColumns columns of C a thread — runs split by rows of the weight
// with each thread's block through the matmul primitive on that thread, into a
// buffer of the thread's own (the primitive writes dense matrices only) that
// the epilogue then copies into C. Measured on 2 threads of the Zen 5 host
// (docs/gemm-backends.md, "On the Zen 5 host"): 128×784·512ᵀ 292–303 µs
// against 297–323 through the primitive's own split and 296–315 through
// sgemm's blocks; 64×784·512ᵀ 164 against 187; 128×784·256ᵀ 154 against 165;
// narrower blocks lost (64×784·100ᵀ 51 against 47 µs, 64×3136·128ᵀ 187 against
// 177), so they keep the primitive's own split. In interleaved benchmark runs
// the gain was 3–16% in one and nothing in another (performance.md, round 16).
// The buffer holds at most kMatmulBlockValues floats (1 MiB, a core's L2 on the
// Zen 5); larger blocks keep the primitive's own split too.
constexpr int64_t kMatmulBlockColumns = 128;
constexpr int64_t kMatmulBlockValues = int64_t(1) << 18;

bool matmul_blocks(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, int64_t lda, int64_t ldb,
                   float beta) {
  if (gemm_route() != GemmRoute::Auto || !use_matmul(ta, tb, M, N, K, alpha, beta)) return false;
  if (!split_by_weight_rows(ta, tb, M, N, K) || lda != K || ldb != K) return false;
  const int64_t step = (N + omp_get_max_threads() - 1) / omp_get_max_threads();
  return step >= kMatmulBlockColumns && M * step <= kMatmulBlockValues;
}

// The product itself, every path but the split by rows of the weight.
void gemm_product(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (K == 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  if (split_along_k(M, N, K)) {
    sgemm_split_k(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  } else if (M * N * K <= kTinyGemmMacs) {
    // Tiny products — a classifier's last layer — go to OpenBLAS, whose
    // small-matrix path is up to 2× faster than oneDNN's here (64×100×10: 72.7
    // against 37.4 GFLOP/s, docs/gemm-backends.md). At this size OpenBLAS
    // always runs on the calling thread (it splits a product only above
    // 65536 × GEMM_MULTITHREAD_THRESHOLD multiply-adds), so no team starts.
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(M),
                static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb),
                beta, C, static_cast<int>(ldc));
  } else if (M * N * K < kSerialGemmMacs && omp_get_max_threads() > 1 && !omp_in_parallel()) {
    // Small products: waking the second thread costs more than oneDNN's split
    // saves (64×100×10 took 3.4 µs on one thread and 5.6 µs on two).
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    try {
      sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    } catch (...) {
      omp_set_num_threads(saved);
      throw;
    }
    omp_set_num_threads(saved);
  } else {
    sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
}

}  // namespace

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, bool relu_after, const float* bias_after) {
  if (M == 0 || N == 0) return;
  const bool blocks_through_matmul = matmul_blocks(ta, tb, M, N, K, alpha, lda, ldb, beta);
  if (!blocks_through_matmul && use_matmul(ta, tb, M, N, K, alpha, beta) &&
      dnnl_matmul(ta, tb, M, N, K, A, lda, B, ldb, C, ldc)) {
    epilogue(C, ldc, M, N, bias_after, relu_after);
    return;
  }
  if (blocks_through_matmul || (!split_along_k(M, N, K) && split_by_weight_rows(ta, tb, M, N, K))) {
    // Each thread applies the epilogue to its own block, still in its cache.
    gemm_split_weight_rows(ta, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, relu_after, bias_after,
                           blocks_through_matmul);
    return;
  }
  gemm_product(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  epilogue(C, ldc, M, N, bias_after, relu_after);
}

template <class T>
void gemm_reference(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
                    int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    for (int64_t j = 0; j < N; ++j) c[j] = beta == T(0) ? T(0) : beta * c[j];
    // Row i of C accumulates op(A)[i, k] · row k of op(B), for k in order.
    for (int64_t k = 0; k < K; ++k) {
      const T a = alpha * (ta ? A[k * lda + i] : A[i * lda + k]);
      for (int64_t j = 0; j < N; ++j) c[j] += a * (tb ? B[j * ldb + k] : B[k * ldb + j]);
    }
  }
}
template void gemm_reference<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                                    int64_t, float, float*, int64_t);
template void gemm_reference<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                     const double*, int64_t, double, double*, int64_t);

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc, bool relu_after,
          const double* bias_after) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0 ? 0.0 : beta * C[i * ldc + j];
  } else if (omp_in_parallel()) {
    gemm_reference(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(M),
                static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb),
                beta, C, static_cast<int>(ldc));
  }
  epilogue(C, ldc, M, N, bias_after, relu_after);
}

bool blas_runs_on_openmp() { return openblas_get_parallel() == OPENBLAS_OPENMP; }

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
