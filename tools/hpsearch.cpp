#include "tools/hpsearch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>

#include "tensor/error.h"

namespace hone::tools::hpsearch {

Dimension Dimension::log_uniform(std::string name, double low, double high) {
  HONE_CHECK(low > 0 && low < high, "search space: '", name, "' needs 0 < low < high for a log scale, got ", low, ":", high);
  return {.name = std::move(name), .kind = Kind::LogUniform, .low = low, .high = high};
}

Dimension Dimension::uniform(std::string name, double low, double high) {
  HONE_CHECK(low < high, "search space: '", name, "' needs low < high, got ", low, ":", high);
  return {.name = std::move(name), .kind = Kind::Uniform, .low = low, .high = high};
}

Dimension Dimension::choice(std::string name, std::vector<double> choices) {
  HONE_CHECK(!choices.empty(), "search space: '", name, "' needs at least one choice");
  return {.name = std::move(name), .kind = Kind::Choice, .choices = std::move(choices)};
}

Dimension Dimension::categorical(std::string name, std::vector<std::string> categories) {
  HONE_CHECK(!categories.empty(), "search space: '", name, "' needs at least one category");
  return {.name = std::move(name), .kind = Kind::Categorical, .categories = std::move(categories)};
}

size_t Dimension::index(double u) const {
  const size_t k = options();
  return std::min(k - 1, size_t(std::max(0.0, u) * double(k)));
}

double Dimension::value(double u) const {
  switch (kind) {
    // Clamped: exp(log(low)) may round a few ulps outside the range.
    case Kind::LogUniform: return std::clamp(std::exp(std::log(low) + u * (std::log(high) - std::log(low))), low, high);
    case Kind::Uniform: return low + u * (high - low);
    case Kind::Choice: return choices[index(u)];
    case Kind::Categorical: return double(index(u));
  }
  return 0;
}

std::string Dimension::format(double u) const {
  if (kind == Kind::Categorical) return categories[index(u)];
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value(u));
  return buf;
}

bool better(const Score& a, const Score& b) {
  auto key = [](double x) { return std::isnan(x) ? -std::numeric_limits<double>::infinity() : x; };
  if (key(a.value) != key(b.value)) return key(a.value) > key(b.value);
  return key(a.tie) > key(b.tie);
}

Searcher::Searcher(Space space, uint64_t seed) : space_(std::move(space)), gen_(seed) {
  HONE_CHECK(!space_.empty(), "search space: no dimensions");
}

Point Searcher::ask() {
  HONE_CHECK(!waiting_, "search: ask() twice without tell() (trials run one at a time)");
  asked_ = next();
  waiting_ = true;
  return asked_;
}

void Searcher::tell(const Point& point, Score score) {
  HONE_CHECK(waiting_ && point == asked_, "search: tell() with a point that was not the last one asked");
  waiting_ = false;
  learn(point, score);
}

double Searcher::uniform() {
  const auto b = gen_.reserve_blocks(1);
  const auto r = Generator::philox(b.seed, b.first);
  return double(((uint64_t(r[0]) << 32) | r[1]) >> 11) * 0x1p-53;
}

double Searcher::normal() {
  const double u = 1 - uniform(), v = uniform();  // u in (0, 1]: log(u) is finite
  return std::sqrt(-2 * std::log(u)) * std::cos(2 * std::numbers::pi * v);
}

Point Searcher::random_point() {
  Point p(space_.size());
  for (double& x : p) x = uniform();
  return p;
}

namespace {

double clamp01(double x) { return std::clamp(x, 0.0, 1.0); }

class RandomSearch final : public Searcher {
 public:
  RandomSearch(Space space, uint64_t seed) : Searcher(std::move(space), seed) {}

 private:
  Point next() override { return random_point(); }
  void learn(const Point&, Score) override {}
};

// Constricted PSO (Clerc and Kennedy 2002): inertia 0.7298 and pulls of 1.49618 towards
// the particle's best and the swarm's best make the swarm converge without a velocity
// schedule. Velocities are capped at 0.3 of the cube's side so that a few particles
// still explore, and a coordinate that hits a wall stops there (its velocity zeroed).
// One generation = every particle evaluated once, then all move together.
class ParticleSwarm final : public Searcher {
 public:
  static constexpr double kInertia = 0.7298, kCognitive = 1.49618, kSocial = 1.49618, kMaxVelocity = 0.3;

  ParticleSwarm(Space space, uint64_t seed, int64_t particles) : Searcher(std::move(space), seed) {
    for (int64_t i = 0; i < particles; ++i) {
      Particle p{.x = random_point()};
      for (size_t d = 0; d < space_.size(); ++d) p.v.push_back((2 * uniform() - 1) * kMaxVelocity / 2);
      swarm_.push_back(std::move(p));
    }
  }

 private:
  struct Particle {
    Point x, v, best_x;
    Score best;
  };

  Point next() override {
    if (generation_ == 0) generation_ = 1;
    if (cursor_ == swarm_.size()) move(), cursor_ = 0, ++generation_;
    return swarm_[cursor_].x;
  }

  void learn(const Point& x, Score s) override {
    Particle& p = swarm_[cursor_++];
    if (p.best_x.empty() || better(s, p.best)) p.best = s, p.best_x = x;
    if (best_x_.empty() || better(s, best_)) best_ = s, best_x_ = x;
  }

  void move() {
    for (Particle& p : swarm_)
      for (size_t d = 0; d < space_.size(); ++d) {
        const double r1 = uniform(), r2 = uniform();
        double v = kInertia * p.v[d] + kCognitive * r1 * (p.best_x[d] - p.x[d]) + kSocial * r2 * (best_x_[d] - p.x[d]);
        v = std::clamp(v, -kMaxVelocity, kMaxVelocity);
        const double x = p.x[d] + v;
        p.x[d] = clamp01(x);
        p.v[d] = x == p.x[d] ? v : 0;
      }
  }

  std::vector<Particle> swarm_;
  size_t cursor_ = 0;
  Point best_x_;
  Score best_;
};

// A generational GA. Parents come from binary tournaments (the better of two drawn at
// random); crossover (probability 0.9) blends real coordinates (BLX-0.5: uniform on the
// parents' interval widened by half its length each side) and takes each discrete one
// from either parent; each coordinate then mutates with probability 1/D (a real one moves
// by N(0, 0.1^2) of the cube's side, a discrete one is drawn afresh). The best individual
// (elitism) joins the next generation with its known score, not re-run, so generation 1
// costs `population` trials and each later one population - 1.
class Genetic final : public Searcher {
 public:
  static constexpr double kCrossover = 0.9, kBlendAlpha = 0.5, kMutationSigma = 0.1;
  static constexpr size_t kElite = 1;

  Genetic(Space space, uint64_t seed, int64_t population) : Searcher(std::move(space), seed), size_(size_t(population)) {
    for (size_t i = 0; i < size_; ++i) pending_.push_back(random_point());
  }

 private:
  struct Individual {
    Point x;
    Score score;
  };

  Point next() override {
    if (generation_ == 0) generation_ = 1;
    if (cursor_ == pending_.size()) breed(), cursor_ = 0, ++generation_;
    return pending_[cursor_];
  }

  void learn(const Point& x, Score s) override { pool_.push_back({x, s}), ++cursor_; }

  const Individual& tournament() {
    const Individual& a = pool_[size_t(uniform() * double(pool_.size()))];
    const Individual& b = pool_[size_t(uniform() * double(pool_.size()))];
    return better(b.score, a.score) ? b : a;
  }

  void breed() {
    std::stable_sort(pool_.begin(), pool_.end(), [](const Individual& a, const Individual& b) { return better(a.score, b.score); });
    pending_.clear();
    const size_t dims = space_.size();
    while (pending_.size() + kElite < size_) {
      const Point &a = tournament().x, &b = tournament().x;
      Point child = a;
      if (uniform() < kCrossover)
        for (size_t d = 0; d < dims; ++d) {
          if (space_[d].discrete()) {
            child[d] = uniform() < 0.5 ? a[d] : b[d];
          } else {
            const double lo = std::min(a[d], b[d]), span = std::abs(a[d] - b[d]);
            child[d] = clamp01(lo - kBlendAlpha * span + uniform() * (1 + 2 * kBlendAlpha) * span);
          }
        }
      for (size_t d = 0; d < dims; ++d)
        if (uniform() < 1.0 / double(dims))
          child[d] = space_[d].discrete() ? uniform() : clamp01(child[d] + kMutationSigma * normal());
      pending_.push_back(std::move(child));
    }
    pool_.resize(kElite);  // the elite stays in the pool the children join
  }

  size_t size_, cursor_ = 0;
  std::vector<Point> pending_;
  std::vector<Individual> pool_;
};

}  // namespace

std::unique_ptr<Searcher> make_searcher(const std::string& method, Space space, uint64_t seed, int64_t population) {
  if (method == "random") return std::make_unique<RandomSearch>(std::move(space), seed);
  HONE_CHECK(population >= 2 && population <= 1000, "search: --population must be in [2, 1000] for ", method, ", got ",
             population);
  if (method == "pso") return std::make_unique<ParticleSwarm>(std::move(space), seed, population);
  if (method == "ga") return std::make_unique<Genetic>(std::move(space), seed, population);
  fail("search: --method must be random, pso or ga; got '", method, "'");
}

}  // namespace hone::tools::hpsearch
