#pragma once
// HONE_HOST_DEVICE marks arithmetic shared by CUDA kernels and the CPU code and tests that
// check it (index maps, the Philox generator): one definition, compiled for both sides.
#if defined(__CUDACC__)
#define HONE_HOST_DEVICE __host__ __device__
#else
#define HONE_HOST_DEVICE
#endif
