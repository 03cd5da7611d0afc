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

double Generator::next_uniform() {
  // 53 random bits → a double in [0, 1).
  return static_cast<double>(state_->engine() >> 11) * (1.0 / 9007199254740992.0);
}

double Generator::next_normal() {
  if (state_->has_spare) {
    state_->has_spare = false;
    return state_->spare;
  }
  double u1 = next_uniform(), u2 = next_uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  double r = std::sqrt(-2.0 * std::log(u1));
  state_->spare = r * std::sin(2.0 * M_PI * u2);
  state_->has_spare = true;
  return r * std::cos(2.0 * M_PI * u2);
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
