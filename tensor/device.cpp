#include "tensor/device.h"

#include <ostream>

#include "tensor/error.h"

namespace hone {

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5) {
    int index = 0;
    for (size_t i = 5; i < text.size(); ++i) {
      HONE_CHECK(text[i] >= '0' && text[i] <= '9' && index < 100000,
                 "Device::parse: bad device string '", text, "' (expected cpu, cuda or cuda:N)");
      index = index * 10 + (text[i] - '0');
    }
    return cuda(index);
  }
  fail("Device::parse: bad device string '", text, "' (expected cpu, cuda or cuda:N)");
}

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

const char* device_type_name(DeviceType t) { return t == DeviceType::CPU ? "cpu" : "cuda"; }

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::Auto: return "auto";
    case Backend::Native: return "native";
    case Backend::Vendor: return "vendor";
  }
  return "?";
}
}  // namespace hone
