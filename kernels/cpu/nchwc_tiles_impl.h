// The blocked kernels' templates over a vector type V (W floats wide: zero, load, store,
// set1, fma, add, max0, max_nan), pasted by each ISA file into its own anonymous namespace
// (no include guard, no includes).

// acc[p][j] over the chunk: for each tap (input block, ky, kx) and lane, CB weight loads
// and P broadcasts feed CB x P FMAs. L > 0: the lanes are a compile-time count (the full
// loop unrolls); 0: t.lanes (an image's few channels).
template <class V, int CB, int P, int L>
void conv_tile(const TileArgs& t) {
  using T = typename V::T;
  T acc[P][CB];
  for (int p = 0; p < P; ++p)
    for (int j = 0; j < CB; ++j)
      acc[p][j] = t.first ? V::load(t.bias + j * V::W) : V::load(t.y[p] + j * t.y_block);
  const float* xp[P];
  for (int p = 0; p < P; ++p) xp[p] = t.x[p];
  const int64_t lanes = L > 0 ? L : t.lanes;
  const float* w = t.w;
  // One loop over the taps (input block, ky, kx) around the lanes: with the three loops
  // nested, GCC moved the 24 accumulators through the stack at every loop boundary.
  for (int64_t k = 0; k < t.taps; ++k) {
    const int64_t off = t.offsets[k];
#pragma GCC unroll 16
    for (int64_t l = 0; l < lanes; ++l, w += V::W) {
      T wv[CB];
      for (int j = 0; j < CB; ++j) wv[j] = V::load(w + j * t.w_block);
      for (int p = 0; p < P; ++p) {
        const T xv = V::set1(xp[p][off + l]);
        for (int j = 0; j < CB; ++j) acc[p][j] = V::fma(wv[j], xv, acc[p][j]);
      }
    }
  }
  if (t.last && t.has_residual)
    for (int p = 0; p < P; ++p)
      for (int j = 0; j < CB; ++j) acc[p][j] = V::add(acc[p][j], V::load(t.r[p] + j * t.y_block));
  if (t.last && t.relu)
    for (int p = 0; p < P; ++p)
      for (int j = 0; j < CB; ++j) acc[p][j] = V::max0(acc[p][j]);
  for (int p = 0; p < P; ++p)
    for (int j = 0; j < CB; ++j) V::store(t.y[p] + j * t.y_block, acc[p][j]);
}

template <class V, int CB, int P>
void conv_tile_any(const TileArgs& t) {
  if (t.lanes == V::W) conv_tile<V, CB, P, V::W>(t);
  else conv_tile<V, CB, P, 0>(t);
}

template <class V, int CB, int... P>
void fill_row(TileFn* row, std::integer_sequence<int, P...>) {
  ((row[P] = conv_tile_any<V, CB, P + 1>), ...);
}

// The weight-gradient tile (GradWeightTileArgs): per output pixel, CB dy loads and CI
// broadcasts of x feed CB x CI FMAs. One loop over the run's pixels (a row change is a
// pointer jump inside it).
template <class V, int CB, int CI, bool FIRST>
void grad_weight_tile_run(const GradWeightTileArgs& t) {
  using T = typename V::T;
  T acc[CI][CB];
  for (int c = 0; c < CI; ++c)
    for (int j = 0; j < CB; ++j) acc[c][j] = FIRST ? V::set1(0.0f) : V::load(t.dw + c * t.dw_lane + j * t.dw_block);
  const float* xp = t.x;
  const float* dp = t.dy;
  const int64_t x_jump = t.x_row - t.cols * t.x_step, dy_jump = t.dy_row - t.cols * V::W;
  int64_t col = 0;
  for (int64_t q = 0, n = t.rows * t.cols; q < n; ++q) {
    T d[CB];
    for (int j = 0; j < CB; ++j) d[j] = V::load(dp + j * t.dy_block);
    for (int c = 0; c < CI; ++c) {
      const T xv = V::set1(xp[c]);
      for (int j = 0; j < CB; ++j) acc[c][j] = V::fma(d[j], xv, acc[c][j]);
    }
    // The row change without a branch: with one, GCC moved the accumulators through the
    // stack on every row.
    const bool wrap = ++col == t.cols;
    col = wrap ? 0 : col;
    xp += t.x_step + (wrap ? x_jump : 0), dp += V::W + (wrap ? dy_jump : 0);
  }
  for (int c = 0; c < CI; ++c)
    for (int j = 0; j < CB; ++j) V::store(t.dw + c * t.dw_lane + j * t.dw_block, acc[c][j]);
}

// first chosen once per call, not per accumulator.
template <class V, int CB, int CI>
void grad_weight_tile(const GradWeightTileArgs& t) {
  if (t.first) grad_weight_tile_run<V, CB, CI, true>(t);
  else grad_weight_tile_run<V, CB, CI, false>(t);
}

// One plane of max pooling: windows clipped to the image, taps in row-major order, a tap
// replaces the running maximum when larger or NaN (the NCHW kernel's rule). Windows wholly
// inside the image (all but the edges) skip the clipping.
template <class V>
void max_pool_plane(const Pool2dGeometry& g, const float* x, const Layout& xl, float* y, const Layout& yl) {
  const int64_t oh = yl.h, ow = yl.w, xr = xl.row(), B = xl.lanes;
  for (int64_t oy = 0; oy < oh; ++oy) {
    const int64_t y0 = oy * g.stride_h - g.pad_top;
    const bool rows_inside = y0 >= 0 && y0 + (g.kh - 1) * g.dilation_h < g.h;
    for (int64_t ox = 0; ox < ow; ++ox) {
      const int64_t x0 = ox * g.stride_w - g.pad_left;
      typename V::T m;
      if (rows_inside && x0 >= 0 && x0 + (g.kw - 1) * g.dilation_w < g.w) {
        const float* p = x + y0 * xr + x0 * B;
        m = V::load(p);
        for (int64_t ky = 0; ky < g.kh; ++ky, p += g.dilation_h * xr)
          for (int64_t kx = ky == 0 ? 1 : 0; kx < g.kw; ++kx) m = V::max_nan(m, V::load(p + kx * g.dilation_w * B));
      } else {
        m = V::set1(-__builtin_inff());
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          const int64_t iy = y0 + ky * g.dilation_h;
          if (iy < 0 || iy >= g.h) continue;
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const int64_t ix = x0 + kx * g.dilation_w;
            if (ix < 0 || ix >= g.w) continue;
            m = V::max_nan(m, V::load(x + iy * xr + ix * B));
          }
        }
      }
      V::store(y + oy * yl.row() + ox * yl.lanes, m);
    }
  }
}

template <class V, int CB, int P>
Kernels make_kernels() {
  static_assert(CB <= kMaxBlocks && P <= kMaxPixels);
  Kernels k{};
  k.lanes = V::W, k.cb = CB, k.p = P;
  fill_row<V, 1>(k.tile[0], std::make_integer_sequence<int, P>());
  if constexpr (CB >= 2) fill_row<V, 2>(k.tile[1], std::make_integer_sequence<int, P>());
  if constexpr (CB >= 3) fill_row<V, 3>(k.tile[2], std::make_integer_sequence<int, P>());
  if constexpr (CB >= 4) fill_row<V, 4>(k.tile[3], std::make_integer_sequence<int, P>());
  k.max_pool_plane = max_pool_plane<V>;
  return k;
}

// Weight-gradient tiles: up to G4 output blocks with 4 input lanes, up to G8 with 8 (0: none).
template <class V, int CB, int CI>
constexpr GradWeightTileFn gw_tile_if(int most) {
  return CB <= most ? grad_weight_tile<V, CB, CI> : nullptr;
}
template <class V, int G4, int G8>
void add_grad_weight_tiles(Kernels& k) {
  static_assert(G4 >= 1 && G4 <= kMaxGradWeightBlocks && G8 >= 0 && G8 <= kMaxGradWeightBlocks);
  k.gw_cb[0] = G4, k.gw_cb[1] = G8;
  k.grad_weight_tile[0][0] = gw_tile_if<V, 1, 4>(G4), k.grad_weight_tile[0][1] = gw_tile_if<V, 2, 4>(G4);
  k.grad_weight_tile[0][2] = gw_tile_if<V, 3, 4>(G4);
  k.grad_weight_tile[1][0] = gw_tile_if<V, 1, 8>(G8), k.grad_weight_tile[1][1] = gw_tile_if<V, 2, 8>(G8);
  k.grad_weight_tile[1][2] = gw_tile_if<V, 3, 8>(G8);
}
