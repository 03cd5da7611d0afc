// The seeded generator behind every random factory, init and dropout mask.
#include <omp.h>

#include <cmath>
#include <sstream>

#include "dimgrad/tensor.hpp"
#include "tensor/mt19937_64.hpp"

namespace dg {

using Engine = detail::Mt19937_64;  // std::mt19937_64's numbers and state text, drawn in blocks

struct Generator::State {
  Engine engine;
  bool has_spare = false;  // Box–Muller makes normals in pairs
  double spare = 0;
};

Generator::Generator(uint64_t seed) : state_(std::make_shared<State>()), seed_(seed) { manual_seed(seed); }

void Generator::manual_seed(uint64_t seed) {
  seed_ = seed;
  state_->engine.seed_with(seed);
  state_->has_spare = false;
}

uint64_t Generator::next_u64() { return state_->engine(); }

namespace {
// 53 random bits → a double in [0, 1). (Below 2^53 the signed conversion is
// exact and, unlike the unsigned one, one instruction without AVX-512.)
inline double uniform_bits(uint64_t z) {
  return static_cast<double>(static_cast<int64_t>(z >> 11)) * (1.0 / 9007199254740992.0);
}
inline double uniform_of(Engine& engine) { return uniform_bits(engine()); }

// Box–Muller: two uniforms → two independent standard normals (cos, sin).
inline void box_muller_of(double u1, double u2, double& first, double& second) {
  if (u1 < 1e-300) u1 = 1e-300;
  const double r = std::sqrt(-2.0 * std::log(u1));
  first = r * std::cos(2.0 * M_PI * u2);
  second = r * std::sin(2.0 * M_PI * u2);
}
inline void box_muller(Engine& engine, double& first, double& second) {
  const double u1 = uniform_of(engine);
  box_muller_of(u1, uniform_of(engine), first, second);
}
}  // namespace

double Generator::next_uniform() { return uniform_of(state_->engine); }

double Generator::next_normal() {
  if (state_->has_spare) {
    state_->has_spare = false;
    return state_->spare;
  }
  double first;
  box_muller(state_->engine, first, state_->spare);
  state_->has_spare = true;
  return first;
}

void Generator::next_uniforms(double* out, int64_t n) {
  state_->engine.fill(n, [out](int64_t i, uint64_t z) { out[i] = uniform_bits(z); });
}

void Generator::next_normals(double* out, int64_t n) {
  int64_t i = 0;
  if (n > 0 && state_->has_spare) {
    out[i++] = state_->spare;
    state_->has_spare = false;
  }
  // The pairs' uniforms drawn in one block (the same order as pair by pair),
  // then each pair transformed in place — on all threads for a long block: the
  // transform (glibc's log and sincos, ~35 ns a pair) costs 4× the draws, and each
  // pair's result does not depend on which thread computes it.
  const int64_t pairs = (n - i) / 2;
  double* z = out + i;
  next_uniforms(z, 2 * pairs);
  auto transform = [z](int64_t k) { box_muller_of(z[2 * k], z[2 * k + 1], z[2 * k], z[2 * k + 1]); };
  if (pairs >= 4096 && omp_get_max_threads() > 1 && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < pairs; ++k) transform(k);
  } else {
    for (int64_t k = 0; k < pairs; ++k) transform(k);
  }
  i += 2 * pairs;
  if (i < n) out[i] = next_normal();  // the pair's second stays as the spare
}

std::string Generator::get_state() const {
  std::ostringstream s;
  s << seed_ << " " << state_->has_spare << " ";
  s.precision(17);
  s << state_->spare << " " << state_->engine;
  return s.str();
}

void Generator::set_state(const std::string& text) {
  std::istringstream s(text);
  uint64_t seed;
  bool has_spare;
  double spare;
  Engine engine;
  if (!(s >> seed >> has_spare >> spare >> engine)) throw Error("Generator::set_state: malformed generator state");
  seed_ = seed;
  state_->has_spare = has_spare;
  state_->spare = spare;
  state_->engine = engine;
}

Generator& default_generator() {
  static Generator g;
  return g;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace dg
