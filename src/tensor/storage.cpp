// Storage and the caching allocator.
//
// Training repeats the same allocation sizes every step, so freed blocks are kept
// in per-size free lists and handed out again: after the first step a training
// loop asks the system for no new memory. The cache holds at most kMaxCached
// bytes; beyond that blocks go back to the system.
//
// Small blocks (≤ 64 KiB) first go through a per-thread cache of a few blocks per
// size: an op on a small tensor allocates and frees one block, and taking it from
// a thread-local array costs a few instructions where the shared cache costs a
// mutex and a hash lookup. A thread's cache goes back to the shared one when the
// thread ends, or on empty_cache() from that thread.
#include <cstdlib>
#include <sys/mman.h>
#include <unistd.h>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "dimgrad/tensor.hpp"

namespace dg {
namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kMaxCached = size_t(1) << 30;
// Requests larger than the machine's physical memory are refused before asking
// the system: a clear error instead of an allocation that overcommits and is later
// ended by the OOM killer when it is touched.
size_t max_allocation() {
  static const size_t limit = [] {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : size_t(1) << 40;
  }();
  return limit;
}

[[noreturn]] void refuse(size_t n) {
  throw Error("cannot allocate a tensor of " + std::to_string(n) + " bytes (" + std::to_string(n >> 20) +
              " MiB): more than this machine's " + std::to_string(max_allocation() >> 20) + " MiB of memory");
}

// Blocks from this size on are placed on 2 MiB pages where the kernel offers
// them (transparent huge pages, asked for with madvise): a data set or a large
// activation then needs one TLB entry per 2 MiB instead of per 4 KiB, and one
// page fault when first touched instead of 512. Picking a batch of 64 random
// rows from Fashion-MNIST's 47 MB of bytes: 8.9 → 6.5 µs on one thread
// (docs/performance.md, round 7). Smaller blocks stay on normal pages: a huge
// page would hold several unrelated blocks, or mostly padding.
constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kHugeFrom = size_t(4) << 20;

void* system_alloc(size_t n) {
  if (n < kHugeFrom) return std::aligned_alloc(kAlignment, n);
  const size_t whole = (n + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(kHugePage, whole);
  // Only a hint: without huge pages (THP off, or not here) the block is an ordinary one.
  if (p) madvise(p, whole, MADV_HUGEPAGE);
  return p;
}

size_t round_size(size_t n) {
  if (n <= 512) return (n + 63) & ~size_t(63);
  // Round to 1/8 steps of the next power of two: bounded waste, few distinct sizes.
  size_t p = size_t(1) << (63 - __builtin_clzll(n));
  size_t step = std::max<size_t>(p / 8, 64);
  return (n + step - 1) / step * step;
}

class CachingAllocator {
 public:
  void* allocate(size_t n) {
    n = round_size(n == 0 ? 1 : n);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(n);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= n;
        return p;
      }
    }
    if (n > max_allocation()) refuse(n);
    void* p = system_alloc(n);
    if (!p) {
      release_all();
      p = system_alloc(n);
    }
    if (!p) throw Error("out of memory: could not allocate " + std::to_string(n) + " bytes");
    return p;
  }
  void deallocate(void* p, size_t n) {
    n = round_size(n == 0 ? 1 : n);
    std::lock_guard<std::mutex> lock(mu_);
    if (cached_ + n > kMaxCached) {
      std::free(p);
      return;
    }
    free_[n].push_back(p);
    cached_ += n;
  }
  void release_all() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [size, list] : free_)
      for (void* p : list) std::free(p);
    free_.clear();
    cached_ = 0;
  }
  ~CachingAllocator() { release_all(); }

 private:
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

CachingAllocator& allocator() {
  // Never destroyed: tensors in static objects may be freed after main returns.
  static auto* a = new CachingAllocator();
  return *a;
}

#ifndef DG_NO_CACHING_ALLOCATOR
// ---- per-thread front cache for small blocks
constexpr size_t kLocalMaxBytes = size_t(64) << 10;
constexpr int kLocalClasses = 64;  // rounded sizes ≤ kLocalMaxBytes (see local_class)
constexpr int kLocalDepth = 8;     // blocks kept per size: at most ~5 MiB per thread

// Index of a rounded size: 64-byte steps up to 512 bytes (0..7), then the 8 steps
// of each power of two that round_size produces (8..63).
int local_class(size_t r) {
  if (r <= 512) return static_cast<int>(r / 64) - 1;
  const int lg = 63 - __builtin_clzll(r - 1);  // 2^lg < r ≤ 2^(lg+1)
  return 8 + (lg - 9) * 8 + static_cast<int>(r / ((size_t(1) << lg) / 8)) - 9;
}
size_t local_class_size(int c) {
  if (c < 8) return static_cast<size_t>(c + 1) * 64;
  const int lg = 9 + (c - 8) / 8;
  return static_cast<size_t>((c - 8) % 8 + 9) * ((size_t(1) << lg) / 8);
}

// Plain data, so that thread_local access needs no initialization guard and it
// can still be read while and after the thread's destructors run (a tensor freed
// by another thread_local's or a static's destructor then takes the shared path).
struct LocalCache {
  void* blocks[kLocalClasses][kLocalDepth];
  int count[kLocalClasses];
  int state;  // 0: not used yet by this thread, 1: in use, 2: thread ending
};
thread_local LocalCache t_cache;  // zero-initialized

void flush(LocalCache& cache) {
  for (int c = 0; c < kLocalClasses; ++c) {
    for (int i = 0; i < cache.count[c]; ++i) allocator().deallocate(cache.blocks[c][i], local_class_size(c));
    cache.count[c] = 0;
  }
}

// Hands the thread's blocks to the shared cache when the thread ends.
struct LocalCacheOwner {
  ~LocalCacheOwner() {
    t_cache.state = 2;
    flush(t_cache);
  }
};

// The calling thread's cache, or nullptr once the thread is ending.
LocalCache* local_cache() {
  LocalCache* cache = &t_cache;
  if (cache->state == 1) return cache;
  if (cache->state == 2) return nullptr;
  thread_local LocalCacheOwner owner;  // constructed once per thread, destroyed at its exit
  (void)owner;
  cache->state = 1;
  return cache;
}

void* allocate(size_t nbytes) {
  const size_t n = round_size(nbytes == 0 ? 1 : nbytes);
  if (n <= kLocalMaxBytes) {
    if (LocalCache* cache = local_cache()) {
      const int c = local_class(n);
      if (cache->count[c] > 0) return cache->blocks[c][--cache->count[c]];
    }
  }
  return allocator().allocate(n);
}

void deallocate(void* p, size_t nbytes) {
  const size_t n = round_size(nbytes == 0 ? 1 : nbytes);
  if (n <= kLocalMaxBytes) {
    if (LocalCache* cache = local_cache()) {
      const int c = local_class(n);
      if (cache->count[c] < kLocalDepth) {
        cache->blocks[c][cache->count[c]++] = p;
        return;
      }
    }
  }
  allocator().deallocate(p, n);
}
#endif

}  // namespace

#ifdef DG_NO_CACHING_ALLOCATOR
// Sanitizer builds: every tensor gets its own system allocation, so AddressSanitizer
// sees each use after free and LeakSanitizer each leak.
Storage::Storage(size_t nbytes) : nbytes_(nbytes) {
  if (nbytes > max_allocation()) refuse(nbytes);
  data_ = system_alloc(round_size(nbytes == 0 ? 1 : nbytes));
  if (!data_) throw Error("out of memory: could not allocate " + std::to_string(nbytes) + " bytes");
}
Storage::~Storage() { std::free(data_); }
#else
Storage::Storage(size_t nbytes) : data_(allocate(nbytes)), nbytes_(nbytes) {}
Storage::~Storage() { deallocate(data_, nbytes_); }
#endif

void empty_cache() {
#ifndef DG_NO_CACHING_ALLOCATOR
  if (LocalCache* cache = local_cache()) flush(*cache);
#endif
  allocator().release_all();
}

}  // namespace dg
