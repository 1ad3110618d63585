#include "models/zoo.h"

#include "models/resnet.h"
#include "models/vgg.h"

namespace hone::models {

std::vector<std::string> names() {
  return {"resnet18", "resnet34", "resnet50", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn",
          "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "small_resnet"};
}

std::shared_ptr<Classifier> create(const std::string& name, int64_t n, Generator* gen) {
  if (name == "resnet18") return resnet18(n, gen);
  if (name == "resnet34") return resnet34(n, gen);
  if (name == "resnet50") return resnet50(n, gen);
  if (name == "small_resnet") return small_resnet(n == 1000 ? 10 : n, 1, {16, 32, 64}, {1, 1, 1}, gen);
  const bool bn = name.size() > 3 && name.substr(name.size() - 3) == "_bn";
  const std::string base = bn ? name.substr(0, name.size() - 3) : name;
  if (base == "vgg11") return vgg11(n, bn, gen);
  if (base == "vgg13") return vgg13(n, bn, gen);
  if (base == "vgg16") return vgg16(n, bn, gen);
  if (base == "vgg19") return vgg19(n, bn, gen);
  std::string all;
  for (const auto& s : names()) all += (all.empty() ? "" : ", ") + s;
  fail("unknown model '", name, "' (built-in models: ", all, ")");
}

Shape default_input_shape(const std::string& name) {
  return name == "small_resnet" ? Shape{1, 1, 28, 28} : Shape{1, 3, 224, 224};
}

}  // namespace hone::models
