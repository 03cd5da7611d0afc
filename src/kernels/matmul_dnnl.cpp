// Float32 products through oneDNN's matmul primitive. Its brgemm kernels
// (AVX-512) ran a linear layer's forward Y[M×N] = X[M×K] · W[N×K]ᵀ up to
// 1.7× faster than oneDNN 2.6's sgemm with the transposes and splits gemm.cpp
// does around it (on 2 threads the CNN's 64×3136·128ᵀ 1.55–1.72×, the
// two-layer net's 64×784·100ᵀ 1.25–1.35×; docs/gemm-backends.md, "The linear
// forward through oneDNN's matmul primitive"), so gemm.cpp sends those here.
//
// Primitives are made once per shape and thread count, at the shape's first
// product (0.3–1.1 ms of JIT code generation each, measured; oneDNN's own
// primitive cache makes a shape it has seen before again in 5–10 µs), and kept
// per thread — a thread binds its own buffers to a primitive's memory objects
// — for the kMatmulShapes most recently used shapes. (Making them only at a
// shape's second product would spare a one-off product the JIT, but then the
// first product of every shape would come from sgemm and the rest from the
// matmul, with other roundings: the same forward run twice would not give the
// same bits.) Their scratchpad, where oneDNN packs B, is a per-thread buffer
// that only grows: oneDNN's own would be allocated and freed around every
// call. A shape with no brgemm kernel (a CPU without AVX-512) is remembered as
// declined and stays on sgemm; so do matrices with a leading dimension larger
// than their rows (sub-matrices), which oneDNN 2.6's brgemm does not take.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <list>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "dimgrad/errors.hpp"
#include "kernels/dnnl_engine.hpp"
#include "kernels/kernels.hpp"
#include "kernels/signal_guard.hpp"

namespace dg::kernels {
namespace {

using dnnl::memory;

// ta, tb, M, N, K, lda, ldb, ldc, threads: oneDNN shares a primitive's work
// among the threads it sees when the primitive is made (one inside a parallel
// region).
using Key = std::tuple<bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int>;

struct Entry {
  Key key;
  std::optional<dnnl::matmul> prim;  // empty: declined, sgemm does this shape
  memory a, b, c, scratch;           // bound to a call's buffers by set_data_handle
  std::unordered_map<int, memory> args;  // the four above, by oneDNN argument
};

std::atomic<int64_t> primitives_made{0}, shapes_declined{0};

struct ThreadCache {
  std::list<Entry> entries;  // most recently used first
  std::vector<char> scratch;
};

ThreadCache& thread_cache() {
  thread_local ThreadCache cache;
  return cache;
}

// A row-major [rows×cols] matrix with row stride ld, described as itself or,
// with transposed, as the [cols×rows] matrix it is the transpose of.
memory::desc row_major(int64_t rows, int64_t cols, int64_t ld, bool transposed) {
  return transposed ? memory::desc({cols, rows}, memory::data_type::f32, memory::dims{1, ld})
                    : memory::desc({rows, cols}, memory::data_type::f32, memory::dims{ld, 1});
}

// Makes e's primitive, or leaves e declined: no brgemm kernel for it (oneDNN's
// other matmul implementations are its sgemm, or slower, behind a primitive's
// overhead), or oneDNN could not make one (then sgemm does the product).
void make_primitive(Entry& e) {
  const auto& [ta, tb, M, N, K, lda, ldb, ldc, threads] = e.key;
  // op(A) [M×K] is stored [K×M] when ta, op(B) [K×N] is stored [N×K] when tb.
  const memory::desc a_md = ta ? row_major(K, M, lda, true) : row_major(M, K, lda, false),
                     b_md = tb ? row_major(N, K, ldb, true) : row_major(K, N, ldb, false),
                     c_md = row_major(M, N, ldc, false);
  try {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), attr, dnnl_cpu_engine());
    if (std::string(pd.impl_info_str()).rfind("brg", 0) != 0) {
      ++shapes_declined;
      return;
    }
    e.prim.emplace(pd);
    e.a = memory(a_md, dnnl_cpu_engine(), DNNL_MEMORY_NONE);
    e.b = memory(b_md, dnnl_cpu_engine(), DNNL_MEMORY_NONE);
    e.c = memory(c_md, dnnl_cpu_engine(), DNNL_MEMORY_NONE);
    e.args = {{DNNL_ARG_SRC, e.a}, {DNNL_ARG_WEIGHTS, e.b}, {DNNL_ARG_DST, e.c}};
    const memory::desc scratch_md = pd.scratchpad_desc();
    if (scratch_md.get_size() > 0) {
      e.scratch = memory(scratch_md, dnnl_cpu_engine(), DNNL_MEMORY_NONE);
      e.args.emplace(DNNL_ARG_SCRATCHPAD, e.scratch);
    }
  } catch (const dnnl::error&) {
    e.prim.reset();
    ++shapes_declined;
    return;
  }
  ++primitives_made;
}

// The calling thread's entry for key, made if new, moved to the front.
Entry& entry_for(ThreadCache& cache, const Key& key) {
  auto it = std::find_if(cache.entries.begin(), cache.entries.end(), [&](const Entry& e) { return e.key == key; });
  if (it != cache.entries.end()) {
    cache.entries.splice(cache.entries.begin(), cache.entries, it);
    return cache.entries.front();
  }
  cache.entries.emplace_front();
  cache.entries.front().key = key;
  make_primitive(cache.entries.front());
  if (cache.entries.size() > static_cast<size_t>(kMatmulShapes)) cache.entries.pop_back();
  return cache.entries.front();
}

std::atomic<int>& route_slot() {
  static std::atomic<int> slot = [] {
    const char* e = std::getenv("DG_GEMM");
    const std::string v = e ? e : "";
    return static_cast<int>(v == "sgemm" ? GemmRoute::Sgemm : v == "matmul" ? GemmRoute::Matmul : GemmRoute::Auto);
  }();
  return slot;
}

}  // namespace

void set_gemm_route(GemmRoute r) { route_slot() = static_cast<int>(r); }
GemmRoute gemm_route() { return static_cast<GemmRoute>(route_slot().load()); }

DnnlMatmulCounts dnnl_matmul_counts() {
  return {primitives_made.load(), shapes_declined.load(),
          static_cast<int64_t>(thread_cache().entries.size())};
}

bool dnnl_matmul(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                 int64_t ldb, float* C, int64_t ldc) {
  // oneDNN 2.6's brgemm takes dense matrices only (a leading dimension larger
  // than a row gets its gemm:jit, which is sgemm): no primitive is asked for.
  if (lda != (ta ? M : K) || ldb != (tb ? K : N) || ldc != N) return false;
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  ThreadCache& cache = thread_cache();
  AsyncSignalsHeld held;  // oneDNN's kernels run on a heap stack: no handler frame may land there
  Entry& e = entry_for(cache, Key{ta, tb, M, N, K, lda, ldb, ldc, threads});
  if (!e.prim) return false;
  try {
    // (the memory objects in e.args share these handles)
    e.a.set_data_handle(const_cast<float*>(A));
    e.b.set_data_handle(const_cast<float*>(B));
    e.c.set_data_handle(C);
    if (e.scratch) {
      const size_t bytes = e.scratch.get_desc().get_size();
      if (cache.scratch.size() < bytes) cache.scratch.resize(bytes);
      e.scratch.set_data_handle(cache.scratch.data());
    }
    e.prim->execute(dnnl_cpu_stream(), e.args);
  } catch (const dnnl::error& err) {
    throw Error("oneDNN matmul failed for op(A)[" + std::to_string(M) + "x" + std::to_string(K) + "] · op(B)[" +
                std::to_string(K) + "x" + std::to_string(N) + "]: " + err.what());
  }
  return true;
}

}  // namespace dg::kernels
