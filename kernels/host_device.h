#pragma once
// HONE_HOST_DEVICE marks index arithmetic shared by CUDA kernels and the CPU tests that check it.
#if defined(__CUDACC__)
#define HONE_HOST_DEVICE __host__ __device__
#else
#define HONE_HOST_DEVICE
#endif
