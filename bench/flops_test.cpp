// The benchmarks' FLOP counter (bench/flops.h) against torchvision's figures: the
// multiply-adds of every Conv2d and Linear of torchvision's resnet18 and vgg16 at 1x3x224x224,
// counted with forward hooks in torch 1.13 (torchvision quotes them as "GFLOPS" 1.81 and
// 15.47). Here a multiply-add is 2 FLOPs.
#include <gtest/gtest.h>

#include "bench/flops.h"
#include "models/resnet.h"
#include "models/vgg.h"

namespace hone::bench {
namespace {

TEST(BenchFlops, ResNet18At224MatchesTorchvision) {
  Generator g(1);
  auto net = models::resnet18(1000, &g);
  const NetworkFlops f = count_flops(*net, 3, 224);
  EXPECT_DOUBLE_EQ(f.forward, 2.0 * 1814073344);
  EXPECT_DOUBLE_EQ(f.first_layer, 2.0 * 118013952);  // conv1: 64 x 112 x 112 outputs, 3 x 7 x 7 each
  EXPECT_DOUBLE_EQ(f.last_layer, 2.0 * 512000);      // fc: 512 -> 1000
  EXPECT_DOUBLE_EQ(train_step_flops(f), 3 * f.forward - f.first_layer);
}

TEST(BenchFlops, Vgg16At224MatchesTorchvision) {
  Generator g(1);
  auto net = models::vgg16(1000, false, &g);
  const NetworkFlops f = count_flops(*net, 3, 224);
  EXPECT_DOUBLE_EQ(f.forward, 2.0 * 15470264320);
  EXPECT_DOUBLE_EQ(f.last_layer, 2.0 * 4096000);  // classifier.6: 4096 -> 1000
}

TEST(BenchFlops, ScalesWithTheInput) {  // ResNet-18 at 112: every conv output a quarter, fc the same
  Generator g(1);
  auto net = models::resnet18(10, &g);
  const NetworkFlops f = count_flops(*net, 3, 112);
  EXPECT_DOUBLE_EQ(f.first_layer, 2.0 * 118013952 / 4);
  EXPECT_DOUBLE_EQ(f.last_layer, 2.0 * 512 * 10);
}

}  // namespace
}  // namespace hone::bench
