#pragma once
// Hyper-parameter search algorithms, independent of what a trial is: a space of named
// dimensions, and searchers that propose points (ask) and learn their scores (tell).
//   random  every point drawn afresh, uniform in the space (log-uniform for rates)
//   pso     particle swarm optimisation: `population` particles fly through the unit cube,
//           pulled towards their own best point and the swarm's best
//   ga      genetic algorithm: a population bred by tournament selection, crossover and
//           mutation, the best individual kept unchanged into the next generation
// Every point lives in the unit cube [0,1]^D, one coordinate per dimension, and is decoded
// into values only when read (Space::value), so all three methods move the same way
// through real, choice and categorical dimensions alike. Categorical and choice values
// come from ranges of the coordinate, in the order given: list them so that neighbours
// are alike (strategies by frozen depth), since PSO and GA treat nearby as similar.
//
// All randomness comes from one Philox stream keyed by the seed, and ask() and tell()
// alternate, so the sequence of asked points is a pure function of (method, seed, space,
// population, earlier scores). A search resumes by replaying its finished (point, score)
// pairs into a fresh searcher.
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "tensor/generator.h"

namespace hone::tools::hpsearch {

struct Dimension {
  enum class Kind { LogUniform, Uniform, Choice, Categorical };
  std::string name;
  Kind kind = Kind::Uniform;
  double low = 0, high = 1;             // LogUniform, Uniform
  std::vector<double> choices;          // Choice: numbers (batch sizes)
  std::vector<std::string> categories;  // Categorical: names (strategies)

  static Dimension log_uniform(std::string name, double low, double high);
  static Dimension uniform(std::string name, double low, double high);
  static Dimension choice(std::string name, std::vector<double> choices);
  static Dimension categorical(std::string name, std::vector<std::string> categories);
  bool discrete() const { return kind == Kind::Choice || kind == Kind::Categorical; }
  size_t options() const { return kind == Kind::Choice ? choices.size() : categories.size(); }
  // The option index a coordinate u in [0, 1] selects (discrete kinds).
  size_t index(double u) const;
  // The value: a real number, a choice, or a category's index.
  double value(double u) const;
  // As trials.csv and the progress line print it: 6 significant digits, or the name.
  std::string format(double u) const;
};

using Space = std::vector<Dimension>;
using Point = std::vector<double>;  // unit-cube coordinates, one per dimension

// Higher is better; `tie` (higher is better) ranks equal values, so a trial can be ranked
// by accuracy and then by lower loss (tie = -loss). NaN counts as the worst score.
struct Score {
  double value = -std::numeric_limits<double>::infinity();
  double tie = -std::numeric_limits<double>::infinity();
};
bool better(const Score& a, const Score& b);  // a strictly better than b

class Searcher {
 public:
  virtual ~Searcher() = default;
  // The next point to try. Must be followed by tell() with that point before the next ask().
  Point ask();
  void tell(const Point& point, Score score);
  // The generation of the last asked point, 1-based (0 for random search).
  int64_t generation() const { return generation_; }
  const Space& space() const { return space_; }

 protected:
  Searcher(Space space, uint64_t seed);
  virtual Point next() = 0;
  virtual void learn(const Point& point, Score score) = 0;
  double uniform();  // [0, 1), 53 bits from the seeded Philox stream
  double normal();   // standard normal (Box-Muller)
  Point random_point();

  Space space_;
  int64_t generation_ = 0;

 private:
  Generator gen_;
  bool waiting_ = false;
  Point asked_;
};

// method: random | pso | ga. population: particles (pso) or individuals (ga); ignored by random.
std::unique_ptr<Searcher> make_searcher(const std::string& method, Space space, uint64_t seed, int64_t population = 6);

}  // namespace hone::tools::hpsearch
