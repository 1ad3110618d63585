#pragma once
// A small fixed-size pool for data-parallel kernels. Work is split into chunks by the
// caller; the pool never changes results, because kernels make each output depend only on
// its own chunk-independent computation (see kernels/exec.h).
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hone {

class ThreadPool {
 public:
  // A bound far above any core count we meet (CPU affinity and cgroup quotas shrink what a
  // process gets), low enough that a mistyped count fails at once instead of starting
  // tens of thousands of threads.
  static constexpr int kMaxThreads = 1024;

  // num_threads counts the calling thread too; below 1 means 1, above kMaxThreads throws.
  // A worker thread that cannot start (the system's thread or memory limits) is a
  // hone::Error, after the workers already started are stopped.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return num_threads_; }
  // Calls fn(i) for every i in [0, num_chunks), on the workers and the caller, and returns
  // when all are done; the first exception thrown by fn is rethrown here. Called from a
  // worker (nested parallelism) or while another thread is using the pool, it runs the
  // chunks serially on the calling thread instead: never more threads than size().
  void run(int64_t num_chunks, const std::function<void(int64_t)>& fn);

  static bool in_worker();  // true on a pool thread (or inside run() on the caller)

 private:
  void worker_loop();
  void run_chunks();
  void stop_workers();

  int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex submit_mutex_;  // one job at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t num_chunks_ = 0, next_chunk_ = 0, chunks_done_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

// The number of cores this process may use: CPU affinity and cgroup CPU quota, not the
// machine's total.
int available_cores();

}  // namespace hone
