// Datasets, the seeded split, transforms and the DataLoader (order, resume,
// background thread, errors).
#include <atomic>
#include <chrono>
#include <numeric>
#include <set>

#include "data/data_test_util.hpp"

using namespace datatest;
using dg::Tensor;
using dg::data::Batch;
using dg::data::DataLoader;
using dg::data::DataLoaderOptions;
using dg::data::Dataset;

namespace {

// n examples of shape [c, h, w]; example i holds values 1000 i + k; label i % classes.
Dataset make_dataset(int64_t n, int64_t classes = 3, int64_t c = 1, int64_t h = 2, int64_t w = 3) {
  Dataset ds;
  ds.features = dg::empty({n, c, h, w});
  ds.targets = dg::empty({n}, dg::kInt64);
  const int64_t per = c * h * w;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < per; ++k) ds.features.data_ptr<float>()[i * per + k] = static_cast<float>(1000 * i + k);
    ds.targets.data_ptr<int64_t>()[i] = i % classes;
  }
  ds.num_classes = classes;
  return ds;
}

// The example index a batch row came from (features encode it).
std::vector<int64_t> rows_of(const Batch& b) {
  std::vector<int64_t> out;
  const int64_t per = b.data.numel() / std::max<int64_t>(b.data.size(0), 1);
  for (int64_t i = 0; i < b.data.size(0); ++i)
    out.push_back(static_cast<int64_t>(b.data.data_ptr<float>()[i * per] / 1000.0f));
  return out;
}

std::vector<Batch> whole_epoch(DataLoader& l, int64_t epoch) {
  std::vector<Batch> out;
  for (Batch& b : l.epoch(epoch)) out.push_back(b);
  return out;
}

class Throwing : public dg::data::Transform {
 public:
  explicit Throwing(int64_t at) : at_(at) {}
  void apply(Tensor& x, dg::data::Rng&) const override {
    if (x.data_ptr<float>()[0] / 1000.0f >= static_cast<float>(at_)) throw dg::Error("transform failed on purpose");
  }
  std::string name() const override { return "Throwing"; }

 private:
  int64_t at_;
};

}  // namespace

TEST(Dataset, SubsetHeadAndStatistics) {
  Dataset ds = make_dataset(5);
  Dataset s = ds.subset({4, 0, 4});
  EXPECT_EQ(s.size(), 3);
  EXPECT_EQ(int_values(s.targets), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(s.features[0].sum().item<double>(), 6 * 4000.0 + 15);
  EXPECT_EQ(ds.head(2).size(), 2);
  EXPECT_THROW(ds.subset({5}), dg::IndexError);
  EXPECT_EQ(ds.example_shape(), (std::vector<int64_t>{1, 2, 3}));

  Dataset two;
  two.features = dg::tensor({0.0, 10, 2, 20, 4, 30}).to(dg::kFloat32).reshape({3, 2});  // two columns
  two.targets = dg::zeros({3}, dg::kInt64);
  auto [mean, sd] = dg::data::channel_mean_std(two);
  EXPECT_DOUBLE_EQ(mean[0], 2.0);
  EXPECT_DOUBLE_EQ(mean[1], 20.0);
  EXPECT_NEAR(sd[0], std::sqrt(8.0 / 3), 1e-12);
  EXPECT_NEAR(sd[1], std::sqrt(200.0 / 3), 1e-12);
}

TEST(Dataset, SeededStratifiedSplit) {
  Dataset ds = make_dataset(300, 3);
  auto [train, val] = dg::data::train_val_split(ds, 0.1, 42);
  EXPECT_EQ(train.size(), 270);
  EXPECT_EQ(val.size(), 30);
  std::vector<int64_t> per_class(3);
  for (int64_t y : int_values(val.targets)) ++per_class[static_cast<size_t>(y)];
  EXPECT_EQ(per_class, (std::vector<int64_t>{10, 10, 10})) << "stratified: 10% of each class";
  // Disjoint and complete: every example in exactly one part.
  std::set<int64_t> seen;
  for (const Dataset* d : {&train, &val})
    for (int64_t i = 0; i < d->size(); ++i) seen.insert(static_cast<int64_t>(d->features[i][0][0][0].item<float>() / 1000));
  EXPECT_EQ(seen.size(), 300u);
  // Same seed, same split; another seed, another split.
  EXPECT_TRUE(dg::data::train_val_split(ds, 0.1, 42).second.features.equal(val.features));
  EXPECT_FALSE(dg::data::train_val_split(ds, 0.1, 43).second.features.equal(val.features));
  auto [t2, v2] = dg::data::train_val_split(ds, 0.25, 1, /*stratified=*/false);
  EXPECT_EQ(v2.size(), 75);
  EXPECT_THROW(dg::data::train_val_split(ds, 1.0, 1), dg::Error);
}

TEST(DataLoader, SequentialBatchesAndDropLast) {
  Dataset ds = make_dataset(10);
  DataLoader l(ds, DataLoaderOptions().with_batch_size(4).with_shuffle(false));
  EXPECT_EQ(l.num_batches(), 3);
  auto batches = whole_epoch(l, 0);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(rows_of(batches[0]), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(rows_of(batches[2]), (std::vector<int64_t>{8, 9}));
  EXPECT_EQ(batches[2].data.sizes().vec(), (std::vector<int64_t>{2, 1, 2, 3}));
  EXPECT_EQ(int_values(batches[2].target), (std::vector<int64_t>{2, 0}));
  EXPECT_TRUE(batches[1].data[0].equal(ds.features[4]));
  DataLoader d(ds, DataLoaderOptions().with_batch_size(4).with_drop_last(true));
  EXPECT_EQ(d.num_batches(), 2);
  EXPECT_EQ(whole_epoch(d, 0).size(), 2u);
}

TEST(DataLoader, ShuffleIsAPermutationFixedBySeedAndEpoch) {
  Dataset ds = make_dataset(50);
  DataLoader a(ds, DataLoaderOptions().with_batch_size(7).with_seed(9));
  DataLoader b(ds, DataLoaderOptions().with_batch_size(7).with_seed(9).with_prefetch(0));
  DataLoader c(ds, DataLoaderOptions().with_batch_size(7).with_seed(10));
  std::vector<int64_t> order;
  for (const Batch& x : whole_epoch(a, 3))
    for (int64_t r : rows_of(x)) order.push_back(r);
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> all(50);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(sorted, all) << "each example exactly once per epoch";
  EXPECT_NE(order, all);
  EXPECT_EQ(order, a.epoch_order(3));
  EXPECT_EQ(b.epoch_order(3), order) << "same seed and epoch, same order";
  EXPECT_NE(a.epoch_order(4), order) << "another epoch, another order";
  EXPECT_NE(c.epoch_order(3), order) << "another seed, another order";
  // The documented contract (resume depends on it): Fisher–Yates driven by Rng(derive_seed(seed, epoch)).
  dg::data::Rng rng(dg::data::derive_seed(9, 3));
  std::vector<int64_t> fy = all;
  for (size_t i = fy.size(); i > 1; --i) std::swap(fy[i - 1], fy[dg::data::uniform_below(rng, i)]);
  EXPECT_EQ(fy, order);
  EXPECT_NE(dg::data::derive_seed(0, 1), dg::data::derive_seed(1, 0));
}

TEST(DataLoader, ResumeMidEpochGivesTheSameBatchesWithAugmentation) {
  Dataset ds = make_dataset(40, 3, 2, 6, 6);
  auto opts = DataLoaderOptions()
                  .with_batch_size(6)
                  .with_seed(77)
                  .with_transform(dg::data::RandomCrop(2))
                  .with_transform(dg::data::RandomHorizontalFlip(0.5))
                  .with_transform(dg::data::Normalize({1.0, 2.0}, {3.0, 4.0}));
  DataLoader full(ds, opts);
  whole_epoch(full, 0);
  auto reference = whole_epoch(full, 1);
  // A second loader started at (epoch 1, batch 4), as after loading a checkpoint.
  DataLoader resumed(ds, opts);
  resumed.start(1, 4);
  EXPECT_EQ(resumed.position().epoch, 1);
  EXPECT_EQ(resumed.position().batch, 4);
  for (size_t i = 4; i < reference.size(); ++i) {
    auto b = resumed.next();
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->index, static_cast<int64_t>(i));
    EXPECT_TRUE(b->data.equal(reference[i].data)) << "batch " << i;
    EXPECT_TRUE(b->target.equal(reference[i].target));
  }
  EXPECT_FALSE(resumed.next().has_value());
  EXPECT_EQ(resumed.position().batch, resumed.num_batches());
  // Background thread and calling thread produce the same bytes.
  DataLoader sync(ds, opts.with_prefetch(0));
  auto again = whole_epoch(sync, 1);
  for (size_t i = 0; i < reference.size(); ++i) EXPECT_TRUE(again[i].data.equal(reference[i].data));
  EXPECT_TRUE(sync.make_batch(1, 2).data.equal(reference[2].data));
}

TEST(DataLoader, PositionAdvancesWithEachBatch) {
  DataLoader l(make_dataset(10), DataLoaderOptions().with_batch_size(3));
  l.start(2);
  l.next();
  l.next();
  EXPECT_EQ(l.position().epoch, 2);
  EXPECT_EQ(l.position().batch, 2);
  EXPECT_THROW(l.start(0, 5), dg::IndexError);
  l.start(0, 4);  // at the end: nothing left
  EXPECT_FALSE(l.next().has_value());
}

TEST(DataLoader, WorkerErrorsReachTheConsumer) {
  Dataset ds = make_dataset(20);
  DataLoader l(ds, DataLoaderOptions().with_batch_size(2).with_shuffle(false).with_prefetch(3).with_transform(
                       std::make_shared<Throwing>(8)));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(l.next().has_value());
  try {
    l.next();
    FAIL() << "expected the transform's error";
  } catch (const dg::Error& e) {
    EXPECT_STREQ(e.what(), "transform failed on purpose");
  }
  EXPECT_EQ(l.position().batch, 4) << "the failed batch was not consumed";
  EXPECT_THROW(l.next(), dg::Error) << "the loader stays failed until restarted";
  l.start(0, 0);
  EXPECT_TRUE(l.next().has_value());
}

TEST(DataLoader, StopsCleanlyWithAFullQueueOrMidEpoch) {
  Dataset ds = make_dataset(200);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) {
    DataLoader l(ds, DataLoaderOptions().with_batch_size(4).with_prefetch(2));
    if (i % 2) l.next();
    if (i % 3 == 0) l.start(1, 10);  // restart while the worker is blocked on the full queue
  }  // destroyed with the worker waiting: must join promptly
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
}

TEST(Transforms, NormalizeFlipAndCrop) {
  Tensor x = dg::arange(2 * 2 * 3 * 4, dg::kFloat32).reshape({2, 2, 3, 4}).contiguous();
  dg::data::Rng rng(1);
  Tensor n = x.clone();
  dg::data::Normalize({1.0, 2.0}, {2.0, 4.0})->apply(n, rng);
  EXPECT_FLOAT_EQ(n[0][0][0][3].item<float>(), (3.0f - 1) / 2);
  EXPECT_FLOAT_EQ(n[1][1][2][1].item<float>(), (x[1][1][2][1].item<float>() - 2) / 4);
  EXPECT_THROW(dg::data::Normalize({1, 2, 3}, {1, 1, 1})->apply(n, rng), dg::ShapeError);
  EXPECT_THROW(dg::data::Normalize({1}, {0}), dg::Error);

  Tensor f = x.clone();
  dg::data::RandomHorizontalFlip(1.0)->apply(f, rng);
  EXPECT_TRUE(f.equal(x.index_select(3, dg::tensor(std::vector<int64_t>{3, 2, 1, 0}))));
  Tensor same = x.clone();
  dg::data::RandomHorizontalFlip(0.0)->apply(same, rng);
  EXPECT_TRUE(same.equal(x));

  // Crop with padding 1: each image is its original shifted by (dy, dx) in [-1, 1], zeros shifted in.
  Tensor big = dg::arange(64 * 3 * 5 * 5, dg::kFloat32).reshape({64, 3, 5, 5}) + 1.0;
  Tensor c = big.clone();
  dg::data::RandomCrop(1)->apply(c, rng);
  std::set<std::pair<int, int>> shifts;
  for (int64_t i = 0; i < 64; ++i) {
    bool found = false;
    for (int dy = -1; dy <= 1 && !found; ++dy)
      for (int dx = -1; dx <= 1 && !found; ++dx) {
        bool ok = true;
        for (int64_t ch = 0; ch < 3 && ok; ++ch)
          for (int64_t y = 0; y < 5 && ok; ++y)
            for (int64_t xx = 0; xx < 5 && ok; ++xx) {
              const int64_t sy = y + dy, sx = xx + dx;
              const float want = (sy < 0 || sy >= 5 || sx < 0 || sx >= 5) ? 0.0f : big[i][ch][sy][sx].item<float>();
              ok = c[i][ch][y][xx].item<float>() == want;
            }
        if (ok) found = true, shifts.insert({dy, dx});
      }
    EXPECT_TRUE(found) << "image " << i << " is not a padded shift of its original";
  }
  EXPECT_GE(shifts.size(), 6u) << "64 images should see most of the 9 shifts";
}

TEST(DataLoader, BatchAssemblyThroughput) {
  // Fashion-MNIST-sized rows: how fast the background thread can feed training.
  Dataset ds;
  ds.features = dg::rand({20000, 1, 28, 28});
  ds.targets = dg::zeros({20000}, dg::kInt64);
  DataLoader l(ds, DataLoaderOptions().with_batch_size(128).with_prefetch(0).with_seed(1));
  auto t0 = std::chrono::steady_clock::now();
  int64_t n = 0;
  for (Batch& b : l.epoch(0)) n += b.data.size(0);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(n, 20000);
  std::cout << "[ info ] shuffled batch assembly: " << static_cast<int64_t>(n / s) << " examples/s\n";
}
