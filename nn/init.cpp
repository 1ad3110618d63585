#include "nn/init.h"

#include <cmath>

#include "autograd/grad_mode.h"

namespace hone::nn::init {

std::pair<int64_t, int64_t> fans(const Tensor& w) {
  HONE_CHECK(w.dim() >= 2, "init: fan in/out need a weight with at least 2 dims, got ", w.shape());
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.size(d);
  return {w.size(1) * receptive, w.size(0) * receptive};
}

namespace {
void assign(Tensor& t, const Tensor& values) {
  NoGradGuard no_grad;
  t.copy_(values);
}
}  // namespace

// Drawn straight in the tensor's dtype and device: no float64 copy of a 100M-weight layer.
void uniform_(Tensor& t, double low, double high, Generator* gen) {
  assign(t, uniform(t.shape(), low, high, {.dtype = t.dtype(), .device = t.device()}, gen));
}
void normal_(Tensor& t, double mean, double std, Generator* gen) {
  assign(t, normal(t.shape(), mean, std, {.dtype = t.dtype(), .device = t.device()}, gen));
}
void constant_(Tensor& t, double value) {
  NoGradGuard no_grad;
  t.fill_(value);
}

void kaiming_uniform_(Tensor& t, double a, FanMode mode, Generator* gen) {
  auto [in, out] = fans(t);
  const double std = std::sqrt(2.0 / (1.0 + a * a)) / std::sqrt(double(mode == FanMode::In ? in : out));
  const double bound = std::sqrt(3.0) * std;
  uniform_(t, -bound, bound, gen);
}
void kaiming_normal_(Tensor& t, double a, FanMode mode, Generator* gen) {
  auto [in, out] = fans(t);
  normal_(t, 0.0, std::sqrt(2.0 / (1.0 + a * a)) / std::sqrt(double(mode == FanMode::In ? in : out)), gen);
}
void xavier_uniform_(Tensor& t, double gain, Generator* gen) {
  auto [in, out] = fans(t);
  const double bound = gain * std::sqrt(6.0 / double(in + out));
  uniform_(t, -bound, bound, gen);
}
void xavier_normal_(Tensor& t, double gain, Generator* gen) {
  auto [in, out] = fans(t);
  normal_(t, 0.0, gain * std::sqrt(2.0 / double(in + out)), gen);
}

}  // namespace hone::nn::init
