// Signal handlers may run while dimgrad computes (a Ctrl-C handler that sets a
// flag, a profiler's timer): oneDNN's JIT kernels run on a heap-allocated stack,
// and a handler's frame pushed there corrupted the heap (src/kernels/signal_guard.hpp).
// Here a second thread sends SIGUSR1 to the computing thread every 20 µs while it
// runs the two-layer net's products and a small convolution, forward and backward,
// on one and on two threads: every result must stay exact, the process alive, and
// the signals must still be handled (held during a call, delivered after it).
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "dimgrad/dimgrad.hpp"

namespace {

std::atomic<long> g_handled{0};
extern "C" void count_signal(int) { g_handled.fetch_add(1, std::memory_order_relaxed); }

// Sends SIGUSR1 to the constructing thread every 20 µs until destroyed.
class SignalBarrage {
 public:
  SignalBarrage() : target_(pthread_self()) {
    struct sigaction sa {};
    sa.sa_handler = count_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, &old_);
    sender_ = std::thread([this] {
      while (!stop_.load()) {
        pthread_kill(target_, SIGUSR1);
        std::this_thread::sleep_for(std::chrono::microseconds(20));
      }
    });
  }
  ~SignalBarrage() {
    stop_ = true;
    sender_.join();
    sigaction(SIGUSR1, &old_, nullptr);
  }

 private:
  pthread_t target_;
  struct sigaction old_ {};
  std::atomic<bool> stop_{false};
  std::thread sender_;
};

void run_under_signals(int threads) {
  const int saved = dg::get_num_threads();
  dg::set_num_threads(threads);
  dg::manual_seed(1);
  // Two-layer net, batch 64: X[64×784], W1[100×784], W2[10×100] and the gradients' products.
  auto x = dg::randn({64, 784}), w1 = dg::randn({100, 784}), dh = dg::randn({64, 100});
  auto h = dg::randn({64, 100}), w2 = dg::randn({10, 100}), dz = dg::randn({64, 10});
  auto img = dg::randn({8, 16, 14, 14}), k = dg::randn({32, 16, 3, 3}, dg::TensorOptions().requires_grad(true));
  auto expected = [&] {
    auto y = dg::conv2d(img, k, dg::Tensor(), 1, 1);
    auto gk = dg::autograd::grad(dg::TensorList{y.sum()}, dg::TensorList{k})[0];
    return std::vector<dg::Tensor>{x.mm(w1.t()), dh.t().mm(x), dh.mm(w1), h.mm(w2.t()), dz.t().mm(h), dz.mm(w2),
                                   y.detach(), gk};
  };
  const auto reference = expected();
  const long before = g_handled.load();
  int wrong = 0;
  {
    SignalBarrage barrage;
    for (int i = 0; i < 100; ++i) {
      auto got = expected();
      for (size_t j = 0; j < got.size(); ++j) wrong += !got[j].equal(reference[j]);
    }
  }
  dg::set_num_threads(saved);
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(g_handled.load() - before, 100) << "the signals were not delivered";
}

TEST(KernelSignals, HandlersDuringProductsOneThread) { run_under_signals(1); }
TEST(KernelSignals, HandlersDuringProductsTwoThreads) { run_under_signals(2); }

}  // namespace
