#pragma once
// Padding2d: the padding of a 2-D convolution or pooling, per side, written the way PyTorch
// users write it. One or two values pad both sides of each dim the same (PyTorch's
// padding=1 and padding=(h, w)); four are top, left, bottom, right (ONNX's `pads` order for
// 2-D, which may be asymmetric). A std::array of four sides would take {1, 1} as top=1,
// left=1, bottom=0, right=0 without a word; this type cannot be read that way.
#include <array>
#include <cstddef>
#include <cstdint>

namespace hone {

struct Padding2d {
  std::array<int64_t, 4> sides{0, 0, 0, 0};  // top, left, bottom, right

  constexpr Padding2d() = default;
  constexpr Padding2d(int64_t all) : sides{all, all, all, all} {}                        // NOLINT: implicit
  constexpr Padding2d(int64_t h, int64_t w) : sides{h, w, h, w} {}                       // symmetric
  constexpr Padding2d(int64_t top, int64_t left, int64_t bottom, int64_t right) : sides{top, left, bottom, right} {}
  constexpr Padding2d(const std::array<int64_t, 4>& s) : sides(s) {}                    // NOLINT: implicit

  constexpr int64_t operator[](size_t i) const { return sides[i]; }
  constexpr int64_t top() const { return sides[0]; }
  constexpr int64_t left() const { return sides[1]; }
  constexpr int64_t bottom() const { return sides[2]; }
  constexpr int64_t right() const { return sides[3]; }
  bool operator==(const Padding2d&) const = default;
};

}  // namespace hone
