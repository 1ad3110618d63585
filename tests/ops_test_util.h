#pragma once
// Helpers of the op-level tests (elementwise_test, reduce_test, matmul_test, view_test):
// small float64 leaves with chosen values, and checks on an error's message.
#include <functional>
#include <string>
#include <vector>

#include "test_util.h"

namespace hone::ops_test {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// The message of the hone::Error `f` throws; fails the test when it throws none.
template <typename F>
inline std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a hone::Error";
  return "";
}

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "missing \"" << (part) << "\" in: " << (text)

inline Tensor f64(const std::vector<double>& v, const Shape& shape) { return from_vector<double>(v, shape); }
inline Tensor f64(const std::vector<double>& v) { return from_vector<double>(v); }
inline Tensor f32(const std::vector<float>& v, const Shape& shape) { return from_vector<float>(v, shape); }
inline Tensor leaf(const std::vector<double>& v, const Shape& shape) {
  Tensor t = from_vector<double>(v, shape);
  t.set_requires_grad();
  return t;
}
inline Tensor leaf(const std::vector<double>& v) { return leaf(v, {int64_t(v.size())}); }

// A float64 leaf whose entries have magnitude in [0.2, 1] with alternating signs: far from
// the kinks of abs and relu.
inline Tensor away_from_zero_leaf(const Shape& shape, uint64_t seed) {
  std::vector<double> v = test::random_leaf(shape, seed, 0.2, 1.0).detach().to_vector<double>();
  for (size_t i = 1; i < v.size(); i += 2) v[i] = -v[i];
  return leaf(v, shape);
}

// A float64 leaf of distinct values at least 2/numel apart (no ties for max), in a scrambled
// order: entry i is ((7 i + 3) mod n) scaled into [-1, 1). Needs numel coprime with 7.
inline Tensor distinct_leaf(const Shape& shape) {
  const int64_t n = numel(shape);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = double((7 * i + 3) % n) * 2.0 / double(n) - 1.0;
  return leaf(v, shape);
}

inline void reset_grads(const std::vector<Tensor>& ts) {
  for (Tensor t : ts) t.set_grad(Tensor());
}

}  // namespace hone::ops_test
