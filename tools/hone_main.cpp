// The `hone` command line. Subcommands arrive with their issues: inspect (models, ONNX
// files), finetune, eval, predict, bench. Today it reports the build and the runtime.
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "hone.h"
#include "models/zoo.h"

namespace {

int usage(std::ostream& os, int code) {
  os << "usage: hone <command> [options]\n"
        "commands:\n"
        "  version     print the version, build options and the runtime context\n"
        "  inspect     MODEL [--json]: layers, output shapes, parameters (total, trainable)\n"
        "              MODEL is a built-in name: resnet18, resnet34, resnet50, vgg11..vgg19[_bn], small_resnet,\n"
        "              or an ONNX file (ops, opset, parameters, whether BN was folded; the whole file,\n"
        "              weights included, is loaded and checked as training would)\n"
        "  finetune    fine-tune a pretrained network (arrives with the image loader)\n";
  return code;
}

std::string dims_string(const std::vector<int64_t>& dims, const std::vector<std::string>& names, bool json) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) out += json ? ", " : ",";
    if (dims[i] >= 0) out += std::to_string(dims[i]);
    else if (json) out += hone::io::json_quote(i < names.size() ? names[i] : "");
    else out += i < names.size() && !names[i].empty() ? names[i] : "?";
  }
  return out + "]";
}

// An ONNX file: imported exactly as training would (a bad file fails here), then described.
int inspect_onnx(const std::string& path, bool json) {
  auto m = hone::io::onnx::import_onnx(path);
  const hone::io::onnx::Model& model = m->model();
  const auto count = m->count_parameters();
  std::map<std::string, int> ops;
  for (const auto& n : model.nodes) ++ops[n.op_type];
  const std::string producer = model.producer_name + (model.producer_version.empty() ? "" : " " + model.producer_version);
  if (json) {
    std::ostringstream os;
    os << "{\"file\": " << hone::io::json_quote(path) << ", \"producer\": " << hone::io::json_quote(producer)
       << ", \"ir_version\": " << model.ir_version << ", \"opset\": " << model.opset << ", \"nodes\": " << model.nodes.size()
       << ", \"ops\": {";
    bool first = true;
    for (const auto& [op, n] : ops) os << (first ? "" : ", ") << hone::io::json_quote(op) << ": " << n, first = false;
    os << "}, \"inputs\": [";
    for (size_t i = 0; i < model.inputs.size(); ++i)
      os << (i ? ", " : "") << "{\"name\": " << hone::io::json_quote(model.inputs[i].name)
         << ", \"shape\": " << dims_string(model.inputs[i].dims, model.inputs[i].dim_names, true) << "}";
    os << "], \"initializers\": " << model.initializers.size() << ", \"parameters\": " << count.total
       << ", \"trainable\": " << count.trainable << ", \"bn_folded\": " << (m->bn_folded() ? "true" : "false")
       << ", \"metadata\": {";
    for (size_t i = 0; i < model.metadata.size(); ++i)
      os << (i ? ", " : "") << hone::io::json_quote(model.metadata[i].first) << ": " << hone::io::json_quote(model.metadata[i].second);
    os << "}}\n";
    std::cout << os.str();
    return 0;
  }
  std::cout << path << "\n"
            << "  producer:     " << (producer.empty() ? "(none)" : producer) << "\n"
            << "  ir version:   " << model.ir_version << ", opset " << model.opset << "\n";
  for (const auto& v : model.inputs)
    std::cout << "  input:        " << v.name << " " << dims_string(v.dims, v.dim_names, false) << "\n";
  for (const auto& v : model.outputs)
    std::cout << "  output:       " << v.name << " " << dims_string(v.dims, v.dim_names, false) << "\n";
  std::cout << "  nodes:        " << model.nodes.size() << " (";
  bool first = true;
  for (const auto& [op, n] : ops) std::cout << (first ? "" : ", ") << op << " " << n, first = false;
  std::cout << ")\n"
            << "  parameters:   " << count.total << " (" << count.trainable << " trainable) in "
            << m->named_parameters().size() << " tensors, " << m->named_buffers().size() << " buffers\n"
            << "  batch norm:   " << (ops.count("BatchNormalization") ? "kept" : m->bn_folded() ? "folded into Conv by the exporter" : "none")
            << "\n";
  for (const auto& [k, v] : model.metadata) std::cout << "  metadata:     " << k << " = " << v << "\n";
  return 0;
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
  if (model.size() > 5 && model.compare(model.size() - 5, 5, ".onnx") == 0) return inspect_onnx(model, json);
  if (std::filesystem::is_regular_file(model)) return inspect_onnx(model, json);
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
                   "  Not available yet in this build: it needs the image loader. The network and the\n"
                   "  ONNX importer are ready: try `hone inspect resnet18` or `hone inspect FILE.onnx`.\n";
      return 3;
    }
    std::cerr << "hone: unknown command '" << cmd << "'\n";
    return usage(std::cerr, 2);
  } catch (const hone::Error& e) {
    std::cerr << "hone: error: " << e.what() << "\n";
    return 1;
  }
}
