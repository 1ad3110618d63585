#include "tensor/thread_pool.h"

#include <sched.h>

#include <cmath>
#include <fstream>

#include "tensor/error.h"

namespace hone {

namespace {
thread_local bool t_in_worker = false;
}

bool ThreadPool::in_worker() { return t_in_worker; }

ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)) {
  HONE_CHECK(num_threads <= kMaxThreads, "ThreadPool: ", num_threads, " threads requested; at most ", kMaxThreads);
  workers_.reserve(size_t(num_threads_ - 1));
  try {
    for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
  } catch (const std::exception& e) {
    // Left as they are, the started workers would keep waiting on wake_ while the members
    // are destroyed (a hang in the condition variable's destructor, or std::terminate).
    const size_t started = workers_.size();
    stop_workers();
    fail("ThreadPool: could not start worker thread ", started + 1, " of ", num_threads_ - 1, " (", e.what(),
         "); ask for fewer threads (Context::set_num_threads, HONE_NUM_THREADS)");
  }
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_chunks() {
  const bool was_worker = t_in_worker;
  t_in_worker = true;
  for (;;) {
    int64_t i;
    const std::function<void(int64_t)>* job;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (next_chunk_ >= num_chunks_) break;
      i = next_chunk_++;
      job = job_;
    }
    try {
      (*job)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (++chunks_done_ == num_chunks_) done_.notify_all();
  }
  t_in_worker = was_worker;
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    run_chunks();
  }
}

void ThreadPool::run(int64_t num_chunks, const std::function<void(int64_t)>& fn) {
  if (num_chunks <= 0) return;
  // Nested calls (t_in_worker) must not touch submit_mutex_: this thread may hold it.
  std::unique_lock<std::mutex> submit;
  if (!t_in_worker && num_chunks > 1 && !workers_.empty())
    submit = std::unique_lock<std::mutex>(submit_mutex_, std::try_to_lock);
  if (!submit.owns_lock()) {
    const bool was_worker = t_in_worker;
    t_in_worker = true;  // anything nested below runs serially too
    try {
      for (int64_t i = 0; i < num_chunks; ++i) fn(i);
    } catch (...) {
      t_in_worker = was_worker;
      throw;
    }
    t_in_worker = was_worker;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    num_chunks_ = num_chunks;
    next_chunk_ = 0;
    chunks_done_ = 0;
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  run_chunks();
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return chunks_done_ == num_chunks_; });
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

int available_cores() {
  cpu_set_t set;
  int cores = 1;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cores = std::max(1, CPU_COUNT(&set));
  else cores = std::max(1u, std::thread::hardware_concurrency());
  // cgroup v2 quota: "max 100000" (no limit) or "<quota> <period>".
  std::ifstream f("/sys/fs/cgroup/cpu.max");
  std::string quota;
  long period = 0;
  if (f >> quota >> period && quota != "max" && period > 0) {
    long q = std::atol(quota.c_str());
    if (q > 0) cores = std::min(cores, std::max(1, int(std::ceil(double(q) / double(period)))));
  }
  return cores;
}

}  // namespace hone
