#include "bench/flops.h"

#include <sstream>
#include <string>

#include "nn/layers.h"

namespace hone::bench {

namespace {

Shape parse_shape(const std::string& s) {  // "[1,64,112,112]"
  Shape out;
  std::istringstream in(s.substr(1, s.size() - 2));
  for (std::string d; std::getline(in, d, ',');) out.push_back(std::stoll(d));
  return out;
}

double multiply_adds(nn::Module& m, const Shape& out) {
  if (auto* c = dynamic_cast<nn::Conv2d*>(&m)) {  // out: [1, c_out, h, w]
    const auto& o = c->options();
    return double(out[1] * out[2] * out[3]) * double(o.in_channels / o.groups * o.kernel[0] * o.kernel[1]);
  }
  if (auto* l = dynamic_cast<nn::Linear*>(&m)) {
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < out.size(); ++i) rows *= out[i];
    return double(rows) * double(l->in_features()) * double(l->out_features());
  }
  return 0;
}

}  // namespace

NetworkFlops count_flops(nn::Module& net, int64_t channels, int64_t size) {
  // The layers' output shapes come from summary(), the one public view of a traced forward
  // (nn::Module keeps its trace private): one line per leaf, "name type [shape] params".
  std::istringstream lines(net.summary({1, channels, size, size}));
  NetworkFlops f;
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string name, type, shape;
    fields >> name >> type >> shape;
    if (shape.empty() || shape.front() != '[') continue;  // the totals line, or a layer that did not run
    const double flops = 2 * multiply_adds(net.module(name), parse_shape(shape));
    if (flops == 0) continue;
    if (f.forward == 0) f.first_layer = flops;
    f.last_layer = flops;
    f.forward += flops;
  }
  return f;
}

}  // namespace hone::bench
