// The dispatch point (autograd/ops/dispatch.h, kernels/registry.h): every op family reaches
// its kernel through the registry, keyed by (device, dtype, the context's backend for the
// family); outputs and gradients live on the inputs' device whatever the context's
// default device; a backend that has no kernel for the key is an error naming the op.
#include <functional>
#include <set>
#include <string>

#include "kernels/registry.h"
#include "test_util.h"

namespace hone {
namespace {

using kernels::KernelTable;

// One use of each op family, forward and backward, on small CPU tensors.
struct FamilyUse {
  const char* family;
  std::function<void()> run;
};

std::vector<FamilyUse> every_family() {
  auto leaf = [](Shape s, uint64_t seed) {
    Generator g(seed);
    Tensor t = randn(s, {}, &g);
    t.set_requires_grad(true);
    return t;
  };
  return {
      {"unary", [=] { exp(leaf({3, 4}, 1)).sum().backward(); }},
      {"binary", [=] { (leaf({3, 4}, 1) * leaf({4}, 2)).sum().backward(); }},
      {"matmul", [=] { matmul(leaf({3, 4}, 1), leaf({4, 5}, 2)).sum().backward(); }},
      {"conv2d", [=] { conv2d(leaf({1, 2, 5, 5}, 1), leaf({3, 2, 3, 3}, 2)).sum().backward(); }},
      {"batch_norm", [=] {
         Tensor rm = zeros({2}), rv = ones({2});
         batch_norm(leaf({2, 2, 3, 3}, 1), leaf({2}, 2), leaf({2}, 3), rm, rv).sum().backward();
       }},
      {"max_pool2d", [=] { max_pool2d(leaf({1, 2, 4, 4}, 1), {.kernel = {2, 2}}).sum().backward(); }},
      {"avg_pool2d", [=] { avg_pool2d(leaf({1, 2, 4, 4}, 1), {.kernel = {2, 2}}).sum().backward(); }},
      {"adaptive_avg_pool2d", [=] { global_avg_pool2d(leaf({1, 2, 4, 4}, 1)).sum().backward(); }},
      {"softmax", [=] { (softmax(leaf({3, 4}, 1), 1) * leaf({3, 4}, 2)).sum().backward(); }},
      {"cross_entropy", [=] {
         cross_entropy(leaf({3, 4}, 1), from_vector<int64_t>({0, 3, 1}, {3})).backward();
       }},
      {"sum", [=] { sum(leaf({3, 4}, 1), {1}).sum().backward(); }},
      {"max", [=] { max(leaf({3, 4}, 1), 1).values.sum().backward(); }},
      {"dropout", [=] { dropout(leaf({3, 4}, 1), 0.5, true).sum().backward(); }},
      {"optimizer", [=] {
         Tensor w = leaf({3, 4}, 1);
         (w * w).sum().backward();
         optim::SGD({w}, {.lr = 0.1}).step();
       }},
      {"clip_grad_norm", [=] {
         Tensor w = leaf({3, 4}, 1);
         (w * w).sum().backward();
         optim::clip_grad_norm({w}, 1.0);
       }},
  };
}

TEST(Dispatch, EveryOpFamilyRunsThroughTheRegistry) {
  // Asking for the vendor backend, which has no CPU kernels, makes each family fail with an
  // error naming it: proof that the op looked its kernel up by (device, dtype, backend)
  // rather than calling a CPU kernel directly. Native and Auto run.
  for (const FamilyUse& use : every_family()) {
    SCOPED_TRACE(use.family);
    for (Backend b : {Backend::Auto, Backend::Native}) {
      Context ctx;
      ctx.set_backend(use.family, b);
      ContextGuard guard(ctx);
      EXPECT_NO_THROW(use.run());
    }
    Context ctx;
    ctx.set_backend(use.family, Backend::Vendor);
    ContextGuard guard(ctx);
    test::expect_error(use.run, {"no vendor kernel for cpu", std::string(use.family) + " ", "kernels: native cpu"});
  }
}

TEST(Dispatch, InPlaceOpsAndOptimizerUpdatesGoThroughTheRegistry) {
  Tensor w = ones({4});
  w.set_requires_grad(true);
  (w * 2.0).sum().backward();
  optim::SGD opt({w}, {.lr = 0.1});
  {
    Context ctx;
    ctx.set_backend("optimizer", Backend::Vendor);
    ctx.set_backend("binary", Backend::Vendor);
    ContextGuard guard(ctx);
    test::expect_error([&] { opt.step(); }, {"SGD.step: no vendor kernel", "optimizer sgd"});
    NoGradGuard ng;
    test::expect_error([&] { w.add_(ones({4})); }, {"add_: no vendor kernel", "binary forward"});
  }
  opt.step();  // and with the default backend it runs
  EXPECT_NEAR(w.to_vector<float>()[0], 1.0f - 0.1f * 2.0f, 1e-6f);
}

TEST(Dispatch, OutputsStayOnTheInputsDeviceWhateverTheDefaultDevice) {
  // With HONE_DEVICE=cuda:0 (here: a context whose default device is CUDA) and CPU tensors,
  // every forward output and every gradient is a CPU tensor: ops allocate on their inputs'
  // device, never on the context's default (which would hand CUDA memory to a CPU kernel,
  // or fail for want of a GPU).
  Generator gen(7);
  Tensor x = randn({2, 3, 8, 8}, {}, &gen);
  Tensor w = randn({4, 3, 3, 3}, {}, &gen), b = randn({4}, {}, &gen);
  Tensor gamma = ones({4}), beta = zeros({4}), rm = zeros({4}), rv = ones({4});
  Tensor fc = randn({5, 4}, {}, &gen), fcb = zeros({5});
  for (Tensor* t : {&x, &w, &b, &gamma, &beta, &fc, &fcb}) t->set_requires_grad(true);
  const Tensor target = from_vector<int64_t>({1, 4}, {2});
  Context ctx;
  ctx.set_default_device(Device::cuda(0));
  ContextGuard guard(ctx);
  Tensor h = conv2d(x, w, b, {.padding = symmetric_padding(1, 1)});
  h = batch_norm(h, gamma, beta, rm, rv);
  h = add_relu(h, h);
  h = max_pool2d(h, {.kernel = {2, 2}});
  h = avg_pool2d(h, {.kernel = {2, 2}});
  h = global_avg_pool2d(h).reshape({2, 4});
  Tensor logits = linear(h, fc, fcb);
  Tensor loss = cross_entropy(log_softmax(logits, 1), target) + max(logits) * 0.0;
  EXPECT_TRUE(loss.device().is_cpu());
  loss.backward();
  for (Tensor* t : {&x, &w, &b, &gamma, &beta, &fc, &fcb}) {
    ASSERT_TRUE(t->grad().defined());
    EXPECT_TRUE(t->grad().device().is_cpu()) << t->grad().device().str();
  }
  optim::SGD opt({x, w, b, gamma, beta, fc, fcb}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4});
  opt.step();
  EXPECT_TRUE(w.device().is_cpu());
}

TEST(Dispatch, TablesResolveByDeviceDtypeAndBackend) {
  // A table of our own (the process registry is fixed once built).
  static int ran = 0;
  KernelTable<int> table("example", "forward");
  table.add(DeviceType::CPU, {DType::Float32}, Backend::Native, "cpu", [](const int&, const kernels::Exec&) { ran = 1; });
  table.add(DeviceType::CPU, {DType::Float32, DType::Float64}, Backend::Vendor, "vendor",
            [](const int&, const kernels::Exec&) { ran = 2; });
  EXPECT_STREQ(table.resolve(DeviceType::CPU, DType::Float32, Backend::Auto, "example").impl, "cpu");  // ours first
  EXPECT_STREQ(table.resolve(DeviceType::CPU, DType::Float32, Backend::Vendor, "example").impl, "vendor");
  EXPECT_STREQ(table.resolve(DeviceType::CPU, DType::Float64, Backend::Auto, "example").impl, "vendor");  // Auto: else the vendor's
  table.resolve(DeviceType::CPU, DType::Float64, Backend::Auto, "example").fn(0, {});
  EXPECT_EQ(ran, 2);
  test::expect_error([&] { table.resolve(DeviceType::CPU, DType::Float64, Backend::Native, "example"); },
                     {"example: no native kernel for cpu float64 (example forward kernels: native cpu float32; "
                      "vendor cpu float32, float64)"});
  test::expect_error([&] { table.resolve(DeviceType::CUDA, DType::Float32, Backend::Auto, "example"); },
                     {"example: no kernel for cuda float32"});
  test::expect_error(
      [&] { table.add(DeviceType::CPU, {DType::Float32}, Backend::Native, "again", [](const int&, const kernels::Exec&) {}); },
      {"example forward", "native kernel for cpu float32 is already registered"});
  test::expect_error(
      [&] { table.add(DeviceType::CPU, {DType::Int64}, Backend::Auto, "auto", [](const int&, const kernels::Exec&) {}); },
      {"example forward", "Native or Vendor"});
}

TEST(Dispatch, TheRegistryHoldsOurCpuKernelForEveryFamilyInBothFloatTypes) {
  const kernels::KernelRegistry& r = kernels::kernel_registry();
  std::set<std::string> families;
  auto check = [&](const auto& table) {
    SCOPED_TRACE(table.name());
    families.insert(table.family());
    for (DType t : {DType::Float32, DType::Float64}) {
      const auto* e = table.find(DeviceType::CPU, t, Backend::Native);
      ASSERT_NE(e, nullptr) << dtype_name(t);
      EXPECT_NE(e->fn, nullptr);
    }
  };
  check(r.unary), check(r.binary), check(r.matmul), check(r.conv2d_forward), check(r.conv2d_backward);
  check(r.batch_norm_forward), check(r.batch_norm_backward), check(r.max_pool2d_forward), check(r.max_pool2d_backward);
  check(r.avg_pool2d_forward), check(r.avg_pool2d_backward), check(r.adaptive_avg_pool2d_forward);
  check(r.adaptive_avg_pool2d_backward), check(r.softmax_forward), check(r.softmax_backward);
  check(r.cross_entropy_forward), check(r.cross_entropy_backward), check(r.sum), check(r.max_dim), check(r.index_add_dim);
  check(r.dropout_forward), check(r.dropout_backward);
  check(r.sgd_update), check(r.adam_update), check(r.sum_of_squares), check(r.clip_scale);
  // Every family has a use in EveryOpFamilyRunsThroughTheRegistry.
  std::set<std::string> used;
  for (const FamilyUse& u : every_family()) used.insert(u.family);
  EXPECT_EQ(families, used);
}

}  // namespace
}  // namespace hone

namespace hone {
namespace {

TEST(Dispatch, ErrorsNameTheUsersOpAndWhatIsRegistered) {
  Context ctx;
  ctx.set_backend("binary", Backend::Vendor);
  ContextGuard guard(ctx);
  NoGradGuard ng;
  Tensor w = ones({3});
  test::expect_error([&] { w.add_(ones({3})); },
                     {"add_: no vendor kernel for cpu float32 (binary forward kernels: native cpu float32, float64, "
                      "int64, int32, uint8",
                      "set back to Auto"});
  test::expect_error([&] { linear(ones({2, 3}), ones({4, 3}), ones({4})); }, "linear: no");  // bias add: binary
}

TEST(Dispatch, UnknownBackendFamiliesAreRefused) {
  Context ctx;
  test::expect_error([&] { ctx.set_backend("Conv2d", Backend::Vendor); },
                     {"set_backend: unknown op family 'Conv2d'", "conv2d", "batch_norm"});
  // Context's list of families is the registry's.
  std::set<std::string> registry_families;
  const kernels::KernelRegistry& r = kernels::kernel_registry();
  for (const char* f : {r.unary.family(), r.binary.family(), r.matmul.family(), r.conv2d_forward.family(),
                        r.conv2d_backward.family(), r.batch_norm_forward.family(), r.batch_norm_backward.family(),
                        r.max_pool2d_forward.family(), r.max_pool2d_backward.family(), r.avg_pool2d_forward.family(),
                        r.avg_pool2d_backward.family(), r.adaptive_avg_pool2d_forward.family(),
                        r.adaptive_avg_pool2d_backward.family(), r.softmax_forward.family(), r.softmax_backward.family(),
                        r.cross_entropy_forward.family(), r.cross_entropy_backward.family(), r.sum.family(),
                        r.max_dim.family(), r.index_add_dim.family(), r.dropout_forward.family(),
                        r.dropout_backward.family(), r.sgd_update.family(), r.adam_update.family(),
                        r.sum_of_squares.family(), r.clip_scale.family()})
    registry_families.insert(f);
  const auto& listed = Context::op_families();
  EXPECT_EQ(registry_families, std::set<std::string>(listed.begin(), listed.end()));
}

TEST(Dispatch, BackwardRefusesAGradientOfAnotherShapeDtypeOrDevice) {
  Tensor x = ones({2, 3});
  x.set_requires_grad(true);
  Tensor y = x * 2.0;
  test::expect_error([&] { y.backward(ones({3, 2})); }, {"backward: the gradient must match the output (shape [2,3], float32 on cpu), got [3,2]"});
  test::expect_error([&] { y.backward(ones({2, 3}, {.dtype = DType::Float64})); }, "float64 on cpu");
}

}  // namespace
}  // namespace hone
