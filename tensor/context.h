#pragma once
// The runtime context: everything an op needs that is not its arguments (threads, default
// device, CUDA stream, random generator, kernel backend per op). A program owns contexts
// and installs one per thread with ContextGuard; without one, ops use the process default,
// whose initial settings come from HONE_NUM_THREADS, HONE_DEVICE and HONE_SEED.
//
// Threads: every method may be called from several threads at once, so one context (the
// process default included) can serve threads that run ops while another changes its
// settings. An op takes a snapshot of the pool for its call; set_num_threads() retires
// the pool, which ends when its last op does. Settings changed mid-op apply from the next.
//
// HONE_NUM_THREADS: a whole number from 1 to ThreadPool::kMaxThreads (1024); unset or
// empty means every available core. Anything else (0, negative, larger, not a number) is
// a hone::Error naming the variable, from the first op that uses the process default:
// a mistyped setting is reported, not silently replaced by a guess.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/device.h"
#include "tensor/generator.h"
#include "tensor/thread_pool.h"

namespace hone {

class Context {
 public:
  Context();  // defaults: all available cores (at most 1024), cpu, a fixed seed, Auto backends
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int num_threads() const { return num_threads_; }
  void set_num_threads(int n);  // 1 to ThreadPool::kMaxThreads; the pool is rebuilt on next use
  // The pool for num_threads() threads, started on first use (a hone::Error if a thread
  // cannot start). Keep the returned pointer for the whole parallel call.
  std::shared_ptr<ThreadPool> thread_pool();

  Device default_device() const { return unpack(default_device_.load()); }
  void set_default_device(Device d) { default_device_ = pack(d); }

  Generator& generator() { return generator_; }
  void manual_seed(uint64_t seed) { generator_.manual_seed(seed); }

  void* cuda_stream() const { return cuda_stream_; }  // a cudaStream_t; nullptr = default stream
  void set_cuda_stream(void* stream) { cuda_stream_ = stream; }

  // The implementation an op family ("conv2d", "batch_norm", "binary", ...: the names
  // kernels/registry.h lists) runs with; Auto unless set. Native or Vendor where that
  // implementation does not exist for the tensors' device and dtype is an error naming the
  // op when it runs, never a silent fallback.
  // set_backend throws for a name that is not one of op_families().
  Backend backend(std::string_view op) const;
  void set_backend(std::string_view op, Backend b);
  static const std::vector<std::string>& op_families();

  // Whether matrix products on CUDA (conv2d, matmul, linear) may round float32 operands to
  // TF32 (10-bit mantissa) for tensor cores, accumulating in float32: about 1e-3 relative
  // error instead of float32's 1e-6 (tests/op_harness.h states the bound). Default false:
  // exact float32, the CPU's numbers to rounding. CPU kernels and float64 ignore it; the
  // vendor backend maps it to cuDNN/cuBLAS's TF32 math modes. Kernels see kernels::Exec::allow_tf32.
  bool allow_tf32() const { return allow_tf32_; }
  void set_allow_tf32(bool allow) { allow_tf32_ = allow; }

  // The context installed on this thread, else the process default.
  static Context& current();
  // The process default (created on first use by from_environment()).
  static Context& process_default();
  // A new context with the settings read from HONE_NUM_THREADS, HONE_DEVICE and HONE_SEED
  // (see above); throws naming the variable when one is malformed.
  static std::unique_ptr<Context> from_environment();

 private:
  mutable std::mutex mutex_;  // guards pool_ and backends_
  std::atomic<int> num_threads_;
  std::shared_ptr<ThreadPool> pool_;
  // A Device as one word, lock-free everywhere (std::atomic<Device> needs libatomic with clang).
  static uint64_t pack(Device d) { return uint64_t(d.type) << 32 | uint32_t(d.index); }
  static Device unpack(uint64_t v) { return {DeviceType(v >> 32), int(int32_t(uint32_t(v)))}; }
  std::atomic<uint64_t> default_device_;  // pack(device)
  Generator generator_;
  std::atomic<void*> cuda_stream_ = nullptr;
  std::atomic<bool> allow_tf32_ = false;
  std::map<std::string, Backend, std::less<>> backends_;
  std::atomic<bool> any_backend_set_ = false;  // lets backend() skip the lock in the common case
};

// Installs `ctx` as this thread's current context for the guard's lifetime.
class ContextGuard {
 public:
  explicit ContextGuard(Context& ctx);
  ~ContextGuard();
  ContextGuard(const ContextGuard&) = delete;
  ContextGuard& operator=(const ContextGuard&) = delete;

 private:
  Context* previous_;
};

}  // namespace hone
