#include "tensor/context.h"

#include <algorithm>
#include <cstdlib>

#include "tensor/error.h"

namespace hone {

namespace {
thread_local Context* t_current = nullptr;

long env_long(const char* name, long fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  HONE_CHECK(end && *end == '\0', "environment variable ", name, "='", v, "' is not an integer");
  return x;
}
}  // namespace

Context::Context()
    : num_threads_(std::min(available_cores(), ThreadPool::kMaxThreads)), default_device_(pack(Device::cpu())) {}

void Context::set_num_threads(int n) {
  HONE_CHECK(n >= 1, "Context::set_num_threads: need at least 1 thread, got ", n);
  HONE_CHECK(n <= ThreadPool::kMaxThreads, "Context::set_num_threads: ", n, " threads requested; at most ",
             ThreadPool::kMaxThreads);
  std::shared_ptr<ThreadPool> retired;  // released after the lock: ops still using it keep it alive
  std::lock_guard<std::mutex> lock(mutex_);
  if (n != num_threads_) retired = std::move(pool_);
  num_threads_ = n;
}

std::shared_ptr<ThreadPool> Context::thread_pool() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!pool_) pool_ = std::make_shared<ThreadPool>(num_threads_);
  return pool_;
}

Backend Context::backend(std::string_view op) const {
  if (!any_backend_set_.load(std::memory_order_acquire)) return Backend::Auto;  // every op dispatch asks
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = backends_.find(op);
  return it == backends_.end() ? Backend::Auto : it->second;
}

const std::vector<std::string>& Context::op_families() {
  // The op families of kernels/registry.h (a test keeps the two lists equal).
  static const std::vector<std::string> families{"unary",   "binary",  "matmul",        "conv2d",
                                                 "batch_norm", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
                                                 "softmax", "cross_entropy", "sum",         "max",
                                                 "dropout", "optimizer", "clip_grad_norm"};
  return families;
}

void Context::set_backend(std::string_view op, Backend b) {
  const auto& known = op_families();
  if (std::find(known.begin(), known.end(), op) == known.end()) {
    std::string list;
    for (const auto& f : known) list += (list.empty() ? "" : ", ") + f;
    fail("set_backend: unknown op family '", std::string(op), "' (the families are: ", list, ")");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  backends_[std::string(op)] = b;
  any_backend_set_.store(true, std::memory_order_release);
}

std::unique_ptr<Context> Context::from_environment() {
  auto c = std::make_unique<Context>();
  if (const char* v = std::getenv("HONE_NUM_THREADS"); v && *v) {
    const long threads = env_long("HONE_NUM_THREADS", 0);
    HONE_CHECK(threads >= 1 && threads <= ThreadPool::kMaxThreads, "HONE_NUM_THREADS='", v,
               "' is out of range: give a whole number of threads from 1 to ", ThreadPool::kMaxThreads,
               ", or unset it to use every available core (", available_cores(), ")");
    c->set_num_threads(int(threads));
  }
  if (const char* dev = std::getenv("HONE_DEVICE"); dev && *dev) c->set_default_device(Device::parse(dev));
  if (std::getenv("HONE_SEED")) c->manual_seed(uint64_t(env_long("HONE_SEED", 0)));
  return c;
}

Context& Context::process_default() {
  // Never destroyed: worker threads may outlive static teardown.
  static Context* ctx = from_environment().release();
  return *ctx;
}

Context& Context::current() { return t_current ? *t_current : process_default(); }

ContextGuard::ContextGuard(Context& ctx) : previous_(t_current) { t_current = &ctx; }
ContextGuard::~ContextGuard() { t_current = previous_; }

}  // namespace hone
