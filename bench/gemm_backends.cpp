// gemm_backends: sgemm GFLOP/s of OpenBLAS, BLIS and oneDNN on the shapes dimgrad
// trains with, so that the GEMM backend is chosen by measurement (docs/gemm-backends.md).
//
//   gemm_backends <onednn|openblas|blis> <threads> [repeats]
//
// One backend per process: OpenBLAS reads OPENBLAS_CORETYPE and BLIS reads
// BLIS_ARCH_TYPE when they are loaded, so bench/run_gemm_backends.sh starts one
// process per (backend, environment, threads). OpenBLAS and BLIS export the same
// CBLAS symbols, so both are opened with dlopen(RTLD_LOCAL | RTLD_DEEPBIND) and
// only the chosen one is ever loaded; oneDNN (dnnl_sgemm) is linked normally.
//
// Every result is checked against a float64 reference on sampled entries of C.
#include <dlfcn.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.h>

namespace {

// Row-major C[M×N] = op(A)[M×K] · op(B)[K×N], the convention of kernels::gemm.
using GemmFn = void (*)(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                        const float* B, int64_t ldb, float* C, int64_t ldc);

// CBLAS enums (identical in OpenBLAS and BLIS).
enum { kRowMajor = 101, kNoTrans = 111, kTrans = 112 };
using CblasSgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                            int);
CblasSgemm g_cblas_sgemm = nullptr;

void cblas_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                int64_t ldb, float* C, int64_t ldc) {
  g_cblas_sgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, int(M), int(N), int(K), 1.f, A, int(lda),
                B, int(ldb), 0.f, C, int(ldc));
}

void onednn_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                 int64_t ldb, float* C, int64_t ldc) {
  if (dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, 1.f, A, lda, B, ldb, 0.f, C, ldc) != dnnl_success) {
    std::fprintf(stderr, "dnnl_sgemm failed\n");
    std::exit(1);
  }
}

void* open_or_die(const char* path) {
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (!h) {
    std::fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
    std::exit(1);
  }
  return h;
}

template <class F> F sym(void* h, const char* name) {
  void* p = dlsym(h, name);
  if (!p) {
    std::fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
    std::exit(1);
  }
  return reinterpret_cast<F>(p);
}

struct Shape {
  const char* name;
  bool ta, tb;
  int64_t M, N, K;
};

// M×K×N of the training GEMMs. Linear keeps W as [out×in] (LibTorch's layout).
const Shape kShapes[] = {
    {"mlp fwd  Y=X·Wᵀ   128×784×512", false, true, 128, 512, 784},
    {"mlp bwd dX=dY·W   128×512×784", false, false, 128, 784, 512},
    {"mlp bwd dW=dYᵀ·X  512×128×784", true, false, 512, 784, 128},
    {"square            1024×1024×1024", false, false, 1024, 1024, 1024},
    {"conv1 im2col      32×9×50176", false, false, 32, 50176, 9},
    {"conv2 im2col      64×288×12544", false, false, 64, 12544, 288},
    {"conv2 dW=dY·colsᵀ 64×12544×288", false, true, 64, 288, 12544},
    // The two-layer net 784-100-10 at batch 64 (small: per-call overhead shows).
    {"w3 fc1 Y=X·Wᵀ     64×784×100", false, true, 64, 100, 784},
    {"w3 fc1 dW=dYᵀ·X   100×64×784", true, false, 100, 784, 64},
    {"w3 fc2 Y=H·Wᵀ     64×100×10", false, true, 64, 10, 100},
    {"w3 fc2 dH=dY·W    64×10×100", false, false, 64, 100, 10},
    {"w3 fc2 dW=dYᵀ·H   10×64×100", true, false, 10, 100, 64},
    // The MLP's last layer 512→10 at batch 128.
    {"w1 fc3 Y=H·Wᵀ     128×512×10", false, true, 128, 10, 512},
    {"w1 fc3 dH=dY·W    128×10×512", false, false, 128, 512, 10},
    {"w1 fc3 dW=dYᵀ·H   10×128×512", true, false, 10, 512, 128},
};

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <onednn|openblas|blis> <threads> [repeats]\n", argv[0]);
    return 2;
  }
  const std::string backend = argv[1];
  const int threads = std::atoi(argv[2]);
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 7;
  GemmFn gemm = nullptr;
  std::string detail;
  omp_set_num_threads(threads);  // oneDNN and BLIS-openmp use the OpenMP pool
  if (backend == "onednn") {
    gemm = onednn_gemm;
    const dnnl_version_t* v = dnnl_version();
    detail = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
             " cpu_runtime=" + (v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other");
  } else if (backend == "openblas") {
    void* h = open_or_die("libopenblas.so.0");
    g_cblas_sgemm = sym<CblasSgemm>(h, "cblas_sgemm");
    sym<void (*)(int)>(h, "openblas_set_num_threads")(threads);
    detail = std::string("OpenBLAS core=") + sym<char* (*)()>(h, "openblas_get_corename")() +
             " threads=" + std::to_string(sym<int (*)()>(h, "openblas_get_num_threads")());
    gemm = cblas_gemm;
  } else if (backend == "blis") {
    void* h = open_or_die("/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4");
    g_cblas_sgemm = sym<CblasSgemm>(h, "cblas_sgemm");
    sym<void (*)(int64_t)>(h, "bli_thread_set_num_threads")(threads);
    int id = sym<int (*)()>(h, "bli_arch_query_id")();
    detail = std::string("BLIS ") + sym<char* (*)()>(h, "bli_info_get_version_str")() +
             " arch=" + sym<char* (*)(int)>(h, "bli_arch_string")(id);
    gemm = cblas_gemm;
  } else {
    std::fprintf(stderr, "unknown backend %s\n", backend.c_str());
    return 2;
  }
  std::printf("# %s, %d thread(s), median of %d repeats\n", detail.c_str(), threads, repeats);

  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (const Shape& s : kShapes) {
    // Storage of op(A): A is M×K, or K×M when transposed; likewise B.
    const int64_t a_rows = s.ta ? s.K : s.M, a_cols = s.ta ? s.M : s.K;
    const int64_t b_rows = s.tb ? s.N : s.K, b_cols = s.tb ? s.K : s.N;
    std::vector<float> A(size_t(a_rows * a_cols)), B(size_t(b_rows * b_cols)), C(size_t(s.M * s.N));
    for (auto& x : A) x = dist(rng);
    for (auto& x : B) x = dist(rng);
    auto run = [&] { gemm(s.ta, s.tb, s.M, s.N, s.K, A.data(), a_cols, B.data(), b_cols, C.data(), s.N); };

    // Correctness: 2000 sampled entries against a float64 dot product, error
    // relative to Σ|a·b| (the scale float32 rounding is proportional to).
    run();
    double worst = 0;
    std::uniform_int_distribution<int64_t> ri(0, s.M - 1), rj(0, s.N - 1);
    for (int t = 0; t < 2000; ++t) {
      int64_t i = ri(rng), j = rj(rng);
      double ref = 0, mag = 0;
      for (int64_t k = 0; k < s.K; ++k) {
        double a = s.ta ? A[size_t(k * a_cols + i)] : A[size_t(i * a_cols + k)];
        double b = s.tb ? B[size_t(j * b_cols + k)] : B[size_t(k * b_cols + j)];
        ref += a * b;
        mag += std::fabs(a * b);
      }
      worst = std::max(worst, std::fabs(C[size_t(i * s.N + j)] - ref) / std::max(mag, 1e-30));
    }
    const bool ok = worst < 1e-5;

    // Timing: each repeat runs the GEMM for ≥ 0.2 s; report the median repeat.
    const double flops = 2.0 * double(s.M) * double(s.N) * double(s.K);
    for (int w = 0; w < 3; ++w) run();
    double t0 = now();
    run();
    const double one = std::max(now() - t0, 1e-7);
    const int iters = std::max(1, int(0.2 / one));
    std::vector<double> gflops;
    for (int r = 0; r < repeats; ++r) {
      double start = now();
      for (int it = 0; it < iters; ++it) run();
      gflops.push_back(flops * iters / (now() - start) / 1e9);
    }
    std::sort(gflops.begin(), gflops.end());
    const double med = gflops[gflops.size() / 2];
    const double peak = 273.0 * threads;
    std::printf("%-34s %s %d %8.1f GFLOP/s (min %.1f max %.1f) %5.1f%% of peak  relerr %.1e %s\n", s.name,
                backend.c_str(), threads, med, gflops.front(), gflops.back(), 100.0 * med / peak, worst,
                ok ? "ok" : "WRONG");
  }
  return 0;
}
