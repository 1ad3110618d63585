// The direct convolution's tiles as templates over a vector type V (W floats wide, with
// zero/load/loadu/storeu/set1/fma/add), included only by the ISA files, each inside its
// own anonymous namespace so the two instantiations never meet at link time (no include
// guard, no includes: it is pasted into a namespace).
// Forward: MR output channels x NV vectors of grid positions. Per (tap, input channel):
// NV unaligned loads of the shifted grid row, MR broadcasts of packed weights, MR*NV FMAs.
template <class V, int MR, int NV>
void forward_tile(int64_t cc, int64_t T, const int64_t* taps, const float* b, int64_t cs, const float* a, float* c,
                  int64_t ldc, bool accumulate) {
  typename V::T acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = accumulate ? V::loadu(c + r * ldc + V::W * v) : V::zero();
  for (int64_t t = 0; t < T; ++t) {
    const float* bt = b + taps[t];
    for (int64_t i = 0; i < cc; ++i, bt += cs, a += MR) {
      typename V::T bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bv[v] = V::loadu(bt + V::W * v);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const typename V::T av = V::set1(a[r]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = V::fma(av, bv[v], acc[r][v]);
      }
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) V::storeu(c + r * ldc + V::W * v, acc[r][v]);
}

// Weight gradient: RB rows (input channel, tap) x OV vectors of output channels. Per grid
// position: OV aligned loads of dY^T, RB broadcasts, RB*OV FMAs.
template <class V, int RB, int OV>
void grad_weight_tile(int64_t k, const float* const* rows, int64_t q0, const float* d, int64_t ldd, float* c,
                      int64_t ldc, int64_t nrows, bool accumulate) {
  typename V::T acc[RB][OV];
  for (int r = 0; r < RB; ++r)
    for (int v = 0; v < OV; ++v) acc[r][v] = V::zero();
  const float* x[RB];
  for (int r = 0; r < RB; ++r) x[r] = rows[r] + q0;
  for (int64_t p = 0; p < k; ++p, d += ldd) {
    typename V::T dv[OV];
#pragma GCC unroll 4
    for (int v = 0; v < OV; ++v) dv[v] = V::load(d + V::W * v);
#pragma GCC unroll 6
    for (int r = 0; r < RB; ++r) {
      const typename V::T xv = V::set1(x[r][p]);
#pragma GCC unroll 4
      for (int v = 0; v < OV; ++v) acc[r][v] = V::fma(xv, dv[v], acc[r][v]);
    }
  }
  for (int64_t r = 0; r < nrows; ++r)
    for (int v = 0; v < OV; ++v) {
      float* dst = c + r * ldc + V::W * v;
      V::storeu(dst, accumulate ? V::add(V::loadu(dst), acc[r][v]) : acc[r][v]);
    }
}
