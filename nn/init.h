#pragma once
// Weight initialisers (in place, seeded: each draws from `gen` or the current context's
// generator). fan_in / fan_out of a weight [out, in, k...] are in * prod(k), out * prod(k).
#include "tensor/tensor.h"

namespace hone::nn::init {

enum class FanMode { In, Out };

void uniform_(Tensor& t, double low, double high, Generator* gen = nullptr);
void normal_(Tensor& t, double mean, double std, Generator* gen = nullptr);
void constant_(Tensor& t, double value);
// He et al.: std = gain / sqrt(fan), gain = sqrt(2 / (1 + a^2)) (a: leaky-relu slope).
void kaiming_uniform_(Tensor& t, double a = 0.0, FanMode mode = FanMode::In, Generator* gen = nullptr);
void kaiming_normal_(Tensor& t, double a = 0.0, FanMode mode = FanMode::In, Generator* gen = nullptr);
// Glorot & Bengio: std = gain * sqrt(2 / (fan_in + fan_out)).
void xavier_uniform_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);
void xavier_normal_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);
std::pair<int64_t, int64_t> fans(const Tensor& weight);  // {fan_in, fan_out}

}  // namespace hone::nn::init
