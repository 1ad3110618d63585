// VGG-16 and VGG-16-BN in the model zoo's layout and as torch 1.13 exports (opset 13/17,
// BN kept and folded), with generated weights: 528 MB each, so in the slow suite
// (ctest --preset slow). See tests/onnx_models_test.cpp for ResNet-18.
#include "models/vgg.h"
#include "onnx_fixtures.h"

namespace hone {
namespace {

using test::onnx_fixtures::check_fixture;

TEST(OnnxModelsSlow, Vgg16ModelZooLayout) { check_fixture("zoo_vgg16", *models::vgg16()); }
TEST(OnnxModelsSlow, Vgg16BnModelZooLayout) { check_fixture("zoo_vgg16_bn", *models::vgg16(1000, true)); }
TEST(OnnxModelsSlow, Vgg16Torch113Opset17) { check_fixture("tv_vgg16_op17", *models::vgg16()); }
TEST(OnnxModelsSlow, Vgg16BnTorch113Opset13BnKept) { check_fixture("tv_vgg16_bn_op13_bn_kept", *models::vgg16(1000, true)); }
TEST(OnnxModelsSlow, Vgg16BnTorch113Opset13BnFolded) { check_fixture("tv_vgg16_bn_op13_bn_folded", *models::vgg16(1000, true)); }
TEST(OnnxModelsSlow, Vgg16BnTorch113Opset17BnKept) { check_fixture("tv_vgg16_bn_op17_bn_kept", *models::vgg16(1000, true)); }
TEST(OnnxModelsSlow, Vgg16BnTorch113Opset17BnFolded) { check_fixture("tv_vgg16_bn_op17_bn_folded", *models::vgg16(1000, true), false); }

}  // namespace
}  // namespace hone
