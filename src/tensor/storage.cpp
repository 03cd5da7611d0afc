// Storage and the caching allocator.
//
// Training repeats the same allocation sizes every step, so freed blocks are kept
// in per-size free lists and handed out again: after the first step a training
// loop asks the system for no new memory. The cache holds at most kMaxCached
// bytes; beyond that blocks go back to the system.
#include <cstdlib>
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
    void* p = std::aligned_alloc(kAlignment, n);
    if (!p) {
      release_all();
      p = std::aligned_alloc(kAlignment, n);
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

}  // namespace

#ifdef DG_NO_CACHING_ALLOCATOR
// Sanitizer builds: every tensor gets its own system allocation, so AddressSanitizer
// sees each use after free and LeakSanitizer each leak.
Storage::Storage(size_t nbytes) : nbytes_(nbytes) {
  if (nbytes > max_allocation()) refuse(nbytes);
  data_ = std::aligned_alloc(kAlignment, round_size(nbytes == 0 ? 1 : nbytes));
  if (!data_) throw Error("out of memory: could not allocate " + std::to_string(nbytes) + " bytes");
}
Storage::~Storage() { std::free(data_); }
#else
Storage::Storage(size_t nbytes) : data_(allocator().allocate(nbytes)), nbytes_(nbytes) {}
Storage::~Storage() { allocator().deallocate(data_, nbytes_); }
#endif

void empty_cache() { allocator().release_all(); }

}  // namespace dg
