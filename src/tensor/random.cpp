// The seeded generator behind every random factory, init and dropout mask.
#include <cmath>
#include <random>
#include <sstream>

#include "dimgrad/tensor.hpp"

namespace dg {

struct Generator::State {
  std::mt19937_64 engine;
  bool has_spare = false;  // Box–Muller makes normals in pairs
  double spare = 0;
};

Generator::Generator(uint64_t seed) : state_(std::make_shared<State>()), seed_(seed) { manual_seed(seed); }

void Generator::manual_seed(uint64_t seed) {
  seed_ = seed;
  state_->engine.seed(seed);
  state_->has_spare = false;
}

uint64_t Generator::next_u64() { return state_->engine(); }

namespace {
// 53 random bits → a double in [0, 1).
inline double uniform_of(std::mt19937_64& engine) { return static_cast<double>(engine() >> 11) * (1.0 / 9007199254740992.0); }

// Box–Muller: two uniforms → two independent standard normals (cos, sin).
inline void box_muller(std::mt19937_64& engine, double& first, double& second) {
  double u1 = uniform_of(engine);
  const double u2 = uniform_of(engine);
  if (u1 < 1e-300) u1 = 1e-300;
  const double r = std::sqrt(-2.0 * std::log(u1));
  first = r * std::cos(2.0 * M_PI * u2);
  second = r * std::sin(2.0 * M_PI * u2);
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
  std::mt19937_64& engine = state_->engine;
  for (int64_t i = 0; i < n; ++i) out[i] = uniform_of(engine);
}

void Generator::next_normals(double* out, int64_t n) {
  int64_t i = 0;
  if (n > 0 && state_->has_spare) {
    out[i++] = state_->spare;
    state_->has_spare = false;
  }
  for (; i + 2 <= n; i += 2) box_muller(state_->engine, out[i], out[i + 1]);
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
  std::mt19937_64 engine;
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
