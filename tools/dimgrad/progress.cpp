#include "progress.hpp"

#include <cstdio>

#include "common.hpp"

namespace dgcli {

void Progress::begin_epoch(int64_t epoch, int64_t epochs, int64_t batches_total, int64_t batch_start) {
  epoch_ = epoch, epochs_ = epochs, total_ = batches_total, start_batch_ = batch_start, done_ = batch_start;
  samples_ = 0, loss_ = 0, acc_ = 0;
  t0_ = clock::now();
  last_draw_ = clock::time_point{};
  if (interactive_) draw(true);
}

void Progress::update(int64_t batches_done, double running_loss, double running_acc, int64_t samples) {
  done_ = batches_done, loss_ = running_loss, acc_ = running_acc, samples_ = samples;
  if (interactive_) draw(done_ == total_);
}

void Progress::draw(bool force) {
  auto now = clock::now();
  // Redrawing costs a write(2); ten times a second is smooth enough.
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  double elapsed = std::chrono::duration<double>(now - t0_).count();
  double frac = total_ > 0 ? double(done_) / double(total_) : 1.0;
  int64_t this_session = done_ - start_batch_;
  double eta = this_session > 0 ? elapsed / double(this_session) * double(total_ - done_) : -1;
  constexpr int kWidth = 24;
  int filled = int(frac * kWidth + 0.5);
  std::string bar(filled, '#');
  bar += std::string(kWidth - filled, '.');
  char line[256];
  if (this_session <= 0)  // nothing measured yet
    std::snprintf(line, sizeof line, "\r\x1b[Kepoch %lld/%lld [%s] %3.0f%%", static_cast<long long>(epoch_),
                  static_cast<long long>(epochs_), bar.c_str(), frac * 100);
  else
    std::snprintf(line, sizeof line, "\r\x1b[Kepoch %lld/%lld [%s] %3.0f%%  ETA %s  loss %.4f  acc %.2f%%  %.0f samples/s",
                  static_cast<long long>(epoch_), static_cast<long long>(epochs_), bar.c_str(), frac * 100,
                  format_duration(eta).c_str(), loss_, acc_ * 100, elapsed > 0 ? double(samples_) / elapsed : 0.0);
  std::fputs(line, stdout);
  std::fflush(stdout);
  drawn_ = true;
}

void Progress::end_epoch(const std::string& summary) { message(summary); }

void Progress::message(const std::string& text) {
  if (interactive_ && drawn_) std::fputs("\r\x1b[K", stdout);
  drawn_ = false;
  std::fputs(text.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace dgcli
