// The `hone` command line. Subcommands arrive with their issues: inspect (models, ONNX
// files), finetune, eval, predict, bench. Today it reports the build and the runtime.
#include <cstring>
#include <iostream>

#include "hone.h"
#include "models/zoo.h"

namespace {

int usage(std::ostream& os, int code) {
  os << "usage: hone <command> [options]\n"
        "commands:\n"
        "  version     print the version, build options and the runtime context\n"
        "  inspect     MODEL [--json]: layers, output shapes, parameters (total, trainable)\n"
        "              MODEL is a built-in name: resnet18, resnet34, resnet50, vgg11..vgg19[_bn], small_resnet\n"
        "  finetune    fine-tune a pretrained network (arrives with the ONNX importer, issue #5)\n";
  return code;
}

int inspect(int argc, char** argv) {
  std::string model;
  bool json = false;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json")) json = true;
    else if (argv[i][0] == '-') {
      std::cerr << "hone inspect: unknown option '" << argv[i] << "'\n";
      return 2;
    } else if (model.empty()) model = argv[i];
    else {
      std::cerr << "hone inspect: one MODEL only (got '" << model << "' and '" << argv[i] << "')\n";
      return 2;
    }
  }
  if (model.empty()) {
    std::cerr << "usage: hone inspect MODEL [--json]\n";
    return 2;
  }
  auto net = hone::models::create(model);
  const auto count = net->count_parameters();
  if (json) {
    std::cout << "{\"model\": \"" << model << "\", \"parameters\": " << count.total << ", \"trainable\": " << count.trainable
              << ", \"tensors\": " << net->named_parameters().size() << ", \"buffers\": " << net->named_buffers().size()
              << "}\n";
  } else {
    std::cout << model << "\n" << net->summary(hone::models::default_input_shape(model));
  }
  return 0;
}

int version() {
  hone::Context& ctx = hone::Context::current();
  std::cout << "hone " << HONE_VERSION << "\n"
            << "cuda: " << (hone::cuda_built() ? "built" : "not built") << ", devices: " << hone::cuda_device_count()
            << "\n"
            << "threads: " << ctx.num_threads() << " (cores available: " << hone::available_cores() << ")\n"
            << "default device: " << ctx.default_device().str() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) return usage(std::cerr, 2);
    const char* cmd = argv[1];
    if (!std::strcmp(cmd, "-h") || !std::strcmp(cmd, "--help") || !std::strcmp(cmd, "help")) return usage(std::cout, 0);
    if (!std::strcmp(cmd, "version") || !std::strcmp(cmd, "--version")) return version();
    if (!std::strcmp(cmd, "inspect")) return inspect(argc, argv);
    if (!std::strcmp(cmd, "finetune")) {
      // The main job, announced until its last pieces land (see README: Status).
      std::cerr << "hone finetune: will load an ImageNet ResNet-18 from ONNX, replace its head with one\n"
                   "  output per class folder under --data (train/ and val/), freeze the early stages and\n"
                   "  fine-tune the rest, reporting loss and accuracy per epoch.\n"
                   "  Not available yet in this build: it needs the ONNX importer (issue #5) and the\n"
                   "  image loader. The network itself is ready: try `hone inspect resnet18`.\n";
      return 3;
    }
    std::cerr << "hone: unknown command '" << cmd << "'\n";
    return usage(std::cerr, 2);
  } catch (const hone::Error& e) {
    std::cerr << "hone: error: " << e.what() << "\n";
    return 1;
  }
}
