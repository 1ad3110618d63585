#include "tensor/context.h"

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

Context::Context() : num_threads_(available_cores()), default_device_(Device::cpu()) {}

void Context::set_num_threads(int n) {
  HONE_CHECK(n >= 1, "Context::set_num_threads: need at least 1 thread, got ", n);
  if (n != num_threads_) pool_.reset();
  num_threads_ = n;
}

ThreadPool& Context::thread_pool() {
  if (!pool_) pool_ = std::make_unique<ThreadPool>(num_threads_);
  return *pool_;
}

Backend Context::backend(const std::string& op) const {
  auto it = backends_.find(op);
  return it == backends_.end() ? Backend::Auto : it->second;
}

Context& Context::process_default() {
  static Context* ctx = [] {
    auto* c = new Context();  // never destroyed: worker threads may outlive static teardown
    long threads = env_long("HONE_NUM_THREADS", 0);
    if (threads > 0) c->set_num_threads(int(threads));
    if (const char* dev = std::getenv("HONE_DEVICE"); dev && *dev) c->set_default_device(Device::parse(dev));
    if (std::getenv("HONE_SEED")) c->manual_seed(uint64_t(env_long("HONE_SEED", 0)));
    return c;
  }();
  return *ctx;
}

Context& Context::current() { return t_current ? *t_current : process_default(); }

ContextGuard::ContextGuard(Context& ctx) : previous_(t_current) { t_current = &ctx; }
ContextGuard::~ContextGuard() { t_current = previous_; }

}  // namespace hone
