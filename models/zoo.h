#pragma once
// Built-in models by name, as the command line and configuration files name them.
#include <memory>
#include <string>
#include <vector>

#include "models/classifier.h"

namespace hone::models {

// "resnet18", "resnet34", "resnet50", "vgg11", "vgg13", "vgg16", "vgg19", the same with
// "_bn", and "small_resnet" (28x28 grey input, 10 classes). Throws naming the choices.
std::shared_ptr<Classifier> create(const std::string& name, int64_t num_classes = 1000, Generator* gen = nullptr);
std::vector<std::string> names();
// The input shape a model expects for one image ([1, 3, 224, 224], or [1, 1, 28, 28]).
Shape default_input_shape(const std::string& name);

}  // namespace hone::models
