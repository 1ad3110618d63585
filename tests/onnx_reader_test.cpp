// The ONNX reader and importer on hand-built files: every field it takes weights from
// (raw_data, typed fields, external data), and every kind of bad input, which must give a
// hone::Error naming the problem (never a crash). Files are built with the same protobuf
// classes the library uses.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "io/onnx/import.h"
#include "onnx.pb.h"
#include "onnx_builders.h"
#include "test_util.h"

namespace hone {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::expect_error_soon;
using test::onnx_builders::add_value;
using test::onnx_builders::float_tensor;
using test::onnx_builders::write;

using TempDir = test::TempDir;

// y = relu(x W^T + b) with W [3, 4], b [3]: small enough to check by hand.
::onnx::ModelProto linear_model(int opset = 13) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(opset);
  auto* g = m.mutable_graph();
  g->set_name("linear");
  std::vector<float> w(12), b = {0.5f, -1.0f, 0.25f};
  for (int i = 0; i < 12; ++i) w[size_t(i)] = float(i - 6) / 4.0f;
  *g->add_initializer() = float_tensor("fc.weight", {3, 4}, w);
  *g->add_initializer() = float_tensor("fc.bias", {3}, b);
  add_value(g->mutable_input(), "x", {2, 4});
  add_value(g->mutable_output(), "y", {2, 3});
  auto* gemm = g->add_node();
  gemm->set_op_type("Gemm");
  gemm->set_name("fc");
  gemm->add_input("x"), gemm->add_input("fc.weight"), gemm->add_input("fc.bias");
  gemm->add_output("z");
  auto* tb = gemm->add_attribute();
  tb->set_name("transB"), tb->set_type(::onnx::AttributeProto::INT), tb->set_i(1);
  auto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->set_name("act");
  relu->add_input("z"), relu->add_output("y");
  return m;
}

// Points a tensor at external data instead of its raw_data (offset and length left out
// when empty).
void set_external(::onnx::TensorProto& t, const std::string& location, const std::string& offset,
                  const std::string& length) {
  t.clear_raw_data();
  t.set_data_location(::onnx::TensorProto::EXTERNAL);
  auto add = [&](const char* k, const std::string& v) {
    auto* e = t.add_external_data();
    e->set_key(k), e->set_value(v);
  };
  add("location", location);
  if (!offset.empty()) add("offset", offset);
  if (!length.empty()) add("length", length);
}

// linear_model() with both initializers in dir/weights.bin, one after the other.
fs::path write_linear_external(const fs::path& dir) {
  ::onnx::ModelProto m = linear_model();
  std::ofstream data(dir / "weights.bin", std::ios::binary);
  int64_t offset = 0;
  for (auto& init : *m.mutable_graph()->mutable_initializer()) {
    const std::string raw = init.raw_data();
    data.write(raw.data(), std::streamsize(raw.size()));
    set_external(init, "weights.bin", std::to_string(offset), std::to_string(raw.size()));
    offset += int64_t(raw.size());
  }
  return write(dir / "external.onnx", m);
}

std::vector<float> expected_linear(const std::vector<float>& x) {
  std::vector<float> y(6);
  for (int n = 0; n < 2; ++n)
    for (int o = 0; o < 3; ++o) {
      double acc = std::vector<double>{0.5, -1.0, 0.25}[size_t(o)];
      for (int i = 0; i < 4; ++i) acc += double(x[size_t(n * 4 + i)]) * (double(o * 4 + i - 6) / 4.0);
      y[size_t(n * 3 + o)] = float(std::max(acc, 0.0));
    }
  return y;
}

void expect_runs_linear(io::onnx::OnnxModule& m) {
  const std::vector<float> x = {1, 2, 3, 4, -1, 0.5f, 2, -3};
  const std::vector<float> y = m.forward(from_vector(x, {2, 4})).to_vector<float>();
  const std::vector<float> want = expected_linear(x);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], want[i], 1e-5) << i;
}
void expect_runs_linear(const fs::path& file) { expect_runs_linear(*io::onnx::import_onnx(file)); }

TEST(OnnxReader, RawDataTypedFieldsAndExternalDataGiveTheSameModel) {
  TempDir dir;
  ::onnx::ModelProto m = linear_model();
  expect_runs_linear(write(dir.path / "raw.onnx", m));

  // float_data instead of raw_data.
  for (auto& init : *m.mutable_graph()->mutable_initializer()) {
    const std::string raw = init.raw_data();
    init.clear_raw_data();
    for (size_t i = 0; i < raw.size() / 4; ++i) {
      float f;
      std::memcpy(&f, raw.data() + 4 * i, 4);
      init.add_float_data(f);
    }
  }
  expect_runs_linear(write(dir.path / "typed.onnx", m));

  // External data, both tensors in one file, the second at an offset.
  expect_runs_linear(write_linear_external(dir.path));

  // Parameters keep the file's dotted names, and can be frozen by pattern.
  auto mod = io::onnx::import_onnx(dir.path / "external.onnx");
  const auto named = mod->named_parameters();
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].first, "fc.weight");
  EXPECT_EQ(named[1].first, "fc.bias");
  mod->freeze({"fc.weight"});
  EXPECT_FALSE(named[0].second.requires_grad());
  EXPECT_TRUE(named[1].second.requires_grad());
}

TEST(OnnxReader, ReplaceHeadCutsAtTheLastGemm) {
  TempDir dir;
  auto m = io::onnx::import_onnx(write(dir.path / "m.onnx", linear_model()));
  m->replace_head(5);
  const Tensor y = m->forward(ones({2, 4}));
  EXPECT_EQ(y.shape(), (Shape{2, 5}));
  const auto named = m->named_parameters();
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].first, "fc.weight");
  EXPECT_EQ(named[0].second.shape(), (Shape{5, 4}));
  // The new head trains: a gradient reaches its weight.
  sum(y).backward();
  EXPECT_TRUE(named[0].second.grad().defined());
}

// Every bad file gives a hone::Error whose message names the problem.
TEST(OnnxReader, BadFilesNameTheProblem) {
  TempDir dir;
  const fs::path good = write(dir.path / "good.onnx", linear_model());
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto file_with = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir.path / name, std::ios::binary) << content;
    return dir.path / name;
  };
  expect_error([&] { io::onnx::read_model(dir.path / "missing.onnx"); }, {"missing.onnx", "cannot open"});
  expect_error([&] { io::onnx::read_model(file_with("empty.onnx", "")); }, {"empty.onnx", "empty file"});
  expect_error([&] { io::onnx::read_model(file_with("cut.onnx", bytes.substr(0, bytes.size() / 2))); },
               {"cut.onnx"});
  std::mt19937 rng(7);
  std::string noise(4096, '\0');
  for (char& ch : noise) ch = char(rng());
  expect_error([&] { io::onnx::read_model(file_with("noise.onnx", noise)); }, {"noise.onnx"});

  auto edited = [&](const std::string& name, auto edit) {
    ::onnx::ModelProto m = linear_model();
    edit(m);
    return write(dir.path / name, m);
  };
  auto* const init0 = +[](::onnx::ModelProto& m) { return m.mutable_graph()->mutable_initializer(0); };
  expect_error([&] { io::onnx::read_model(edited("neg.onnx", [&](auto& m) { init0(m)->set_dims(0, -3); })); },
               {"fc.weight", "negative dim -3"});
  expect_error([&] {
    io::onnx::read_model(edited("huge.onnx", [&](auto& m) {
      init0(m)->clear_dims();
      for (int i = 0; i < 4; ++i) init0(m)->add_dims(int64_t(1) << 20);
    }));
  }, {"fc.weight", "too many elements"});
  expect_error([&] { io::onnx::read_model(edited("short.onnx", [&](auto& m) { init0(m)->mutable_raw_data()->resize(40); })); },
               {"fc.weight", "raw_data holds 40 bytes", "need 48"});
  expect_error([&] { io::onnx::read_model(edited("int8.onnx", [&](auto& m) { init0(m)->set_data_type(::onnx::TensorProto::INT8); })); },
               {"fc.weight", "INT8", "not supported"});
  expect_error([&] { io::onnx::read_model(edited("opset.onnx", [&](auto& m) { m.mutable_opset_import(0)->set_version(3); })); },
               {"opset 3", "outside"});

  auto external = [&](const std::string& name, const std::string& location, const std::string& offset, const std::string& length) {
    return edited(name, [&](auto& m) { set_external(*init0(m), location, offset, length); });
  };
  file_with("w.bin", std::string(64, '\0'));
  expect_error([&] { io::onnx::read_model(external("e1.onnx", "nothere.bin", "", "")); }, {"fc.weight", "nothere.bin", "cannot open"});
  expect_error([&] { io::onnx::read_model(external("e2.onnx", "w.bin", "40", "48")); }, {"fc.weight", "runs past the end", "64 bytes"});
  expect_error([&] { io::onnx::read_model(external("e3.onnx", "w.bin", "100", "")); }, {"fc.weight", "offset 100", "past the end"});
  expect_error([&] { io::onnx::read_model(external("e4.onnx", "w.bin", "0", "40")); }, {"fc.weight", "length 40", "need 48"});
  expect_error([&] { io::onnx::read_model(external("e5.onnx", "../w.bin", "0", "48")); }, {"fc.weight", "'..'"});
  expect_error([&] { io::onnx::read_model(external("e6.onnx", "/etc/passwd", "0", "48")); }, {"fc.weight", "relative path"});
  expect_error([&] { io::onnx::read_model(external("e7.onnx", "w.bin", "-8", "48")); }, {"fc.weight", "offset", "not a non-negative integer"});

  expect_error([&] {
    io::onnx::import_onnx(edited("op.onnx", [&](auto& m) { m.mutable_graph()->mutable_node(1)->set_op_type("Frobnicate"); }));
  }, {"unsupported op 'Frobnicate'", "node 'act'", "opset 13"});
  expect_error([&] {
    io::onnx::read_model(edited("noinit.onnx", [&](auto& m) { m.mutable_graph()->mutable_initializer()->RemoveLast(); }));
  }, {"node 'fc' (Gemm)", "reads 'fc.bias'", "no node, graph input or initializer"});
  expect_error([&] {
    io::onnx::read_model(edited("cycle.onnx", [&](auto& m) {
      auto* g = m.mutable_graph();
      g->mutable_node(0)->set_input(0, "y");  // fc reads act's output, act reads fc's
    }));
  }, {"cycle", "node 'fc'"});
  expect_error([&] {
    io::onnx::import_onnx(edited("shape.onnx", [&](auto&) {}))->forward(ones({2, 5}));
  }, {"input 'x'", "[2,4]"});
}

// Two tensors over the same bytes would be two parameters an optimizer updates twice: a
// file whose external ranges overlap is refused, however it names the file.
TEST(OnnxReader, OverlappingExternalDataIsRefused) {
  TempDir dir;
  std::ofstream(dir.path / "w.bin", std::ios::binary) << std::string(64, '\0');
  fs::create_hard_link(dir.path / "w.bin", dir.path / "same.bin");
  auto with_bias_at = [&](const std::string& location, int64_t offset) {
    ::onnx::ModelProto m = linear_model();
    set_external(*m.mutable_graph()->mutable_initializer(0), "w.bin", "0", "48");
    set_external(*m.mutable_graph()->mutable_initializer(1), location, std::to_string(offset), "12");
    return write(dir.path / "m.onnx", m);
  };
  EXPECT_NO_THROW(io::onnx::read_model(with_bias_at("w.bin", 48)));  // adjacent is fine
  expect_error([&] { io::onnx::read_model(with_bias_at("w.bin", 40)); },
               {"initializer 'fc.bias'", "[40, 52)", "overlap initializer 'fc.weight'", "[0, 48)"});
  expect_error([&] { io::onnx::read_model(with_bias_at("./w.bin", 0)); }, {"'fc.bias'", "[0, 12)", "'fc.weight'", "overlap"});
  expect_error([&] { io::onnx::read_model(with_bias_at("same.bin", 36)); }, {"'fc.bias'", "[36, 48)", "'fc.weight'", "overlap"});
}

std::vector<std::vector<float>> parameter_values(nn::Module& m) {
  std::vector<std::vector<float>> out;
  for (const auto& [name, p] : m.named_parameters()) out.push_back(p.contiguous().to_vector<float>());
  return out;
}

// Weights are read into memory the module owns: a file rewritten in place or truncated
// while the module lives changes nothing (a mapping would show the new bytes, and
// touching a truncated one kills the process with SIGBUS).
TEST(OnnxReader, WeightsAreASnapshotOfTheFiles) {
  TempDir dir;
  const fs::path inline_model = write(dir.path / "raw.onnx", linear_model());
  const fs::path external_model = write_linear_external(dir.path);
  for (const auto& [model, data] : {std::pair{inline_model, inline_model}, std::pair{external_model, dir.path / "weights.bin"}}) {
    SCOPED_TRACE(data.filename().string());
    auto m = io::onnx::import_onnx(model);
    const auto before = parameter_values(*m);
    {
      const std::string junk(size_t(fs::file_size(data)), '\x7f');
      const int fd = ::open(data.c_str(), O_WRONLY | O_CLOEXEC);  // the same file, not a new one
      ASSERT_GE(fd, 0);
      EXPECT_EQ(::pwrite(fd, junk.data(), junk.size(), 0), ssize_t(junk.size()));
      ::close(fd);
    }
    EXPECT_EQ(parameter_values(*m), before);
    fs::resize_file(data, 0);
    EXPECT_EQ(parameter_values(*m), before);
    expect_runs_linear(*m);
  }
}

// Inline weights stay in the file's buffer; one misaligned for its type slides back over
// bytes already parsed. Names of every length mod 8 put the payloads at every alignment;
// each tensor must keep its exact values and be aligned for its type.
TEST(OnnxReader, InlineWeightsAtAnyAlignmentReadExactly) {
  TempDir dir;
  for (int pad = 0; pad < 8; ++pad) {
    ::onnx::ModelProto m = linear_model();
    auto* g = m.mutable_graph();
    std::vector<int64_t> ints = {1, -2, int64_t(1) << 40, 7};
    for (int k = 0; k < 3; ++k) {  // back to back: a slide must not reach the one before
      ::onnx::TensorProto t;
      t.set_name(std::string(size_t(pad + k), 'n') + std::to_string(k));
      t.set_data_type(::onnx::TensorProto::INT64);
      t.add_dims(4);
      t.set_raw_data(std::string(reinterpret_cast<const char*>(ints.data()), 32));
      *g->add_initializer() = t;
    }
    g->mutable_initializer(0)->set_name(std::string(size_t(pad), 'w') + "fc.weight");
    g->mutable_node(0)->set_input(1, g->initializer(0).name());
    const io::onnx::Model model = io::onnx::read_model(write(dir.path / "m.onnx", m));
    ASSERT_EQ(model.initializers.size(), 5u);
    for (const auto& [name, t] : model.initializers) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data_ptr()) % t.element_size(), 0u) << name;
      if (t.dtype() == DType::Int64) EXPECT_EQ(t.to_vector<int64_t>(), ints) << name;
    }
    std::vector<float> w(12);
    for (int i = 0; i < 12; ++i) w[size_t(i)] = float(i - 6) / 4.0f;
    EXPECT_EQ(model.initializers[0].second.to_vector<float>(), w) << pad;
    EXPECT_EQ(model.initializers[1].second.to_vector<float>(), (std::vector<float>{0.5f, -1.0f, 0.25f})) << pad;
  }
}

// External data must be a regular file inside the model's folder, named directly: no
// symbolic link is followed (not even one that stays inside: the location must name the
// file itself), and nothing that could block (a FIFO) or is not a file (a device) is read.
TEST(OnnxReader, ExternalDataMustBeARegularFileInTheModelsFolder) {
  TempDir dir;
  const fs::path folder = dir.path / "model";
  fs::create_directories(folder / "sub");
  std::ofstream(folder / "w.bin", std::ios::binary) << std::string(64, '\0');
  std::ofstream(folder / "sub" / "w.bin", std::ios::binary) << std::string(64, '\0');
  std::ofstream(dir.path / "outside.bin", std::ios::binary) << std::string(64, '\0');
  auto reading = [&](const std::string& location) {
    ::onnx::ModelProto m = linear_model();
    set_external(*m.mutable_graph()->mutable_initializer(0), location, "0", "48");
    const fs::path p = write(folder / "m.onnx", m);
    return [p] { io::onnx::read_model(p); };
  };
  EXPECT_NO_THROW(reading("w.bin")());
  EXPECT_NO_THROW(reading("sub/w.bin")());
  fs::create_symlink("../outside.bin", folder / "out.bin");
  expect_error(reading("out.bin"), {"fc.weight", "'out.bin'", "symbolic link"});
  fs::create_symlink("w.bin", folder / "in.bin");
  expect_error(reading("in.bin"), {"fc.weight", "'in.bin'", "symbolic link"});
  fs::create_directory_symlink(dir.path, folder / "up");
  expect_error(reading("up/outside.bin"), {"fc.weight", "'up'", "symbolic link"});
  fs::create_symlink("/dev/zero", folder / "zero.bin");
  expect_error(reading("zero.bin"), {"fc.weight", "'zero.bin'", "symbolic link"});
  expect_error(reading("sub"), {"fc.weight", "'sub'", "not a regular file", "folder"});
  expect_error(reading("w.bin/x"), {"fc.weight", "'w.bin'", "not a folder"});
  expect_error(reading(std::string("w.bin\0../../etc/passwd", 22)), {"fc.weight", "NUL"});
  ASSERT_EQ(::mkfifo((folder / "pipe.bin").c_str(), 0600), 0);
  expect_error_soon(folder / "pipe.bin", reading("pipe.bin"), {"fc.weight", "'pipe.bin'", "not a regular file", "FIFO"});
}

// The model file a user names may be a link, but must be a regular file: a FIFO is
// refused at once (`hone inspect` on one used to wait forever for a writer).
TEST(OnnxReader, ModelPathMustBeARegularFile) {
  TempDir dir;
  const fs::path model = write(dir.path / "m.onnx", linear_model());
  fs::create_symlink("m.onnx", dir.path / "link.onnx");
  EXPECT_NO_THROW(io::onnx::read_model(dir.path / "link.onnx"));
  expect_error([&] { io::onnx::read_model(dir.path); }, {"not a regular file", "folder"});
  expect_error([] { io::onnx::read_model("/dev/null"); }, {"/dev/null", "not a regular file", "character device"});
  const fs::path fifo = dir.path / "pipe.onnx";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_error_soon(fifo, [&] { io::onnx::read_model(fifo); }, {"pipe.onnx", "not a regular file", "FIFO"});
  expect_error_soon(fifo, [&] { io::onnx::read_tensor_file(fifo); }, {"pipe.onnx", "not a regular file", "FIFO"});
}

TEST(OnnxReader, OldFixedBatchReshapeRunsAtAnyBatch) {
  // Flatten as an old export writes it: Reshape to a constant [1, 12] on a [1, 3, 2, 2] input.
  ::onnx::ModelProto m;
  m.set_ir_version(3);
  m.add_opset_import()->set_version(7);
  auto* g = m.mutable_graph();
  add_value(g->mutable_input(), "x", {1, 3, 2, 2});
  add_value(g->mutable_output(), "y", {1, 12});
  ::onnx::TensorProto shape;
  shape.set_name("shape"), shape.set_data_type(::onnx::TensorProto::INT64), shape.add_dims(2);
  shape.add_int64_data(1), shape.add_int64_data(12);
  *g->add_initializer() = shape;
  auto* r = g->add_node();
  r->set_op_type("Reshape"), r->add_input("x"), r->add_input("shape"), r->add_output("y");
  TempDir dir;
  auto mod = io::onnx::import_onnx(write(dir.path / "old.onnx", m));
  const Tensor x = uniform({4, 3, 2, 2}, -1, 1);
  const Tensor y = mod->forward(x);
  EXPECT_EQ(y.shape(), (Shape{4, 12}));
  EXPECT_EQ(y.to_vector<float>(), x.to_vector<float>());
}

}  // namespace
}  // namespace hone
