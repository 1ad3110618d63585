#pragma once
// The runtime context: everything an op needs that is not its arguments (threads, default
// device, CUDA stream, random generator, kernel backend per op). A program owns contexts
// and installs one per thread with ContextGuard; without one, ops use the process default,
// whose initial settings come from HONE_NUM_THREADS, HONE_DEVICE and HONE_SEED.
#include <map>
#include <memory>
#include <string>

#include "tensor/device.h"
#include "tensor/generator.h"
#include "tensor/thread_pool.h"

namespace hone {

// Which implementation an op uses: our own kernels, the vendor library (cuDNN/cuBLAS), or
// the op's default choice (Auto).
enum class Backend : uint8_t { Auto, Native, Vendor };

class Context {
 public:
  Context();  // defaults: all available cores, cpu, a fixed seed, Auto backends
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int num_threads() const { return num_threads_; }
  void set_num_threads(int n);  // >= 1; the pool is rebuilt on next use
  ThreadPool& thread_pool();

  Device default_device() const { return default_device_; }
  void set_default_device(Device d) { default_device_ = d; }

  Generator& generator() { return generator_; }
  void manual_seed(uint64_t seed) { generator_.manual_seed(seed); }

  void* cuda_stream() const { return cuda_stream_; }  // a cudaStream_t; nullptr = default stream
  void set_cuda_stream(void* stream) { cuda_stream_ = stream; }

  Backend backend(const std::string& op) const;
  void set_backend(const std::string& op, Backend b) { backends_[op] = b; }

  // The context installed on this thread, else the process default.
  static Context& current();
  // The process default (created on first use, reading the environment variables).
  static Context& process_default();

 private:
  int num_threads_;
  std::unique_ptr<ThreadPool> pool_;
  Device default_device_;
  Generator generator_;
  void* cuda_stream_ = nullptr;
  std::map<std::string, Backend> backends_;
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
