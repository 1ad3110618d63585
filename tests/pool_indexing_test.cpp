// The window arithmetic the CPU and CUDA pooling kernels share (kernels/pooling.h) and the
// CUDA backward passes add (kernels/cuda/pool_indexing.h), checked on the CPU against brute
// force over every small geometry, so it is tested on every machine.
#include <cmath>
#include <vector>

#include "kernels/cuda/pool_indexing.h"
#include "kernels/pooling.h"
#include "test_util.h"

namespace hone {
namespace {

namespace kc = kernels::cuda;

TEST(PoolIndexing, WindowsAndCoveringOutputsMatchBruteForce) {
  int checked = 0;
  for (int64_t size = 1; size <= 9; ++size)
    for (int64_t k = 1; k <= 4; ++k)
      for (int64_t s = 1; s <= 3; ++s)
        for (int64_t d = 1; d <= 3; ++d)
          for (int64_t pb = 0; pb < k; ++pb)
            for (int64_t pa = 0; pa < k; ++pa)
              for (bool ceil_mode : {false, true}) {
                const int64_t out = kernels::pool_output_size(size, k, s, pb, pa, d, ceil_mode);
                if (out <= 0) continue;
                for (int64_t o = 0; o < out; ++o) {
                  const int64_t start = o * s - pb;
                  // in_image_taps: a loop from begin to end by d visits exactly the in-image taps.
                  std::vector<int64_t> expected, visited;
                  for (int64_t j = 0; j < k; ++j)
                    if (start + j * d >= 0 && start + j * d < size) expected.push_back(start + j * d);
                  const kernels::TapRange mw = kernels::in_image_taps(start, k, d, size);
                  for (int64_t t = mw.begin; t < mw.end; t += d) visited.push_back(t);
                  ASSERT_EQ(visited, expected) << "start=" << start << " k=" << k << " d=" << d << " size=" << size;
                  if (d == 1) {  // avg_window: the in-image taps and the taps inside the padded input
                    int64_t lo = size, hi = -1, padded = 0;
                    for (int64_t j = 0; j < k; ++j) {
                      const int64_t i = start + j;
                      if (i < size + pa) ++padded;
                      if (i >= 0 && i < size) lo = std::min(lo, i), hi = std::max(hi, i);
                    }
                    const kernels::AvgWindow aw = kernels::avg_window(o, k, s, pb, pa, size);
                    ASSERT_EQ(aw.padded_len, padded);
                    if (hi >= lo) {
                      ASSERT_EQ(aw.begin, lo);
                      ASSERT_EQ(aw.end, hi + 1);
                    } else {
                      ASSERT_GE(aw.begin, aw.end);  // no pixel: the kernels write 0
                    }
                  }
                }
                // covering_outputs: exactly the outputs whose taps reach i (d == 1), a superset
                // of them otherwise (max pool's backward then checks the index).
                for (int64_t i = 0; i < size; ++i) {
                  const kc::Span cov = kc::covering_outputs(i, k, s, pb, d, out);
                  for (int64_t o = 0; o < out; ++o) {
                    bool reaches = false;
                    for (int64_t j = 0; j < k; ++j) reaches |= o * s - pb + j * d == i;
                    const bool inside = o >= cov.begin && o < cov.end;
                    if (reaches) ASSERT_TRUE(inside) << "i=" << i << " o=" << o << " size=" << size << " k=" << k;
                    if (d == 1) ASSERT_EQ(inside, reaches) << "i=" << i << " o=" << o << " size=" << size << " k=" << k;
                  }
                }
                ++checked;
              }
  EXPECT_GT(checked, 1000);
}

TEST(PoolIndexing, AdaptiveWindowsAreFloorAndCeil) {
  for (int64_t in = 1; in <= 20; ++in)
    for (int64_t out = 1; out <= in + 3; ++out)
      for (int64_t i = 0; i < out; ++i) {
        const kc::Span w = kc::adaptive_window(i, in, out);
        EXPECT_EQ(w.begin, int64_t(std::floor(double(i) * double(in) / double(out))));
        EXPECT_EQ(w.end, int64_t(std::ceil(double(i + 1) * double(in) / double(out))));
        EXPECT_LT(w.begin, w.end);
      }
}

}  // namespace
}  // namespace hone
