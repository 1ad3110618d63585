#pragma once
// export_onnx: writes a network as an ONNX opset-17 file for inference elsewhere (ONNX
// Runtime and the like), with its current weights.
//
// A native module (ResNet, VGG, or any module whose forward is made of hone's ops) is
// exported by tracing: its forward runs in eval mode under NoGradGuard on a batch-1 input
// of [channels, input_size] (and again at batch 2, to prove the graph holds for any batch and
// that nothing untraced feeds it), and the ops it ran are written through one op -> ONNX
// table (export_traced.cpp). The graph is what forward does, not what the module types
// suggest; initializers keep the state_dict names ("layer1.0.conv1.weight"); the batch dim
// is symbolic; every module's training mode is as it was afterwards. BN is written as
// BatchNormalization with its running statistics (a Frozen identity BN, from a folded
// import, included); Dropout is the identity at inference and is left out. An op without an
// ONNX mapping, or a value forward computes without a traced op, is a hone::Error naming
// the op and its module.
//
// A graph brought in by import_onnx (an OnnxModule, fine-tuned or not) is re-exported
// node by node, keeping its names and dims, with old-opset forms rewritten.
//
// What the model expects of its input goes into metadata_props, which read_preprocessing
// reads back (from our files or any file that carries the same keys):
//   hone.input_size "224,224"  hone.resize "256"  hone.mean "0.485,0.456,0.406"  hone.std "0.229,0.224,0.225"
//   hone.class_names  one name per line
#include <filesystem>
#include <string>
#include <vector>

#include "io/onnx/model.h"
#include "nn/module.h"

namespace hone::io::onnx {

struct Preprocessing {
  std::vector<int64_t> input_size;  // {H, W}; empty if unknown
  int64_t resize = -1;              // shorter side before the centre crop; 0 none; -1 unknown
  std::vector<double> mean, std;    // per channel; empty if unknown
  std::vector<std::string> class_names;
};

struct ExportOptions {
  int64_t channels = 3;             // input [batch, channels, H, W], batch symbolic
  Preprocessing preprocessing = {.input_size = {224, 224}};
  std::string graph_name = "hone";
};

// Writes through an AtomicFile (io/atomic_file.h): `path` holds its old file or the
// complete new one whatever happens midway; a failed write is a hone::Error naming the
// path and the system's reason.
void export_onnx(nn::Module& model, const std::filesystem::path& path, const ExportOptions& options = {});

Preprocessing read_preprocessing(const Model& model);

}  // namespace hone::io::onnx
