// The ONNX backend node tests (Debian's libonnx-testdata: data/node and
// data/pytorch-converted), run through import_onnx. Every test is run or skipped with a
// printed reason; in scope are float32 tests of 2-D spatial ops from import.h's list, and
// every in-scope test must pass. The tests that pass are pinned in
// tests/golden/onnx_conformance_passes.txt: a test that stops passing (a regression turned
// into a skip) fails this, and so does a new pass until it is added to the list. Prints a
// conformance report.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "autograd/grad_mode.h"
#include "io/onnx/import.h"
#include "test_util.h"

namespace hone {
namespace {

namespace fs = std::filesystem;
using io::onnx::Model;

const fs::path kTestData = "/usr/share/libonnx-testdata/data";

struct Outcome {
  enum Kind { Pass, Fail, Skip } kind;
  std::string why;
};

std::vector<fs::path> numbered(const fs::path& dir, const std::string& stem) {
  std::vector<fs::path> out;
  for (int i = 0;; ++i) {
    const fs::path p = dir / (stem + "_" + std::to_string(i) + ".pb");
    if (!fs::exists(p)) break;
    out.push_back(p);
  }
  return out;
}

bool spatial(const std::string& op) {
  return op == "Conv" || op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool";
}

Outcome run_one(const fs::path& dir) {
  Model model;
  try {
    model = io::onnx::read_model(dir / "model.onnx");
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.find("opset") != std::string::npos && msg.find("outside") != std::string::npos) return {Outcome::Skip, "opset"};
    if (msg.find("data type") != std::string::npos) return {Outcome::Skip, "dtype"};
    if (msg.find("domain") != std::string::npos && msg.find("is not supported") != std::string::npos)
      return {Outcome::Skip, "domain (not the default ONNX one)"};
    return {Outcome::Fail, msg};
  }
  for (const auto& v : model.inputs)
    if (!v.is_tensor) return {Outcome::Skip, "sequence/map type"};
  for (const auto& v : model.outputs)
    if (!v.is_tensor) return {Outcome::Skip, "sequence/map type"};
  for (const auto& n : model.nodes)
    if (!n.domain.empty() || !io::onnx::op_supported(n.op_type)) return {Outcome::Skip, "op " + n.op_type};
  const fs::path data = dir / "test_data_set_0";
  std::vector<Tensor> inputs, expected;
  try {
    for (const auto& p : numbered(data, "input")) inputs.push_back(io::onnx::read_tensor_file(p));
    for (const auto& p : numbered(data, "output")) expected.push_back(io::onnx::read_tensor_file(p));
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.find("data type") != std::string::npos) return {Outcome::Skip, "dtype"};
    return {Outcome::Fail, msg};
  }
  for (const Tensor& t : inputs)
    if (t.dtype() != DType::Float32 && t.dtype() != DType::Int64) return {Outcome::Skip, "dtype"};
  for (const Tensor& t : expected)
    if (t.dtype() != DType::Float32) return {Outcome::Skip, "dtype"};
  for (const auto& n : model.nodes)
    if (spatial(n.op_type) && !inputs.empty() && inputs[0].dim() != 4) return {Outcome::Skip, "not 2-D spatial"};
  if (inputs.size() != model.inputs.size()) return {Outcome::Fail, "test data has a different number of inputs"};
  try {
    io::onnx::OnnxModule m(std::move(model));
    m.eval();
    NoGradGuard no_grad;
    const std::vector<Tensor> got = m.run(inputs);
    if (got.size() != expected.size()) return {Outcome::Fail, "output count differs"};
    for (size_t i = 0; i < got.size(); ++i) {
      if (got[i].shape() != expected[i].shape())
        return {Outcome::Fail, "output " + std::to_string(i) + " shape " + testing::PrintToString(got[i].shape()) +
                                   " expected " + testing::PrintToString(expected[i].shape())};
      const std::vector<float> a = got[i].to(DType::Float32).contiguous().to_vector<float>(),
                               b = expected[i].contiguous().to_vector<float>();
      for (size_t k = 0; k < a.size(); ++k) {
        const bool both_nan = std::isnan(a[k]) && std::isnan(b[k]);
        if (!both_nan && !(std::fabs(a[k] - b[k]) <= 1e-5 + 1e-3 * std::fabs(b[k])))
          return {Outcome::Fail, "output " + std::to_string(i) + " element " + std::to_string(k) + ": " +
                                     std::to_string(a[k]) + " expected " + std::to_string(b[k])};
      }
    }
  } catch (const Error& e) {
    const std::string msg = e.what();
    const size_t at = msg.find("is not supported");
    if (at != std::string::npos) {
      const size_t colon = msg.rfind(": ", at);
      return {Outcome::Skip, colon == std::string::npos ? msg : msg.substr(colon + 2)};
    }
    return {Outcome::Fail, msg};
  }
  return {Outcome::Pass, ""};
}

TEST(OnnxConformance, BackendNodeTests) {
  if (!fs::exists(kTestData / "node")) GTEST_SKIP() << kTestData << " not found: install Debian's libonnx-testdata";
  std::map<std::string, int> skip_reasons;
  int passed = 0, failed = 0, skipped = 0;
  std::vector<std::string> passed_names;
  for (const char* suite : {"node", "pytorch-converted"}) {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(kTestData / suite))
      if (fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const fs::path& d : dirs) {
      const Outcome o = run_one(d);
      const std::string name = std::string(suite) + "/" + d.filename().string();
      if (o.kind == Outcome::Pass) {
        ++passed;
        passed_names.push_back(name);
      } else if (o.kind == Outcome::Skip) {
        ++skipped;
        ++skip_reasons[o.why];
      } else {
        ++failed;
        ADD_FAILURE() << name << ": " << o.why;
      }
    }
  }
  std::printf("ONNX backend node tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
  std::printf("skipped, by reason:\n");
  for (const auto& [why, n] : skip_reasons) std::printf("  %4d  %s\n", n, why.c_str());
  std::printf("passed:");
  for (const auto& n : passed_names) std::printf(" %s", n.c_str());
  std::printf("\n");
  EXPECT_EQ(failed, 0);
  std::set<std::string> pinned;
  std::ifstream list(std::string(HONE_TESTS_DIR) + "/golden/onnx_conformance_passes.txt");
  ASSERT_TRUE(list) << "tests/golden/onnx_conformance_passes.txt is missing";
  for (std::string line; std::getline(list, line);)
    if (!line.empty() && line[0] != '#') pinned.insert(line);
  const std::set<std::string> got(passed_names.begin(), passed_names.end());
  for (const std::string& n : pinned)
    EXPECT_TRUE(got.count(n)) << n << " passed before and no longer does (see the skip reasons above)";
  for (const std::string& n : got)
    EXPECT_TRUE(pinned.count(n)) << n << " passes now: add it to tests/golden/onnx_conformance_passes.txt";
  EXPECT_EQ(passed, int(pinned.size()));
}

}  // namespace
}  // namespace hone
