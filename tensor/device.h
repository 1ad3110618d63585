#pragma once
// Where a tensor's memory lives: the host, or one CUDA device.
#include <cstdint>
#include <ostream>
#include <string>

namespace hone {

enum class DeviceType : uint8_t { CPU, CUDA };
const char* device_type_name(DeviceType t);  // "cpu", "cuda"

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;  // CUDA ordinal; always 0 for the CPU

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  // Parses "cpu", "cuda", "cuda:1"; throws hone::Error on anything else.
  static Device parse(const std::string& text);

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;  // "cpu" or "cuda:0"
  bool operator==(const Device&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

// Which implementation of an op runs on a device: our own kernels (Native), the vendor
// library's (cuDNN/cuBLAS: Vendor), or the op's default choice (Auto: ours where we have
// one, else the vendor's). Chosen per op in the Context; kernels/registry.h resolves it.
enum class Backend : uint8_t { Auto, Native, Vendor };
const char* backend_name(Backend b);  // "auto", "native", "vendor"

}  // namespace hone
