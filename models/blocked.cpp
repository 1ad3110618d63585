// The blocked inference steps of a built-in network's frozen front (blocked.h), and the
// packed-weight cache it shares with an imported graph's blocked path.
#include "models/blocked.h"

#include <algorithm>
#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/trace.h"
#include "kernels/context_exec.h"

namespace hone::models {

namespace nc = kernels::cpu::nchwc;

nc::PackedConv PackedConvCache::get(uintptr_t key, const Tensor& w, const Tensor* bias, const FoldedBatchNorm* bn,
                                    int64_t in_lanes, kernels::cpu::CpuIsa isa) {
  std::vector<Source> sources;
  for (const Tensor* t : {&w, bias, bn ? bn->scale : nullptr, bn ? bn->shift : nullptr, bn ? bn->mean : nullptr,
                          bn ? bn->var : nullptr})
    sources.push_back(t ? Source{t->storage(), t->data_ptr(), t->version()} : Source{});
  const int64_t out_lanes = nc::lanes(isa);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.sources == sources && it->second.packed.in_lanes == in_lanes &&
      it->second.packed.out_lanes == out_lanes)
    return it->second.packed;
  const int64_t c_out = w.size(0), per = w.numel() / c_out;
  std::vector<float> wf = w.contiguous().to_vector<float>(), bf(size_t(c_out), 0.0f);
  if (bias) bf = bias->contiguous().to_vector<float>();
  if (bn) {  // y = (conv - mean) * scale / sqrt(var + eps) + shift, folded into the conv
    const auto values = [c_out](const Tensor* t, float absent) {
      return t ? t->contiguous().to_vector<float>() : std::vector<float>(size_t(c_out), absent);
    };
    const std::vector<float> scale = values(bn->scale, 1.0f), shift = values(bn->shift, 0.0f),
                             mean = values(bn->mean, 0.0f), var = values(bn->var, 1.0f);
    for (int64_t o = 0; o < c_out; ++o) {
      const double s = double(scale[size_t(o)]) / std::sqrt(double(var[size_t(o)]) + bn->eps);
      for (int64_t k = 0; k < per; ++k) wf[size_t(o * per + k)] = float(double(wf[size_t(o * per + k)]) * s);
      bf[size_t(o)] = float((double(bf[size_t(o)]) - double(mean[size_t(o)])) * s + double(shift[size_t(o)]));
    }
  }
  Entry& e = entries_[key];
  e.sources = sources;
  e.packed = nc::pack_conv(wf.data(), bf.data(), c_out, w.size(1), w.size(2), w.size(3), in_lanes, isa,
                           kernels::ContextExec());
  return e.packed;
}

BlockedActivation BlockedActivation::allocate(const nc::Layout& l) {
  return {l, std::make_shared<kernels::cpu::AlignedFloats>(size_t(l.size()))};
}

namespace {

bool cpu_float(const Tensor& t) { return t.device().is_cpu() && t.dtype() == DType::Float32; }
int64_t widest(const Padding2d& p) { return std::max({p.top(), p.left(), p.bottom(), p.right()}); }

}  // namespace

BlockedForward::BlockedForward(PackedConvCache& cache, kernels::cpu::CpuIsa isa)
    : cache_(cache), isa_(isa), lanes_(nc::lanes(isa)) {}

bool BlockedForward::available() { return nc::lanes() > 0; }

bool BlockedForward::frozen(const nn::Module& m, const Tensor& x) {
  if (autograd::tracing() || nn::Module::summarizing()) return false;  // the layers are watched one by one
  const bool grad = GradMode::is_enabled();
  if (!cpu_float(x) || (grad && x.requires_grad())) return false;
  for (const auto& [name, p] : m.named_parameters())
    if (!cpu_float(p) || (grad && p.requires_grad())) return false;
  for (const auto& [name, b] : m.named_buffers())
    if (!b.device().is_cpu()) return false;
  for (const auto& [name, sub] : m.named_modules())
    if (auto* bn = dynamic_cast<const nn::BatchNorm2d*>(sub); bn && bn->mode() == nn::BatchNormMode::Train) return false;
  return true;
}

BlockedActivation BlockedForward::input(const Tensor& x, const nn::Conv2d& first) const {
  HONE_CHECK(x.dim() == 4 && cpu_float(x), "BlockedForward: expected a CPU float32 [N, C, H, W] input, got ", x.shape());
  const Tensor c = x.contiguous();
  const nc::Layout l{.n = c.size(0), .c = c.size(1), .h = c.size(2), .w = c.size(3),
                     .lanes = c.size(1) < lanes_ ? c.size(1) : lanes_, .border = widest(first.options().padding)};
  BlockedActivation a = BlockedActivation::allocate(l);
  nc::to_blocked(c.data<float>(), l, a.data(), kernels::ContextExec());
  return a;
}

std::unique_ptr<BlockedActivation> BlockedForward::conv(const nn::Conv2d& conv, const nn::BatchNorm2d* bn, bool relu,
                                                        const BlockedActivation& x, const BlockedActivation* residual) {
  const nn::Conv2dOptions& o = conv.options();
  const Tensor& w = conv.weight;
  const Padding2d& p = o.padding;
  if (o.groups != 1 || o.dilation != std::array<int64_t, 2>{1, 1} || w.dim() != 4 || w.size(1) != x.l.c ||
      (x.l.lanes != lanes_ && x.l.lanes != x.l.c) || widest(p) > x.l.border)
    return nullptr;
  if (bn && bn->options().num_features != w.size(0)) return nullptr;
  const kernels::Conv2dGeometry g{.n = x.l.n, .c_in = x.l.c, .h = x.l.h, .w = x.l.w, .c_out = w.size(0), .kh = w.size(2),
                                  .kw = w.size(3), .stride_h = o.stride[0], .stride_w = o.stride[1], .pad_top = p.top(),
                                  .pad_left = p.left(), .pad_bottom = p.bottom(), .pad_right = p.right()};
  if (g.out_h() <= 0 || g.out_w() <= 0) return nullptr;
  const nc::Layout yl{.n = g.n, .c = g.c_out, .h = g.out_h(), .w = g.out_w(), .lanes = lanes_, .border = 1};
  if (residual && !residual->l.same_shape(yl)) return nullptr;
  FoldedBatchNorm fold{};
  if (bn)
    fold = {.scale = bn->weight.defined() ? &bn->weight : nullptr, .shift = bn->bias.defined() ? &bn->bias : nullptr,
            .mean = &bn->running_mean, .var = &bn->running_var, .eps = bn->options().eps};
  const nc::PackedConv packed = cache_.get(reinterpret_cast<uintptr_t>(&conv), w, conv.bias.defined() ? &conv.bias : nullptr,
                                           bn ? &fold : nullptr, x.l.lanes, isa_);
  auto y = std::make_unique<BlockedActivation>(BlockedActivation::allocate(yl));
  const kernels::ContextExec exec;
  nc::zero_border(y->data(), yl, exec);
  nc::conv({.g = g, .x = x.data(), .xl = x.l, .w = &packed, .y = y->data(), .yl = yl,
            .residual = residual ? residual->data() : nullptr, .relu = relu},
           exec, isa_);
  ++convs_;
  return y;
}

std::unique_ptr<BlockedActivation> BlockedForward::max_pool(const nn::MaxPool2d& pool, const BlockedActivation& x) const {
  const Pool2dOptions& o = pool.options();
  if (x.l.lanes != lanes_) return nullptr;
  const kernels::Pool2dGeometry g{.n = x.l.n, .c = x.l.c, .h = x.l.h, .w = x.l.w, .kh = o.kernel[0], .kw = o.kernel[1],
                                  .stride_h = o.stride[0] > 0 ? o.stride[0] : o.kernel[0],
                                  .stride_w = o.stride[1] > 0 ? o.stride[1] : o.kernel[1], .pad_top = o.padding.top(),
                                  .pad_left = o.padding.left(), .pad_bottom = o.padding.bottom(),
                                  .pad_right = o.padding.right(), .dilation_h = o.dilation[0], .dilation_w = o.dilation[1],
                                  .ceil_mode = o.ceil_mode};
  if (g.kh <= 0 || g.kw <= 0 || g.out_h() <= 0 || g.out_w() <= 0) return nullptr;
  const nc::Layout yl{.n = g.n, .c = g.c, .h = g.out_h(), .w = g.out_w(), .lanes = lanes_, .border = 1};
  auto y = std::make_unique<BlockedActivation>(BlockedActivation::allocate(yl));
  const kernels::ContextExec exec;
  nc::zero_border(y->data(), yl, exec);
  nc::max_pool(g, x.data(), x.l, y->data(), yl, exec, isa_);
  return y;
}

Tensor BlockedForward::global_avg_pool(const BlockedActivation& x) const {
  HONE_CHECK(x.l.lanes == lanes_, "BlockedForward::global_avg_pool: an input of ", x.l.lanes, " lanes");
  Tensor y = empty({x.l.n, x.l.c, 1, 1});
  nc::global_avg_pool(x.data(), x.l, y.data<float>(), kernels::ContextExec());
  return y;
}

Tensor BlockedForward::tensor(const BlockedActivation& x) const {
  Tensor t = empty({x.l.n, x.l.c, x.l.h, x.l.w});
  nc::from_blocked(x.data(), x.l, t.data<float>(), kernels::ContextExec());
  return t;
}

}  // namespace hone::models
