// Included by pooling_avx512.cpp and pooling_avx2.cpp inside an anonymous namespace, after
// the ISA's traits V: W lanes; load_stride2 (the even lanes of p[0 .. 2W-2], never reading
// past p[2W-2], the last window's own tap); gather; the compare-and-select and the stores.
// Per tap, W outputs' inputs come in as one vector (a load at stride 1, two loads and a
// permute at stride 2: the ResNet stem's 3x3/2; a gather otherwise), then one
// compare-and-select for all of them, positions as int32.
int64_t max_rows(const MaxRowArgs& a) {
  constexpr int W = V::W;
  const int64_t groups = a.count / W;
  const typename V::I offsets = V::lanes_times(int32_t(a.stride));  // q * stride
  for (int64_t gi = 0; gi < groups; ++gi) {
    const int64_t first = a.start + gi * W * a.stride;  // this group's first window column
    typename V::F best = V::minus_inf();
    typename V::I at = V::add(V::set1(int32_t(a.row_begin * a.w + first)), offsets);
    for (int64_t iy = a.row_begin; iy < a.row_end; iy += a.dilation_h)
      for (int64_t t = 0; t < a.kw; ++t) {
        const int64_t pos = iy * a.w + first + t * a.dilation_w;
        const float* p = a.plane + pos;
        const typename V::F v = a.stride == 1 ? V::load(p) : a.stride == 2 ? V::load_stride2(p) : V::gather(p, offsets);
        V::take_larger_or_nan(v, best, at, V::add(V::set1(int32_t(pos)), offsets));
      }
    V::store(a.out + gi * W, best);
    alignas(64) int32_t positions[W];
    V::store_int(positions, at);
    for (int q = 0; q < W; ++q) a.indices[gi * W + q] = positions[q];
  }
  return groups * W;
}
