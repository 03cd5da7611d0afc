// DataLoader: batches assembled by row copies, transformed, and prepared ahead
// on one background thread through a bounded queue.
//
// Determinism: the order of epoch e is a Fisher–Yates shuffle driven by
// Rng(derive_seed(seed, e)); batch b of epoch e is transformed with
// Rng(derive_seed(seed, e, b + 1)). Neither depends on which thread assembles
// the batch or on what came before, so start(e, b) resumes exactly.
//
// The worker never competes with the training thread's parallel kernels for
// the cores: it runs with OpenMP limited to itself (omp_set_num_threads(1) on
// that thread), so the few library loops it calls that may share work — the
// uint8 → float conversion, transforms — stay on the worker instead of
// starting a second team next to the training thread's.
#include <omp.h>

#include <cstring>
#include <numeric>

#include "dimgrad/data.hpp"
#include "tensor/internal.hpp"

namespace dg::data {

DataLoader::DataLoader(Dataset ds, DataLoaderOptions opts) : ds_(std::move(ds)), opts_(std::move(opts)) {
  if (!ds_.features.defined() || !ds_.targets.defined())
    throw Error("DataLoader: the data set has no features or no targets");
  if (ds_.features.dim() < 1 || ds_.targets.dim() != 1 || ds_.targets.size(0) != ds_.features.size(0))
    throw ShapeError("DataLoader: features " + shape_str(ds_.features.sizes()) + " and targets " +
                     shape_str(ds_.targets.sizes()) + " must have the same number of rows");
  if (ds_.targets.dtype() != kLong) throw DTypeError("DataLoader: targets must be int64");
  if (opts_.batch_size <= 0)
    throw Error("DataLoader: batch_size must be positive, got " + std::to_string(opts_.batch_size));
  if (opts_.prefetch < 0) throw Error("DataLoader: prefetch must be >= 0");
  // Rows are copied with memcpy from contiguous buffers.
  ds_.features = ds_.features.contiguous();
  ds_.targets = ds_.targets.contiguous();
  start(0, 0);
}

DataLoader::~DataLoader() { stop_worker(); }

int64_t DataLoader::num_batches() const {
  const int64_t n = ds_.size(), b = opts_.batch_size;
  return opts_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(ds_.size()));
  std::iota(order.begin(), order.end(), 0);
  if (opts_.shuffle) {
    Rng rng(derive_seed(opts_.seed, static_cast<uint64_t>(epoch)));
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[uniform_below(rng, i)]);
  }
  return order;
}

Batch DataLoader::assemble(int64_t epoch, int64_t index, const std::vector<int64_t>& order) const {
  const int64_t n = ds_.size(), begin = index * opts_.batch_size;
  const int64_t count = std::min(opts_.batch_size, n - begin);
  std::vector<int64_t> shape = ds_.features.sizes().vec();
  shape[0] = count;
  Batch b;
  b.epoch = epoch;
  b.index = index;
  b.data = dg::detail::make_tensor(shape, ds_.features.dtype());
  b.target = dg::detail::make_tensor({count}, kLong);
  const size_t row = n ? static_cast<size_t>(ds_.features.numel() / n) * ds_.features.element_size() : 0;
  const auto* src = static_cast<const uint8_t*>(ds_.features.raw_data());
  auto* dst = static_cast<uint8_t*>(b.data.raw_data());
  const int64_t* y = ds_.targets.data_ptr<int64_t>();
  int64_t* ty = b.target.data_ptr<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    const int64_t k = order[static_cast<size_t>(begin + i)];
    std::memcpy(dst + static_cast<size_t>(i) * row, src + static_cast<size_t>(k) * row, row);
    ty[i] = y[k];
  }
  // Images kept as bytes become float32 in [0, 1] one batch at a time.
  if (b.data.dtype() == kUInt8) b.data = to_unit_float(b.data);
  if (!opts_.transforms.empty()) {
    Rng rng(derive_seed(opts_.seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index) + 1));
    for (const auto& t : opts_.transforms) t->apply(b.data, rng);
  }
  return b;
}

Batch DataLoader::make_batch(int64_t epoch, int64_t index) const {
  if (index < 0 || index >= num_batches())
    throw IndexError("DataLoader::make_batch: batch " + std::to_string(index) + " out of range for " +
                     std::to_string(num_batches()) + " batches per epoch");
  return assemble(epoch, index, epoch_order(epoch));
}

void DataLoader::stop_worker() {
  if (worker_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  queue_.clear();
  stop_ = false;
}

void DataLoader::start(int64_t epoch, int64_t first_batch) {
  if (epoch < 0) throw IndexError("DataLoader::start: negative epoch " + std::to_string(epoch));
  if (first_batch < 0 || first_batch > num_batches())
    throw IndexError("DataLoader::start: batch " + std::to_string(first_batch) + " out of range for " +
                     std::to_string(num_batches()) + " batches per epoch");
  stop_worker();
  failed_ = nullptr;
  epoch_ = epoch;
  next_batch_ = first_batch;
  order_ = std::make_shared<const std::vector<int64_t>>(epoch_order(epoch));
  if (opts_.prefetch > 0 && first_batch < num_batches())
    worker_ = std::thread(&DataLoader::worker_main, this, epoch, first_batch, order_);
}

void DataLoader::worker_main(int64_t epoch, int64_t first, std::shared_ptr<const std::vector<int64_t>> order) {
  omp_set_num_threads(1);  // this thread's loops stay on it (see the top of the file)
  const int64_t total = num_batches();
  for (int64_t i = first; i < total; ++i) {
    Item item;
    try {
      item.batch = assemble(epoch, i, *order);
    } catch (...) {
      item.error = std::current_exception();
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return stop_ || static_cast<int>(queue_.size()) < opts_.prefetch; });
    if (stop_) return;
    const bool failed = item.error != nullptr;
    queue_.push_back(std::move(item));
    lock.unlock();
    cv_.notify_all();
    if (failed) return;  // the consumer rethrows; nothing after a failed batch is produced
  }
}

std::optional<Batch> DataLoader::next() {
  if (failed_) std::rethrow_exception(failed_);
  if (next_batch_ >= num_batches()) return std::nullopt;
  if (opts_.prefetch == 0) {
    Batch b = assemble(epoch_, next_batch_, *order_);
    ++next_batch_;
    return b;
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !queue_.empty(); });
  Item item = std::move(queue_.front());
  queue_.pop_front();
  lock.unlock();
  cv_.notify_all();
  if (item.error) {
    // The worker stopped here; the position stays at the failed batch until start() is called.
    failed_ = item.error;
    std::rethrow_exception(item.error);
  }
  ++next_batch_;
  return std::move(item.batch);
}

DataLoader::EpochRange DataLoader::epoch(int64_t e) {
  start(e, 0);
  return EpochRange(this);
}

}  // namespace dg::data
