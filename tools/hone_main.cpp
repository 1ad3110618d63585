// The `hone` command line. Subcommands arrive with their issues: inspect (models, ONNX
// files), finetune, eval, predict, bench. Today it reports the build and the runtime.
#include <cstring>
#include <iostream>

#include "hone.h"

namespace {

int usage(std::ostream& os, int code) {
  os << "usage: hone <command> [options]\n"
        "commands:\n"
        "  version     print the version, build options and the runtime context\n"
        "  finetune    fine-tune a pretrained network (arrives with the models and ONNX importer)\n"
        "  inspect     summarize a model or ONNX file (arrives with the models)\n";
  return code;
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
    if (!std::strcmp(cmd, "finetune") || !std::strcmp(cmd, "inspect")) {
      std::cerr << "hone " << cmd << ": not available yet in this build (see README: Status)\n";
      return 3;
    }
    std::cerr << "hone: unknown command '" << cmd << "'\n";
    return usage(std::cerr, 2);
  } catch (const hone::Error& e) {
    std::cerr << "hone: error: " << e.what() << "\n";
    return 1;
  }
}
