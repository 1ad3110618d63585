#pragma once
// The ONNX model fixtures of tests/golden/onnx (see its manifest.txt and
// tools/golden/onnx_fixtures.py): skeleton files in the exact layouts users bring, whose
// float weights are regenerated here by the generator's rule, and golden outputs from ONNX
// Runtime and PyTorch on the rule's input. Header-only: used by the unit and slow suites.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "autograd/grad_mode.h"
#include "io/onnx/import.h"
#include "io/onnx/weights.h"
#include "nn/layers.h"
#include "onnx.pb.h"
#include "tensor/tensor.h"

namespace hone::test::onnx_fixtures {

namespace fs = std::filesystem;

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  uint64_t z = x;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
// In [-1, 1): the generator's u(seed, i).
inline double rule_u(uint64_t seed, uint64_t i) { return double(splitmix64(seed * 0x100000000ull + i) >> 40) / 16777216.0 * 2 - 1; }

struct Fixture {
  std::string name, skeleton;
  int64_t opset = 0, batch = 0;
  std::string bn;  // kept, folded, none
  bool torch_golden = false;
  fs::path skeleton_path() const {
    if (skeleton.rfind("shared:", 0) == 0) return fs::path(HONE_SHARED_DIR) / skeleton.substr(7);
    return fs::path(HONE_TESTS_DIR) / "golden" / "onnx" / skeleton;
  }
};

inline std::vector<Fixture> manifest() {
  std::ifstream in(fs::path(HONE_TESTS_DIR) / "golden" / "onnx" / "manifest.txt");
  std::vector<Fixture> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    Fixture f;
    std::string refs, shape;
    ls >> f.name >> f.skeleton >> f.opset >> f.bn >> f.batch >> refs >> shape;
    f.torch_golden = refs.find("torch") != std::string::npos;
    out.push_back(f);
  }
  return out;
}

inline Fixture fixture(const std::string& name) {
  for (const Fixture& f : manifest())
    if (f.name == name) return f;
  throw std::runtime_error("no fixture " + name);
}

// Writes the fixture with the rule's weights into `dir` and returns the model's path.
// inline_weights: weights the skeleton keeps in <name>.weights go into raw_data, as the
// real files of that layout have them (model zoo, torch 1.13); otherwise, and always for
// other external files (the dynamo export's own data file), they are written to the data
// file at the offsets the skeleton gives.
inline fs::path materialize(const Fixture& f, const fs::path& dir, bool inline_weights) {
  ::onnx::ModelProto m;
  {
    std::ifstream in(f.skeleton_path(), std::ios::binary);
    if (!in || !m.ParseFromIstream(&in)) throw std::runtime_error("cannot read " + f.skeleton_path().string());
  }
  std::map<std::string, int> bn_role;  // initializer -> BatchNormalization input index
  for (const auto& n : m.graph().node())
    if (n.op_type() == "BatchNormalization")
      for (int i = 1; i < n.input_size() && i <= 4; ++i) bn_role[n.input(i)] = i;
  std::map<std::string, std::fstream> files;
  auto* inits = m.mutable_graph()->mutable_initializer();
  for (int k = 0; k < inits->size(); ++k) {
    ::onnx::TensorProto& t = (*inits)[k];
    if (t.data_type() != ::onnx::TensorProto::FLOAT) continue;
    int64_t numel = 1;
    for (int64_t d : t.dims()) numel *= d;
    std::vector<float> v(static_cast<size_t>(numel));
    const int role = bn_role.count(t.name()) ? bn_role[t.name()] : 0;
    const double fan_in = t.dims_size() >= 2 ? double(numel) / double(t.dims(0)) : 1.0;
    for (int64_t i = 0; i < numel; ++i) {
      const double u = rule_u(uint64_t(k + 1), uint64_t(i));
      double x;
      if (t.dims_size() >= 2) x = u * std::sqrt(3.0 / fan_in);
      else if (role == 1) x = 1 + 0.1 * u;
      else if (role == 4) x = 1 + 0.25 * u;
      else x = 0.1 * u;
      v[size_t(i)] = float(x);
    }
    const std::string bytes(reinterpret_cast<const char*>(v.data()), v.size() * 4);
    std::string location;
    int64_t offset = 0;
    for (const auto& e : t.external_data()) {
      if (e.key() == "location") location = e.value();
      if (e.key() == "offset") offset = std::stoll(e.value());
    }
    const bool ours = location == f.name + ".weights";
    if (t.data_location() == ::onnx::TensorProto::EXTERNAL && !(ours && inline_weights)) {
      auto& out = files[location];
      if (!out.is_open()) {
        std::ofstream(dir / location, std::ios::binary).close();
        out.open(dir / location, std::ios::binary | std::ios::in | std::ios::out);
      }
      out.seekp(offset);
      out.write(bytes.data(), std::streamsize(bytes.size()));
    } else {
      t.clear_external_data();
      t.set_data_location(::onnx::TensorProto::DEFAULT);
      t.clear_float_data();
      t.set_raw_data(bytes);
    }
  }
  const fs::path path = dir / (f.name + ".onnx");
  std::ofstream out(path, std::ios::binary);
  m.SerializeToOstream(&out);
  return path;
}

// The generator's input: [batch, 3, 224, 224], element i = 2 * u(1000003, i).
inline Tensor rule_input(int64_t batch) {
  std::vector<float> v(size_t(batch * 3 * 224 * 224));
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(2 * rule_u(1000003, i));
  return from_vector(v, {batch, 3, 224, 224});
}

inline std::vector<float> golden(const Fixture& f, const std::string& ref) {
  std::ifstream in(fs::path(HONE_TESTS_DIR) / "golden" / "onnx" / (f.name + "." + ref + ".bin"), std::ios::binary);
  std::vector<float> v(size_t(f.batch * 1000));
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * 4));
  if (!in) throw std::runtime_error("cannot read golden " + f.name + "." + ref);
  return v;
}

inline double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]), den += double(b[i]) * b[i];
  return std::sqrt(num / den);
}

inline std::vector<int> top5(const std::vector<float>& logits, int64_t row) {
  std::vector<int> idx(1000);
  for (int i = 0; i < 1000; ++i) idx[size_t(i)] = i;
  const float* r = logits.data() + row * 1000;
  std::partial_sort(idx.begin(), idx.begin() + 5, idx.end(), [&](int a, int b) { return r[a] > r[b]; });
  idx.resize(5);
  return idx;
}

// The proof for one fixture: both front doors (import_onnx, load_onnx_weights into
// `native`) against every golden within 2e-6 norm-wise relative error (README.md claims it) with the same
// top-5 classes, and against each other.
inline void check_fixture(const std::string& name, nn::Module& native, bool inline_weights = true) {
  const Fixture f = fixture(name);
  if (!fs::exists(f.skeleton_path())) GTEST_SKIP() << f.skeleton_path() << " not found";
  const fs::path dir = fs::temp_directory_path() / ("hone_fixture_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path file = materialize(f, dir, inline_weights);
  const Tensor x = rule_input(f.batch);
  NoGradGuard no_grad;
  std::vector<float> imported, loaded;
  {
    auto m = io::onnx::import_onnx(file);
    m->eval();
    imported = m->forward(x).contiguous().to_vector<float>();
    EXPECT_EQ(m->bn_folded(), f.bn == "folded") << name;
  }
  {
    const io::onnx::WeightsReport r = io::onnx::load_onnx_weights(native, file);
    native.eval();
    loaded = native.forward(x).contiguous().to_vector<float>();
    if (f.bn == "folded") {
      EXPECT_GT(r.folded_batch_norms, 0) << name;
      for (const auto& [n, mod] : native.named_modules())
        if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(mod)) EXPECT_EQ(bn->mode(), nn::BatchNormMode::Frozen) << n;
    } else {
      EXPECT_EQ(r.folded_batch_norms, 0) << name;
    }
  }
  fs::remove_all(dir);
  ASSERT_EQ(imported.size(), size_t(f.batch * 1000));
  ASSERT_EQ(loaded.size(), imported.size());
  EXPECT_LT(relative_error(loaded, imported), 1e-5) << name << ": the two front doors differ";
  std::vector<std::string> refs = {"ort"};
  if (f.torch_golden) refs.push_back("torch");
  for (const std::string& ref : refs) {
    const std::vector<float> want = golden(f, ref);
    for (const auto* got : {&imported, &loaded}) {
      const char* door = got == &imported ? "import_onnx" : "load_onnx_weights";
      const double err = relative_error(*got, want);
      EXPECT_LT(err, 2e-6) << name << " " << door << " vs " << ref;  // what README.md claims
      std::printf("%s: %s vs %s: relative error %.2e\n", name.c_str(), door, ref.c_str(), err);
      for (int64_t r = 0; r < f.batch; ++r) EXPECT_EQ(top5(*got, r), top5(want, r)) << name << " " << door << " vs " << ref << " image " << r;
    }
  }
}

}  // namespace hone::test::onnx_fixtures
