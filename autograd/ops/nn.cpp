// The NN ops declared in autograd/ops/nn.h.
#include "autograd/ops/nn.h"

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/ops/dispatch.h"
#include "autograd/trace.h"

namespace hone {

namespace {
void require_float(const char* op, const Tensor& t, const char* what) {
  HONE_CHECK(is_floating(t.dtype()), op, ": ", what, " must be floating point, got ", dtype_name(t.dtype()));
}
void require_same_dtype(const char* op, const Tensor& ref, std::initializer_list<std::pair<const Tensor*, const char*>> ts) {
  for (auto [t, name] : ts)
    HONE_CHECK(!t->defined() || t->dtype() == ref.dtype(), op, ": ", name, " has dtype ", dtype_name(t->dtype()),
               " but the input is ", dtype_name(ref.dtype()));
}
void* ptr_or_null(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }
}  // namespace

// ---- batch norm ----
Tensor batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, const BatchNormFuncOptions& o) {
  const Device device = detail::common_device("batch_norm", {&input, &weight, &bias, &running_mean, &running_var});
  HONE_CHECK(input.dim() >= 2, "batch_norm: input must be [N, C, ...], got ", input.shape());
  require_float("batch_norm", input, "input");
  require_same_dtype("batch_norm", input, {{&weight, "weight"}, {&bias, "bias"}, {&running_mean, "running_mean"},
                                           {&running_var, "running_var"}});
  const int64_t n = input.size(0), c = input.size(1), hw = input.numel() / std::max<int64_t>(1, n * c);
  for (auto [t, name] : {std::pair{&weight, "weight"}, {&bias, "bias"}, {&running_mean, "running_mean"},
                         {&running_var, "running_var"}})
    HONE_CHECK(!t->defined() || t->shape() == Shape{c}, "batch_norm: ", name, " must have shape [", c, "], got ",
               t->shape());
  HONE_CHECK(o.use_batch_stats || (running_mean.defined() && running_var.defined()),
             "batch_norm: inference/frozen mode needs running_mean and running_var");
  HONE_CHECK(!(o.use_batch_stats && o.update_running_stats) || (running_mean.defined() && running_var.defined()),
             "batch_norm: update_running_stats needs running_mean and running_var");
  HONE_CHECK(!o.use_batch_stats || n * hw > 1 || !o.update_running_stats,
             "batch_norm: training needs more than one value per channel, got input ", input.shape());
  HONE_CHECK(o.eps > 0 && o.momentum >= 0 && o.momentum <= 1, "batch_norm: need eps > 0 and momentum in [0,1], got eps=",
             o.eps, " momentum=", o.momentum);
  for (const Tensor* t : {&running_mean, &running_var})
    HONE_CHECK(!t->defined() || t->is_contiguous(), "batch_norm: running statistics must be contiguous");
  const Tensor x = raw::contiguous(input);
  const Tensor w = weight.defined() ? raw::contiguous(weight) : weight;
  const Tensor b = bias.defined() ? raw::contiguous(bias) : bias;
  const bool update = o.use_batch_stats && o.update_running_stats;
  const auto convention =
      o.convention == BatchNormConvention::Onnx ? kernels::BatchNormConvention::Onnx : kernels::BatchNormConvention::PyTorch;
  kernels::BatchNormForwardArgs args{
      .dtype = x.dtype(), .n = n, .c = c, .hw = hw, .x = x.data_ptr(), .gamma = ptr_or_null(w), .beta = ptr_or_null(b),
      .running_mean = ptr_or_null(running_mean), .running_var = ptr_or_null(running_var),
      .use_batch_stats = o.use_batch_stats, .update_running = update, .momentum = o.momentum, .eps = o.eps,
      .convention = convention, .y = nullptr, .save_mean = nullptr, .save_invstd = nullptr, .relu = o.fuse_relu};
  kernels::validate_batch_norm(args);  // before anything is allocated
  const TensorOptions like{.dtype = x.dtype(), .device = device};
  Tensor y = empty(x.shape(), like);
  Tensor mean = empty({c}, like), invstd = empty({c}, like);
  args.y = y.data_ptr(), args.save_mean = mean.data_ptr(), args.save_invstd = invstd.data_ptr();
  detail::run_kernel(detail::kernel_registry().batch_norm_forward, "batch_norm", device, x.dtype(), args);
  if (update) {
    running_mean.storage()->bump_version();
    running_var.storage()->bump_version();
  }
  const bool keep_x = weight.requires_grad() || (input.requires_grad() && o.use_batch_stats);
  // With a fused relu the output is saved too: its sign is relu's mask in the backward.
  autograd::record("batch_norm", {input, weight, bias}, {y}, {keep_x ? x : Tensor(), w, mean, invstd, o.fuse_relu ? y : Tensor()},
                   [n, c, hw, batch = o.use_batch_stats, shape = x.shape()](const auto& g, const auto& s, const auto& need) {
    const Tensor dy = raw::contiguous(g[0]);
    const DType t = dy.dtype();
    const TensorOptions like{.dtype = t, .device = dy.device()};
    Tensor dx = need[0] ? empty(shape, like) : Tensor();
    Tensor dw = need[1] ? empty({c}, like) : Tensor();
    Tensor db = need[2] ? empty({c}, like) : Tensor();
    // dgamma needs x; without a saved x (frozen weight, and dx not depending on x) the
    // kernel reads dy in its place, and only dbeta/dx (which then ignore x) are written.
    const Tensor& xs = s[0].defined() ? s[0] : dy;
    detail::run_kernel(detail::kernel_registry().batch_norm_backward, "batch_norm backward", dy.device(), t,
                       {.dtype = t, .n = n, .c = c, .hw = hw, .x = xs.data_ptr(), .gamma = ptr_or_null(s[1]),
                        .dy = dy.data_ptr(), .save_mean = s[2].data_ptr(), .save_invstd = s[3].data_ptr(),
                        .used_batch_stats = batch, .dx = ptr_or_null(dx), .dgamma = ptr_or_null(dw),
                        .dbeta = ptr_or_null(db), .y = ptr_or_null(s[4])});
    return std::vector<Tensor>{dx, dw, db};
  });
  HONE_TRACE("batch_norm", {input, weight, bias, running_mean, running_var}, {y}, {{"use_batch_stats", o.use_batch_stats}, {"update_running_stats", o.update_running_stats}, {"momentum", o.momentum}, {"eps", o.eps}, {"convention", o.convention}, {"fuse_relu", o.fuse_relu}});
  return y;
}

// ---- linear ----
namespace {
// C[m, n] = A[m, k] B[k, n] for 2-D strided operands, through matmul's kernel.
void product(const Tensor& c, int64_t m, int64_t n, int64_t k, const Tensor& a, int64_t ars, int64_t acs,
             const Tensor& b, int64_t brs, int64_t bcs) {
  detail::matmul_into("linear", raw::view(c, {1, m, n}, {0, n, 1}, c.offset()),
                      raw::view(a, {1, m, k}, {0, ars, acs}, a.offset()), raw::view(b, {1, k, n}, {0, brs, bcs}, b.offset()));
}
}  // namespace

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  const Device device = detail::common_device("linear", {&input, &weight, &bias});
  HONE_CHECK(input.dim() >= 1 && weight.dim() == 2, "linear: need input [*, in] and weight [out, in], got ",
             input.shape(), " and ", weight.shape());
  HONE_CHECK(input.size(-1) == weight.size(1), "linear: input features ", input.size(-1), " differ from the weight's ",
             weight.size(1), " (input ", input.shape(), ", weight ", weight.shape(), ")");
  require_float("linear", input, "input");
  require_same_dtype("linear", input, {{&weight, "weight"}, {&bias, "bias"}});
  const int64_t out_f = weight.size(0), in_f = weight.size(1), m = in_f ? input.numel() / in_f : 0;
  HONE_CHECK(!bias.defined() || bias.shape() == Shape{out_f}, "linear: bias must be [", out_f, "], got ",
             bias.defined() ? bias.shape() : Shape{});
  const Tensor x = raw::contiguous(input), w = raw::contiguous(weight);
  Shape out_shape = input.shape();
  out_shape.back() = out_f;
  Tensor y = empty(out_shape, {.dtype = x.dtype(), .device = device});
  product(y, m, out_f, in_f, x, in_f, 1, w, 1, in_f);  // B = W^T
  if (bias.defined() && y.numel() > 0)
    detail::binary_kernel_into(kernels::BinaryOp::Add, raw::view(y, {m, out_f}, {out_f, 1}, 0), bias, 1.0, "linear");
  autograd::record("linear", {input, weight, bias}, {y}, {weight.requires_grad() ? x : Tensor(), input.requires_grad() ? w : Tensor()},
                   [m, in_f, out_f, in_shape = input.shape()](const auto& g, const auto& s, const auto& need) {
    const Tensor dy = raw::contiguous(g[0]);
    const DType t = dy.dtype();
    Tensor dx, dw, db;
    if (need[0]) {  // dX[m, in] = dY[m, out] W[out, in]
      dx = empty(in_shape, {.dtype = t, .device = dy.device()});
      product(dx, m, in_f, out_f, dy, out_f, 1, s[1], in_f, 1);
    }
    if (need[1]) {  // dW[out, in] = dY^T[out, m] X[m, in]
      dw = empty({out_f, in_f}, {.dtype = t, .device = dy.device()});
      product(dw, out_f, in_f, m, dy, 1, out_f, s[0], in_f, 1);
    }
    if (need[2]) db = sum(raw::view(dy, {m, out_f}, {out_f, 1}, 0), {0});
    return std::vector<Tensor>{dx, dw, db};
  });
  HONE_TRACE("linear", {input, weight, bias}, {y});
  return y;
}

// ---- add + relu ----
Tensor add_relu(const Tensor& a0, const Tensor& b0) {
  const DType t = promote_types(a0.dtype(), b0.dtype());
  const Tensor a = a0.to(t), b = b0.to(t);
  // One fused kernel: the sum never makes a round trip through memory before its relu.
  const Tensor out = detail::binary_kernel(kernels::BinaryOp::AddRelu, a, b, 1.0, "add_relu");
  autograd::record("add_relu", {a, b}, {out}, {out}, [sa = a.shape(), sb = b.shape()](const auto& g, const auto& s, const auto& need) {
    Tensor masked = detail::binary_kernel(kernels::BinaryOp::ReluBackward, g[0], s[0], 1.0, "add_relu backward");
    return std::vector<Tensor>{need[0] ? sum_to(masked, sa) : Tensor(), need[1] ? sum_to(masked, sb) : Tensor()};
  });
  HONE_TRACE("add_relu", {a, b}, {out});
  return out;
}

// ---- dropout ----
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  HONE_CHECK(p >= 0 && p <= 1, "dropout: probability must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  require_float("dropout", x, "input");
  if (p == 1) return x * 0.0;
  // One fused kernel (kernels/dropout.h): keep = u >= p over the draws rand() would make,
  // y = x * (keep ? 1/(1-p) : 0), bit for bit what x * (ge(rand, p) * (1/(1-p))) gave.
  // The backward reads the one-byte mask, not a mask of x's dtype.
  const Tensor xc = raw::contiguous(x);
  const int64_t n = xc.numel();
  Generator& g = gen ? *gen : Context::current().generator();
  const Generator::Blocks blocks = g.reserve_blocks(kernels::dropout_blocks(n));
  const double scale = 1.0 / (1.0 - p);
  Tensor y = empty(xc.shape(), {.dtype = xc.dtype(), .device = xc.device()});
  Tensor mask = empty(xc.shape(), {.dtype = DType::UInt8, .device = xc.device()});
  if (n > 0)
    detail::run_kernel(detail::kernel_registry().dropout_forward, "dropout", xc.device(), xc.dtype(),
                       {.dtype = xc.dtype(), .n = n, .p = p, .scale = scale, .seed = blocks.seed,
                        .first_block = blocks.first, .x = xc.data_ptr(), .y = y.data_ptr(),
                        .mask = static_cast<uint8_t*>(mask.data_ptr())});
  autograd::record("dropout", {x}, {y}, {mask}, [scale](const auto& g, const auto& s, const auto&) {
    const Tensor dy = raw::contiguous(g[0]);
    Tensor dx = empty(dy.shape(), {.dtype = dy.dtype(), .device = dy.device()});
    if (dx.numel() > 0)
      detail::run_kernel(detail::kernel_registry().dropout_backward, "dropout backward", dy.device(), dy.dtype(),
                         {.dtype = dy.dtype(), .n = dy.numel(), .scale = scale,
                          .mask = static_cast<const uint8_t*>(s[0].data_ptr()), .dy = dy.data_ptr(),
                          .dx = dx.data_ptr()});
    return std::vector<Tensor>{dx};
  });
  HONE_TRACE("dropout", {x}, {y}, {{"p", p}});
  return y;
}

// ---- softmax ----
namespace {
Tensor softmax_impl(const Tensor& input, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  require_float(name, input, "input");
  const int64_t d = wrap_dim(dim, input.dim(), name);
  const Tensor x = raw::contiguous(input);
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < d; ++k) outer *= x.shape()[size_t(k)];
  for (int64_t k = d + 1; k < x.dim(); ++k) inner *= x.shape()[size_t(k)];
  const int64_t n = x.dim() ? x.shape()[size_t(d)] : 1;
  Tensor y = empty(x.shape(), {.dtype = x.dtype(), .device = x.device()});
  if (x.numel() > 0)
    detail::run_kernel(detail::kernel_registry().softmax_forward, name, x.device(), x.dtype(),
                       {.dtype = x.dtype(), .outer = outer, .dim = n, .inner = inner, .log = log, .x = x.data_ptr(),
                        .y = y.data_ptr()});
  autograd::record(name, {input}, {y}, {y}, [outer, n, inner, log](const auto& g, const auto& s, const auto&) {
    const Tensor dy = raw::contiguous(g[0]);
    Tensor dx = empty(dy.shape(), {.dtype = dy.dtype(), .device = dy.device()});
    if (dx.numel() > 0)
      detail::run_kernel(detail::kernel_registry().softmax_backward, log ? "log_softmax backward" : "softmax backward", dy.device(), dy.dtype(),
                         {.dtype = dy.dtype(), .outer = outer, .dim = n, .inner = inner, .log = log,
                          .y = s[0].data_ptr(), .dy = dy.data_ptr(), .dx = dx.data_ptr()});
    return std::vector<Tensor>{dx};
  });
  HONE_TRACE(name, {input}, {y}, {{"dim", d}});
  return y;
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true); }

// ---- cross-entropy ----
Tensor cross_entropy(const Tensor& logits_in, const Tensor& target_in, const CrossEntropyOptions& o) {
  const Device device = detail::common_device("cross_entropy", {&logits_in, &target_in});
  HONE_CHECK(logits_in.dim() == 2, "cross_entropy: logits must be [N, C], got ", logits_in.shape());
  require_float("cross_entropy", logits_in, "logits");
  HONE_CHECK(target_in.dtype() == DType::Int64 && target_in.dim() == 1 && target_in.size(0) == logits_in.size(0),
             "cross_entropy: target must be int64 [", logits_in.size(0), "], got ", dtype_name(target_in.dtype()), " ",
             target_in.shape());
  HONE_CHECK(o.label_smoothing >= 0 && o.label_smoothing <= 1, "cross_entropy: label_smoothing must be in [0, 1], got ",
             o.label_smoothing);
  const int64_t n = logits_in.size(0), c = logits_in.size(1);
  HONE_CHECK(c > 0, "cross_entropy: logits have no classes");
  const Tensor logits = raw::contiguous(logits_in), target = raw::contiguous(target_in);
  // The targets are read on the host once: their range is checked here (a device kernel
  // cannot throw), and the mean's divisor counted.
  int64_t counted = 0, row = 0;
  for (int64_t v : target.to_vector<int64_t>()) {
    HONE_CHECK(v == o.ignore_index || (v >= 0 && v < c), "cross_entropy: target ", v, " at row ", row,
               " is out of range for ", c, " classes");
    counted += v != o.ignore_index;
    ++row;
  }
  const DType t = logits.dtype();
  Tensor losses = empty({n}, {.dtype = t, .device = device}), log_prob = empty({n, c}, {.dtype = t, .device = device});
  detail::run_kernel(detail::kernel_registry().cross_entropy_forward, "cross_entropy", device, t,
                     {.dtype = t, .n = n, .c = c, .logits = logits.data_ptr(),
                      .target = target.data<int64_t>(), .ignore_index = o.ignore_index,
                      .label_smoothing = o.label_smoothing, .losses = losses.data_ptr(),
                      .log_prob = log_prob.data_ptr()});
  Tensor per_row, out;
  {
    NoGradGuard ng;
    out = o.reduction == Reduction::None ? losses
          : o.reduction == Reduction::Sum ? sum(losses)
                                          : sum(losses) / double(std::max<int64_t>(counted, 1));
  }
  autograd::record("cross_entropy", {logits_in}, {out}, {log_prob, target},
                   [n, c, o, counted](const std::vector<Tensor>& g, const std::vector<Tensor>& s, const std::vector<bool>&) {
    // Each row's share of the output gradient: g[i] (None), g (Sum) or g / count (Mean).
    Tensor scale = o.reduction == Reduction::None ? raw::contiguous(g[0])
                   : o.reduction == Reduction::Sum ? raw::contiguous(g[0].expand({n}))
                                                   : raw::contiguous((g[0] / double(std::max<int64_t>(counted, 1))).expand({n}));
    Tensor d = empty({n, c}, {.dtype = s[0].dtype(), .device = s[0].device()});
    detail::run_kernel(detail::kernel_registry().cross_entropy_backward, "cross_entropy backward", d.device(), d.dtype(),
                       {.dtype = d.dtype(), .n = n, .c = c, .log_prob = s[0].data_ptr(),
                        .target = s[1].data<int64_t>(), .ignore_index = o.ignore_index,
                        .label_smoothing = o.label_smoothing, .row_scale = scale.data_ptr(),
                        .dlogits = d.data_ptr()});
    return std::vector<Tensor>{d};
  });
  HONE_TRACE("cross_entropy", {logits_in, target_in}, {out}, {{"reduction", o.reduction}, {"label_smoothing", o.label_smoothing}, {"ignore_index", o.ignore_index}});
  return out;
}

double topk_accuracy(const Tensor& logits, const Tensor& target, int64_t k) {
  HONE_CHECK(logits.dim() == 2 && target.dim() == 1 && target.size(0) == logits.size(0),
             "topk_accuracy: need logits [N, C] and target [N], got ", logits.shape(), " and ", target.shape());
  HONE_CHECK(k >= 1, "topk_accuracy: k must be >= 1, got ", k);
  const int64_t n = logits.size(0), c = logits.size(1);
  if (n == 0) return 0.0;
  std::vector<double> v = logits.to_vector<double>();
  std::vector<int64_t> t = target.to_vector<int64_t>();
  int64_t hits = 0;
  for (int64_t i = 0; i < n; ++i) {
    HONE_CHECK(t[size_t(i)] >= 0 && t[size_t(i)] < c, "topk_accuracy: target ", t[size_t(i)], " at row ", i,
               " is out of range for ", c, " classes");
    const double tv = v[size_t(i * c + t[size_t(i)])];
    int64_t better = 0;  // classes scoring at least as high, other than the target
    for (int64_t j = 0; j < c; ++j) better += j != t[size_t(i)] && v[size_t(i * c + j)] >= tv;
    hits += better < k;
  }
  return double(hits) / double(n);
}

}  // namespace hone
