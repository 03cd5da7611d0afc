// dimgrad CLI — training progress: a bar redrawn in place on a terminal, or one
// plain line per epoch when stdout is a file or a pipe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace dgcli {

class Progress {
 public:
  // interactive: draw the bar (normally stdout_is_tty()).
  explicit Progress(bool interactive) : interactive_(interactive) {}

  void begin_epoch(int64_t epoch, int64_t epochs, int64_t batches_total, int64_t batch_start);
  // After each step: batches done this epoch, running loss and accuracy, samples this session.
  void update(int64_t batches_done, double running_loss, double running_acc, int64_t samples);
  // Clears the bar and prints the epoch's summary line (both modes).
  void end_epoch(const std::string& summary);
  // A message on its own line (clears the bar first).
  void message(const std::string& text);
  bool interactive() const { return interactive_; }

 private:
  void draw(bool force);
  using clock = std::chrono::steady_clock;
  bool interactive_;
  int64_t epoch_ = 0, epochs_ = 0, total_ = 0, start_batch_ = 0, done_ = 0, samples_ = 0;
  double loss_ = 0, acc_ = 0;
  clock::time_point t0_, last_draw_;
  bool drawn_ = false;
};

}  // namespace dgcli
