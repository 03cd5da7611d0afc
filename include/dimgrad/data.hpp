// dimgrad — data: IDX (MNIST, Fashion-MNIST), CIFAR-10 and CSV readers, datasets,
// train/validation split, transforms and a DataLoader that prepares batches on a
// background thread.
//
// Readers treat files as untrusted: magic numbers, dimensions and exact lengths
// are checked, and each problem is a dg::IOError naming the file and what is
// wrong. Every parser also reads from memory (parse_*), which is what the fuzz
// targets call.
//
// Randomness is derived, never carried: the order of epoch e is a function of
// (seed, e) and the augmentation of batch b of epoch e a function of (seed, e, b).
// So a loader started at (epoch, batch) produces exactly the batches an
// uninterrupted run would have produced there — training resumes bit for bit —
// and the background thread cannot change the result.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "dimgrad/tensor.hpp"

namespace dg::data {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
inline constexpr const char* kMnistDir = "/usr/share/datasets/mnist";

// ------------------------------------------------------------------ Dataset
// Examples as rows of one features tensor, with one int64 class label each.
struct Dataset {
  // [N, ...], float32 (images: [N, C, H, W] scaled to [0, 1]); or, for images
  // loaded with kUInt8, the raw bytes 0..255 (4× less memory; DataLoader and
  // to_unit_float turn batches of them into the same float32 values).
  Tensor features;
  Tensor targets;   // [N] int64 in [0, num_classes)
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  // empty, or num_classes names
  std::string name;

  int64_t size() const { return features.defined() ? features.size(0) : 0; }
  // The shape of one example: features.sizes() without the first dimension.
  std::vector<int64_t> example_shape() const;
  // A new dataset holding copies of the given rows, in the given order.
  Dataset subset(const std::vector<int64_t>& indices) const;
  // The first n examples (all when n >= size()).
  Dataset head(int64_t n) const;
};

// Per-channel mean and (population) standard deviation of features [N, C, ...]
// (for 2-d features [N, F]: per feature column), for Normalize.
std::pair<std::vector<double>, std::vector<double>> channel_mean_std(const Dataset& ds);

// Train/validation split: a seeded random val_fraction of the examples go to
// validation. Stratified: each class is split in the same proportion. Both
// parts keep the original order of their examples.
std::pair<Dataset, Dataset> train_val_split(const Dataset& ds, double val_fraction, uint64_t seed,
                                            bool stratified = true);

// ---------------------------------------------------------------------- IDX
// An IDX array (http://yann.lecun.com/exdb/mnist/): big-endian header
// 0x00 0x00 <type> <ndims>, ndims big-endian uint32 sizes, then the elements.
struct IdxArray {
  uint32_t magic = 0;  // e.g. 0x00000803: unsigned bytes, 3 dimensions
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // unsigned bytes, row-major
};
// Raw bytes or a gzip stream (detected by its magic bytes). The decompressed
// size must match the header exactly; max_bytes bounds what is decompressed.
IdxArray parse_idx(const uint8_t* data, size_t size, const std::string& source_name = "<memory>",
                   uint64_t max_bytes = uint64_t(1) << 34);
IdxArray read_idx(const std::string& path);
// Images (magic 0x00000803) → float32 [N, 1, H, W], scaled to [0, 1] (or raw 0..255).
Tensor idx_images(const IdxArray& a, const std::string& source_name, bool scale = true);
// The same images as uint8 [N, 1, H, W], the bytes of the file.
Tensor idx_image_bytes(const IdxArray& a, const std::string& source_name);
// uint8 pixels → float32 v / 255 in [0, 1] (exactly the values the float32
// loaders give, and what PyTorch's x.to(float) / 255 gives). A float32 tensor
// is returned as it is.
Tensor to_unit_float(const Tensor& pixels);
// Labels (magic 0x00000801) → int64 [N]; each must be < num_classes (when > 0).
Tensor idx_labels(const IdxArray& a, const std::string& source_name, int64_t num_classes = 10);
Tensor read_idx_images(const std::string& path, bool scale = true);
Tensor read_idx_labels(const std::string& path, int64_t num_classes = 10);
// Images and labels files together; their counts must agree. pixels: kFloat
// (features scaled to [0, 1]) or kUInt8 (the raw bytes: 47 MB instead of 188 MB
// for the 60,000 Fashion-MNIST training images).
Dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, int64_t num_classes = 10,
                         const std::string& name = "idx", ScalarType pixels = kFloat);
// train-images-idx3-ubyte[.gz] / t10k-... in dir (also the train-images.idx3-ubyte spelling).
Dataset load_fashion_mnist(const std::string& dir = kFashionMnistDir, bool train = true, ScalarType pixels = kFloat);
Dataset load_mnist(const std::string& dir = kMnistDir, bool train = true, ScalarType pixels = kFloat);

// ----------------------------------------------------------------- CIFAR-10
// Binary version: records of 1 label byte + 3072 pixel bytes (1024 R, G, B).
Dataset parse_cifar10(const uint8_t* data, size_t size, const std::string& source_name = "<memory>",
                      bool scale = true);
Dataset read_cifar10_file(const std::string& path, bool scale = true);
// data_batch_1..5.bin (train) or test_batch.bin from dir or dir/cifar-10-batches-bin.
// pixels: kFloat (scaled to [0, 1]) or kUInt8 (the raw bytes, a quarter of the memory).
Dataset load_cifar10(const std::string& dir, bool train = true, ScalarType pixels = kFloat);

// ---------------------------------------------------------------------- CSV
struct CsvOptions {
  enum class Header { Auto, Yes, No };
  Header header = Header::Auto;     // Auto: a first row with a non-numeric feature field is a header
  std::string label_name;           // label column by header name, or
  int64_t label_index = -1;         // by index (negative counts from the end); used when label_name is empty
  char delimiter = ',';
  // Class names to number text labels by (a test file read with its training
  // file's names); empty: the sorted distinct labels of this file.
  std::vector<std::string> class_names;
};
// Numeric features → float32 [N, F]; labels: non-negative integers as they are,
// anything else as class names (sorted, numbered from 0). Errors name line and column.
Dataset parse_csv(std::string_view text, const CsvOptions& opts = {}, const std::string& source_name = "<memory>");
Dataset load_csv(const std::string& path, const CsvOptions& opts = {});

// ----------------------------------------------------------------- registry
// "fashion-mnist", "mnist", "cifar10", or "csv:TRAIN[,TEST]". data_dir replaces
// the default folder (Fashion-MNIST: /usr/share/datasets/fashion-mnist, MNIST:
// /usr/share/datasets/mnist, CIFAR-10: ./data/cifar-10-batches-bin).
// pixels: kUInt8 keeps the images of the three image sets as bytes (see
// to_unit_float); csv features are float32 either way.
Dataset load_dataset(const std::string& spec, bool train, const std::string& data_dir = "",
                     ScalarType pixels = kFloat);
// Whether the spec names a separate test split (csv: only with a TEST path).
bool has_test_split(const std::string& spec);
std::vector<std::string> dataset_names();

// --------------------------------------------------------------- transforms
using Rng = std::mt19937_64;  // its output sequence is fixed by the standard

// A transform edits a float32 batch [B, C, H, W] (or [B, F]) in place.
class Transform {
 public:
  virtual ~Transform() = default;
  virtual void apply(Tensor& batch, Rng& rng) const = 0;
  virtual std::string name() const = 0;
};
using TransformPtr = std::shared_ptr<const Transform>;

// (x - mean[c]) / std[c] per channel (one value: every channel).
TransformPtr Normalize(std::vector<double> mean, std::vector<double> std);
// Pads each image by `padding` zeros on every side and crops a random H×W window.
TransformPtr RandomCrop(int64_t padding);
// Mirrors each image left-right with probability p.
TransformPtr RandomHorizontalFlip(double p = 0.5);

// ---------------------------------------------------------------- DataLoader
struct DataLoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;
  int prefetch = 2;  // batches prepared ahead on a background thread; 0: on the calling thread
  std::vector<TransformPtr> transforms;  // applied in order to each batch's features

  DataLoaderOptions& with_batch_size(int64_t b) { return batch_size = b, *this; }
  DataLoaderOptions& with_shuffle(bool s) { return shuffle = s, *this; }
  DataLoaderOptions& with_seed(uint64_t s) { return seed = s, *this; }
  DataLoaderOptions& with_drop_last(bool d) { return drop_last = d, *this; }
  DataLoaderOptions& with_prefetch(int p) { return prefetch = p, *this; }
  DataLoaderOptions& with_transform(TransformPtr t) { return transforms.push_back(std::move(t)), *this; }
};

struct Batch {
  Tensor data;    // [B, ...] features (transformed)
  Tensor target;  // [B] int64
  int64_t epoch = 0, index = 0;  // which batch of which epoch this is
};

class DataLoader {
 public:
  DataLoader(Dataset ds, DataLoaderOptions opts);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  const Dataset& dataset() const { return ds_; }
  const DataLoaderOptions& options() const { return opts_; }
  int64_t num_batches() const;  // per epoch

  // (Re)starts at batch `first_batch` of `epoch`; any batches prepared for the
  // previous position are dropped. Exact resume: start(saved.epoch, saved.batch).
  void start(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the current epoch, or std::nullopt at its end. A failure
  // while preparing it (e.g. in a transform) is rethrown here.
  std::optional<Batch> next();

  // The next batch next() returns: save this to resume mid-epoch.
  struct Position {
    int64_t epoch = 0, batch = 0;
  };
  Position position() const { return {epoch_, next_batch_}; }

  // The example order of an epoch (identity without shuffle).
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  // Assembles batch `index` of `epoch` on the calling thread (what the background thread does).
  Batch make_batch(int64_t epoch, int64_t index) const;

  // for (dg::data::Batch& b : loader.epoch(e)) ...: start(e) then next() until the end.
  class EpochRange;
  EpochRange epoch(int64_t e);

 private:
  void stop_worker();
  void worker_main(int64_t epoch, int64_t first, std::shared_ptr<const std::vector<int64_t>> order);
  Batch assemble(int64_t epoch, int64_t index, const std::vector<int64_t>& order) const;

  Dataset ds_;
  DataLoaderOptions opts_;
  int64_t epoch_ = 0, next_batch_ = 0;
  std::shared_ptr<const std::vector<int64_t>> order_;  // of epoch_

  struct Item {
    Batch batch;
    std::exception_ptr error;
  };
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stop_ = false;
  std::exception_ptr failed_;  // the worker's error, rethrown by every next() until start()
};

class DataLoader::EpochRange {
 public:
  class iterator {
   public:
    iterator(DataLoader* l, bool end) : loader_(l) {
      if (!end) advance();
    }
    Batch& operator*() { return *cur_; }
    iterator& operator++() { return advance(), *this; }
    bool operator!=(const iterator& o) const { return cur_.has_value() != o.cur_.has_value(); }

   private:
    void advance() { cur_ = loader_->next(); }
    DataLoader* loader_;
    std::optional<Batch> cur_;
  };
  explicit EpochRange(DataLoader* l) : loader_(l) {}
  iterator begin() { return iterator(loader_, false); }
  iterator end() { return iterator(loader_, true); }

 private:
  DataLoader* loader_;
};

// Seeds derived from (seed, a, b) by SplitMix64 mixing: independent streams per epoch and batch.
uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b = 0);
// A uniform integer in [0, n) without modulo bias.
uint64_t uniform_below(Rng& rng, uint64_t n);

}  // namespace dg::data
