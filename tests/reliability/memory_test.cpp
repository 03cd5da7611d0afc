// Flat memory: training the MLP preset for many steps must not grow the
// process. Autograd graphs are freed after backward, the caching allocator
// reuses the same blocks every step, the data loader's batches are recycled;
// any per-step leak (a graph kept alive by a hook, a cache keyed by something
// that changes each step, a saved tensor that is never released) shows up here.
//
// Measured: VmRSS (resident now) after step 100, when every buffer of a step
// exists and the caches are warm, and the peak resident size (VmHWM) from then
// to the end. The peak is reset at step 100 through /proc/self/clear_refs, so
// the loading of the data set before training does not hide a later growth.
// CI runs 1,500 steps; scripts/memory_soak.sh runs 10,000 (DG_SOAK_STEPS).
#include <cstdio>
#include <fstream>

#include "mlp_training.hpp"
#include "reliability_util.hpp"

using namespace reltest;

namespace {

// Resets VmHWM to the current RSS (Linux ≥ 4.0); false where /proc does not allow it.
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

constexpr int64_t kWarmupSteps = 100;
constexpr double kAllowedGrowthMiB = 4.0;  // "a few MiB": noise of malloc's small-object arenas, no steady leak

}  // namespace

TEST(FlatMemory, MlpTrainingKeepsPeakRssFlatAfterStep100) {
  if (kAddressSanitizer) GTEST_SKIP() << "AddressSanitizer's quarantine holds freed memory: RSS is not meaningful";
  const int64_t steps = env_int("DG_SOAK_STEPS", 1500);
  ASSERT_GT(steps, kWarmupSteps * 2);
  const dg::data::Dataset ds = mlp_training_data(12800);  // 100 batches of 128: an epoch boundary every 100 steps

  int64_t rss_at_warmup = 0, max_sampled_rss = 0;
  bool peak_reset = false;
  std::vector<std::pair<int64_t, int64_t>> samples;  // (step, VmRSS KiB)
  train_mlp(ds, steps, 7, [&](int64_t step) {
    if (step == kWarmupSteps) {
      peak_reset = reset_peak_rss();
      rss_at_warmup = proc_status_kib("VmRSS");
    }
    if (step >= kWarmupSteps && step % 10 == 0) max_sampled_rss = std::max(max_sampled_rss, proc_status_kib("VmRSS"));
    if (step % 500 == 0 || step == kWarmupSteps) samples.emplace_back(step, proc_status_kib("VmRSS"));
  });
  const int64_t rss_end = proc_status_kib("VmRSS");
  // Without a resettable peak, the largest RSS sampled every 10 steps stands in for it.
  const int64_t peak = peak_reset ? proc_status_kib("VmHWM") : max_sampled_rss;
  ASSERT_GT(rss_at_warmup, 0) << "cannot read VmRSS from /proc/self/status";

  auto mib = [](int64_t kib) { return static_cast<double>(kib) / 1024.0; };
  std::printf("[memory] %lld steps of the 784-512-512-10 MLP, batch 128, SGD momentum 0.9 (%s data)\n",
              static_cast<long long>(steps), ds.name.c_str());
  for (auto [s, r] : samples) std::printf("[memory]   step %6lld  VmRSS %8.1f MiB\n", static_cast<long long>(s), mib(r));
  std::printf("[memory] VmRSS at step %lld: %.1f MiB; at the end: %.1f MiB; peak since step %lld (%s): %.1f MiB; "
              "growth of the peak: %+.2f MiB\n",
              static_cast<long long>(kWarmupSteps), mib(rss_at_warmup), mib(rss_end),
              static_cast<long long>(kWarmupSteps), peak_reset ? "VmHWM after clear_refs" : "sampled VmRSS", mib(peak),
              mib(peak - rss_at_warmup));
  RecordProperty("rss_step100_kib", static_cast<int>(rss_at_warmup));
  RecordProperty("peak_after_step100_kib", static_cast<int>(peak));
  EXPECT_LE(mib(peak - rss_at_warmup), kAllowedGrowthMiB)
      << "peak RSS grew from " << mib(rss_at_warmup) << " MiB at step " << kWarmupSteps << " to " << mib(peak)
      << " MiB by step " << steps;
  EXPECT_LE(mib(rss_end - rss_at_warmup), kAllowedGrowthMiB);
}
