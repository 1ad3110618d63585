#pragma once
// Element types. float16 and bfloat16 are storage types for now: tensors of them can be
// created, copied and converted, and arithmetic on them arrives with mixed precision.
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "tensor/error.h"
#include "tensor/host_device.h"

namespace hone {

enum class DType : uint8_t { Float32, Float64, Int64, Int32, UInt8, Bool, Float16, BFloat16 };

// IEEE binary16, converted in software (round to nearest even) so it works on any CPU.
struct Half {
  uint16_t bits = 0;
  Half() = default;
  explicit Half(float f);
  operator float() const;
};

// The top 16 bits of a float32, rounded to nearest even.
struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  explicit BFloat16(float f);
  operator float() const;
};

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "float32", "int64", ...
bool is_floating(DType t);        // float16/bfloat16/float32/float64
bool is_integral(DType t);        // int32/int64/uint8 (not bool)
// The type of a binary op's result (PyTorch's category order: bool < ints < floats).
DType promote_types(DType a, DType b);

// Converts one value between element types: 16-bit floats go through float, bool is
// "not zero", everything else is static_cast. The one place every copy, print and
// factory converts an element; the CUDA copy (tensor/copy_cuda.cu) too, for every type but
// the 16-bit floats (their conversions are host code).
template <typename T, typename S>
HONE_HOST_DEVICE inline T cast_value(S v) {
  if constexpr (std::is_same_v<T, S>) return v;
  else if constexpr (std::is_same_v<S, Half> || std::is_same_v<S, BFloat16>) return cast_value<T>(float(v));
  else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) return T(float(v));
  else if constexpr (std::is_same_v<T, bool>) return v != S(0);
  else return static_cast<T>(v);
}

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::Int32; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::UInt8; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }
template <> constexpr DType dtype_of<Half>() { return DType::Float16; }
template <> constexpr DType dtype_of<BFloat16>() { return DType::BFloat16; }

}  // namespace hone

// Calls the generic lambda `fn` with a value of the C++ type for `dtype`:
//   HONE_DISPATCH_ALL(t.dtype(), "print", [&](auto tag) { using T = decltype(tag); ... });
// The _FLOAT variant covers float32/float64 (what the math kernels implement); _MATH adds
// the integer types elementwise arithmetic supports. Anything else throws a clear Error.
#define HONE_DISPATCH_CASE(E, T, ...) \
  case ::hone::DType::E: return __VA_ARGS__(T{});

#define HONE_DISPATCH_FLOAT(dtype, opname, ...)                                         \
  [&] {                                                                                 \
    switch (dtype) {                                                                    \
      HONE_DISPATCH_CASE(Float32, float, __VA_ARGS__)                                   \
      HONE_DISPATCH_CASE(Float64, double, __VA_ARGS__)                                  \
      default: ::hone::fail(opname, ": dtype ", ::hone::dtype_name(dtype),              \
                            " is not supported (float32, float64 are)");                \
    }                                                                                   \
  }()

#define HONE_DISPATCH_MATH(dtype, opname, ...)                                          \
  [&] {                                                                                 \
    switch (dtype) {                                                                    \
      HONE_DISPATCH_CASE(Float32, float, __VA_ARGS__)                                   \
      HONE_DISPATCH_CASE(Float64, double, __VA_ARGS__)                                  \
      HONE_DISPATCH_CASE(Int64, int64_t, __VA_ARGS__)                                   \
      HONE_DISPATCH_CASE(Int32, int32_t, __VA_ARGS__)                                   \
      HONE_DISPATCH_CASE(UInt8, uint8_t, __VA_ARGS__)                                   \
      default: ::hone::fail(opname, ": dtype ", ::hone::dtype_name(dtype),              \
                            " is not supported (float32, float64, int64, int32, uint8 are)"); \
    }                                                                                   \
  }()

#define HONE_DISPATCH_ALL(dtype, opname, ...)                                           \
  [&] {                                                                                 \
    switch (dtype) {                                                                    \
      HONE_DISPATCH_CASE(Float32, float, __VA_ARGS__)                                   \
      HONE_DISPATCH_CASE(Float64, double, __VA_ARGS__)                                  \
      HONE_DISPATCH_CASE(Int64, int64_t, __VA_ARGS__)                                   \
      HONE_DISPATCH_CASE(Int32, int32_t, __VA_ARGS__)                                   \
      HONE_DISPATCH_CASE(UInt8, uint8_t, __VA_ARGS__)                                   \
      HONE_DISPATCH_CASE(Bool, bool, __VA_ARGS__)                                       \
      HONE_DISPATCH_CASE(Float16, ::hone::Half, __VA_ARGS__)                            \
      HONE_DISPATCH_CASE(BFloat16, ::hone::BFloat16, __VA_ARGS__)                       \
    }                                                                                   \
    ::hone::fail(opname, ": unknown dtype");                                            \
  }()
