// The runtime context: thread counts, installing contexts per thread, the Philox generator
// (determinism, and results that do not depend on the thread count), the thread pool, and
// device strings, and the process default used from several threads at once. Only
// Context.FromEnvironment* sets environment variables (and restores them).
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include "tensor/philox.h"
#include "test_util.h"

namespace hone {
namespace {

// ---------------------------------------------------------------- Context

TEST(Context, DefaultsAndSettings) {
  Context c;
  EXPECT_EQ(c.num_threads(), available_cores());
  EXPECT_EQ(c.default_device(), Device::cpu());
  EXPECT_EQ(c.cuda_stream(), nullptr);
  EXPECT_EQ(c.backend("matmul"), Backend::Auto);
  c.set_backend("matmul", Backend::Native);
  EXPECT_EQ(c.backend("matmul"), Backend::Native);
  EXPECT_EQ(c.backend("conv2d"), Backend::Auto);  // per op
  c.set_default_device(Device::cuda(1));
  EXPECT_EQ(c.default_device(), Device::cuda(1));
}

TEST(Context, ThreadCountsRebuildThePool) {
  Context c;
  c.set_num_threads(3);
  EXPECT_EQ(c.num_threads(), 3);
  const std::shared_ptr<ThreadPool> p3 = c.thread_pool();
  EXPECT_EQ(p3->size(), 3);
  EXPECT_EQ(c.thread_pool(), p3);  // kept while the count is unchanged
  c.set_num_threads(3);
  EXPECT_EQ(c.thread_pool(), p3);
  c.set_num_threads(1);
  EXPECT_EQ(c.num_threads(), 1);
  EXPECT_EQ(c.thread_pool()->size(), 1);
  EXPECT_EQ(p3->size(), 3);  // a retired pool lives on while someone holds it
  c.set_num_threads(2);
  EXPECT_EQ(c.thread_pool()->size(), 2);
  try {
    c.set_num_threads(0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at least 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(c.set_num_threads(-4), Error);
  EXPECT_EQ(c.num_threads(), 2);  // a refused count changes nothing
  EXPECT_EQ(c.thread_pool()->size(), 2);
}

TEST(Context, GuardInstallsAndRestoresNested) {
  Context& outside = Context::current();
  Context a, b;
  {
    ContextGuard ga(a);
    EXPECT_EQ(&Context::current(), &a);
    {
      ContextGuard gb(b);
      EXPECT_EQ(&Context::current(), &b);
    }
    EXPECT_EQ(&Context::current(), &a);
  }
  EXPECT_EQ(&Context::current(), &outside);
}

TEST(Context, GuardIsPerThread) {
  Context mine;
  ContextGuard g(mine);
  Context* seen_there = nullptr;
  Context* installed_there = nullptr;
  Context theirs;
  std::thread t([&] {
    seen_there = &Context::current();  // this thread installed nothing
    ContextGuard g2(theirs);
    installed_there = &Context::current();
  });
  t.join();
  EXPECT_EQ(seen_there, &Context::process_default());
  EXPECT_EQ(installed_there, &theirs);
  EXPECT_EQ(&Context::current(), &mine);  // the other thread's guard did not touch ours
}

TEST(Context, FactoriesUseTheCurrentContextsDevice) {
  Context c;
  c.set_default_device(Device::cuda(0));
  ContextGuard g(c);
  if (cuda_device_count() == 0) {
    EXPECT_THROW(zeros({2}), Error);  // would need a GPU
  } else {
    EXPECT_EQ(zeros({2}).device(), Device::cuda(0));
  }
  Tensor h = zeros({2}, {.device = Device::cpu()});  // explicit device wins
  EXPECT_EQ(h.device(), Device::cpu());
}

// Sets (or, given nullptr, unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_.c_str(), old_->c_str(), 1);
    else unsetenv(name_.c_str());
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

TEST(Context, FromEnvironmentTakesThreadCountsFrom1To1024) {
  {
    ScopedEnv unset("HONE_NUM_THREADS", nullptr);
    EXPECT_EQ(Context::from_environment()->num_threads(), std::min(available_cores(), 1024));
  }
  {
    ScopedEnv empty("HONE_NUM_THREADS", "");  // as good as unset
    EXPECT_EQ(Context::from_environment()->num_threads(), std::min(available_cores(), 1024));
  }
  for (int n : {1, 3, 1024}) {  // the pool starts on first use: 1024 costs nothing here
    ScopedEnv e("HONE_NUM_THREADS", std::to_string(n).c_str());
    EXPECT_EQ(Context::from_environment()->num_threads(), n);
  }
  for (const char* bad : {"0", "-1", "-8", "1025", "100000", "99999999999999999999"}) {
    ScopedEnv e("HONE_NUM_THREADS", bad);
    test::expect_error([] { Context::from_environment(); },
                       {"HONE_NUM_THREADS='" + std::string(bad) + "'", "from 1 to 1024", "unset it"});
  }
  for (const char* garbage : {"abc", "4x", "2.5", " ", "0x10"}) {
    ScopedEnv e("HONE_NUM_THREADS", garbage);
    test::expect_error([] { Context::from_environment(); },
                       {"HONE_NUM_THREADS='" + std::string(garbage) + "'", "not an integer"});
  }
}

TEST(Context, FromEnvironmentReadsSeedAndDevice) {
  ScopedEnv threads("HONE_NUM_THREADS", nullptr);
  {
    ScopedEnv seed("HONE_SEED", "7"), device("HONE_DEVICE", "cuda:1");
    auto c = Context::from_environment();
    EXPECT_EQ(c->generator().seed(), 7u);
    EXPECT_EQ(c->default_device(), Device::cuda(1));
  }
  {
    ScopedEnv seed("HONE_SEED", "seven");
    test::expect_error([] { Context::from_environment(); }, {"HONE_SEED='seven'", "not an integer"});
  }
  {
    ScopedEnv device("HONE_DEVICE", "gpu");
    test::expect_error([] { Context::from_environment(); }, "'gpu'");
  }
}

// Several threads use the process default at once (no guard installed): they start its
// pool lazily, run parallel kernels on it and draw from its generator, while another
// thread keeps changing its thread count (which retires the pool they may be using).
TEST(Context, ProcessDefaultIsSafeFromSeveralThreadsWhileTheCountChanges) {
  Context& def = Context::process_default();
  const int saved = def.num_threads();
  Generator g(5);
  const Tensor a = randn({128, 128}, {}, &g), big = randn({1000, 1000}, {}, &g);
  const std::vector<float> want_product = matmul(a, a).to_vector<float>();  // threaded: 4e6 flops
  const float want_sum = big.sum().item<float>();
  const std::vector<float> want_col = big.t().contiguous().to_vector<float>();  // a split copy
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::mutex m;
  std::vector<double> draws;
  auto user = [&] {
    std::vector<double> mine;
    for (int rep = 0; rep < 12; ++rep) {
      if (matmul(a, a).to_vector<float>() != want_product) wrong++;
      if (big.sum().item<float>() != want_sum) wrong++;
      if (big.t().contiguous().to_vector<float>() != want_col) wrong++;
      const std::vector<double> r = rand({256}, {.dtype = DType::Float64}).to_vector<double>();
      mine.insert(mine.end(), r.begin(), r.end());
    }
    std::lock_guard<std::mutex> lock(m);
    draws.insert(draws.end(), mine.begin(), mine.end());
  };
  std::thread changer([&] {
    for (int i = 0; !stop; ++i) {
      def.set_num_threads(1 + i % 3);
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  });
  std::vector<std::thread> users;
  for (int t = 0; t < 4; ++t) users.emplace_back(user);
  for (auto& t : users) t.join();
  stop = true;
  changer.join();
  def.set_num_threads(saved);
  EXPECT_EQ(wrong.load(), 0);  // results do not depend on the thread count, even mid-change
  ASSERT_EQ(draws.size(), 4u * 12 * 256);
  EXPECT_EQ(std::set<double>(draws.begin(), draws.end()).size(), draws.size());  // no block drawn twice
}

// ---------------------------------------------------------------- Generator

TEST(Generator, PhiloxMatchesRandom123KnownAnswer) {
  // Random123 kat_vectors: philox4x32 10, counter {0,0,0,0}, key {0,0}.
  EXPECT_EQ(Generator::philox(0, 0), (std::array<uint32_t, 4>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  // Every bit of seed and counter matters (the high halves go to key[1] and counter[1]).
  EXPECT_NE(Generator::philox(0, 1), Generator::philox(0, 0));
  EXPECT_NE(Generator::philox(0, uint64_t(1) << 32), Generator::philox(0, 0));
  EXPECT_NE(Generator::philox(uint64_t(1) << 32, 0), Generator::philox(0, 0));
  EXPECT_EQ(Generator::philox(77, 5), Generator::philox(77, 5));
}

// The numbers as they were before Philox moved into tensor/philox.h (HONE_HOST_DEVICE, shared
// with the CUDA kernels): printed by the previous build, pinned here bit for bit.
TEST(Generator, SharedPhiloxKeepsTheCpuNumbers) {
  EXPECT_EQ(Generator::philox(0x0123456789abcdefULL, 0xfedcba9876543210ULL),
            (std::array<uint32_t, 4>{0x2c03a599u, 0xd8a290fcu, 0x4339955bu, 0x8784c033u}));
  Generator g(42);
  const std::vector<double> u = rand({5}, {.dtype = DType::Float64}, &g).to_vector<double>();
  EXPECT_EQ(u, (std::vector<double>{0x1.39d5e0a6efea9p-1, 0x1.2bf50ad5742bp-4, 0x1.f9b6424ea774dp-1,
                                    0x1.071eb4dce89cp-1, 0x1.a6d8044b510ebp-1}));
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(philox_uniform(42, 0, i), u[size_t(i)]);  // what the kernels call
}

TEST(Generator, StateIsSeedAndOffset) {
  Generator g(9);
  EXPECT_EQ(g.seed(), 9u);
  EXPECT_EQ(g.offset(), 0u);
  EXPECT_EQ(g.reserve(10), 0u);
  EXPECT_EQ(g.reserve(5), 10u);
  EXPECT_EQ(g.offset(), 15u);
  g.manual_seed(11);
  EXPECT_EQ(g.seed(), 11u);
  EXPECT_EQ(g.offset(), 0u);
  g.set_offset(100);
  EXPECT_EQ(g.reserve(1), 100u);
  EXPECT_EQ(Generator().seed(), Generator().seed());  // a fixed default seed
}

TEST(Generator, SameSeedGivesIdenticalRandAndRandn) {
  Generator g1(42), g2(42);
  EXPECT_EQ(rand({1000}, {}, &g1).to_vector<float>(), rand({1000}, {}, &g2).to_vector<float>());
  EXPECT_EQ(randn({999}, {.dtype = DType::Float64}, &g1).to_vector<double>(),
            randn({999}, {.dtype = DType::Float64}, &g2).to_vector<double>());
  EXPECT_EQ(randint(0, 1000, {500}, {.dtype = DType::Int64}, &g1).to_vector<int64_t>(),
            randint(0, 1000, {500}, {.dtype = DType::Int64}, &g2).to_vector<int64_t>());
  EXPECT_EQ(g1.offset(), g2.offset());
  // The shape does not matter, only the element count and position.
  Generator g3(42), g4(42);
  EXPECT_EQ(rand({6, 7}, {}, &g3).to_vector<float>(), rand({42}, {}, &g4).to_vector<float>());
}

TEST(Generator, SuccessiveSmallNormalDrawsDiffer) {
  // Regression: a per-thread Box-Muller cache once keyed on the stream's stack address
  // returned the previous call's pair for the next small randn.
  Context ctx;
  ContextGuard guard(ctx);
  const std::vector<float> a = randn({2}).to_vector<float>(), b = randn({2}).to_vector<float>();
  EXPECT_NE(a, b);
  Generator g1(3), g2(3);
  EXPECT_EQ(normal({3}, 0, 1, {}, &g1).to_vector<float>(), normal({3}, 0, 1, {}, &g2).to_vector<float>());
}

TEST(Generator, DifferentSeedsAndSuccessiveDrawsDiffer) {
  Generator g1(1), g2(2);
  std::vector<double> a = rand({1000}, {.dtype = DType::Float64}, &g1).to_vector<double>();
  std::vector<double> b = rand({1000}, {.dtype = DType::Float64}, &g2).to_vector<double>();
  int same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  EXPECT_EQ(same, 0);
  const uint64_t before = g1.offset();
  std::vector<double> c = rand({1000}, {.dtype = DType::Float64}, &g1).to_vector<double>();
  EXPECT_GT(g1.offset(), before);
  std::set<double> all(a.begin(), a.end());
  all.insert(c.begin(), c.end());
  EXPECT_EQ(all.size(), 2000u);  // the second draw did not reuse the first's numbers
}

TEST(Generator, ManualSeedAndSetOffsetReplay) {
  Generator g(5);
  std::vector<float> first = randn({100}, {}, &g).to_vector<float>();
  const uint64_t mid = g.offset();
  std::vector<float> second = randn({100}, {}, &g).to_vector<float>();
  EXPECT_NE(first, second);
  g.set_offset(mid);
  EXPECT_EQ(randn({100}, {}, &g).to_vector<float>(), second);
  g.manual_seed(5);
  EXPECT_EQ(randn({100}, {}, &g).to_vector<float>(), first);
}

TEST(Generator, FactoriesDrawFromTheCurrentContextUnlessGivenOne) {
  Context c;
  c.manual_seed(7);
  ContextGuard guard(c);
  Generator ref(7);
  std::vector<float> want = rand({50}, {}, &ref).to_vector<float>();
  EXPECT_EQ(rand({50}).to_vector<float>(), want);  // the context's generator, seeded 7
  EXPECT_EQ(c.generator().offset(), ref.offset());
  // An explicit generator is used instead and leaves the context's alone.
  const uint64_t ctx_offset = c.generator().offset();
  Generator other(7);
  EXPECT_EQ(rand({50}, {}, &other).to_vector<float>(), want);
  EXPECT_EQ(c.generator().offset(), ctx_offset);
  // Reseeding the context replays.
  c.manual_seed(7);
  EXPECT_EQ(rand({50}).to_vector<float>(), want);
  // Another context with another seed gives other numbers.
  Context d;
  d.manual_seed(8);
  ContextGuard guard_d(d);
  EXPECT_NE(rand({50}).to_vector<float>(), want);
}

// reserve() from several threads at once hands out every block exactly once.
TEST(Generator, ConcurrentReservationsNeverOverlap) {
  Generator g(1);
  constexpr int kThreads = 4, kEach = 20000;
  std::vector<std::vector<std::pair<uint64_t, uint64_t>>> got(kThreads);  // (first, blocks)
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const uint64_t blocks = 1 + uint64_t(i + t) % 3;
        got[size_t(t)].emplace_back(g.reserve(blocks), blocks);
      }
    });
  for (auto& t : threads) t.join();
  std::vector<std::pair<uint64_t, uint64_t>> all;
  for (const auto& v : got) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  uint64_t next = 0;  // each reservation starts where the one before it ended: no overlap, no gap
  for (const auto& [first, blocks] : all) {
    ASSERT_EQ(first, next);
    next = first + blocks;
  }
  EXPECT_EQ(g.offset(), next);
}

// ---------------------------------------------------------------- thread-count invariance

struct Results {
  std::vector<float> a, matmul, elementwise, col_sum, row_mean;
  float total = 0, mean = 0;
  std::vector<double> dsum;
};

// Draws and computes everything under a fresh context with `threads` threads and seed 1234.
Results compute(int threads) {
  Context ctx;
  ctx.set_num_threads(threads);
  ctx.manual_seed(1234);
  ContextGuard guard(ctx);
  Results r;
  Tensor a = randn({300, 300});
  Tensor b = randn({300, 300});
  r.a = a.to_vector<float>();
  r.matmul = matmul(a, b).to_vector<float>();
  Tensor big = randn({1000, 1000});  // 1e6 elements
  r.elementwise = (big * 0.5 + big * big).to_vector<float>();
  r.total = big.sum().item<float>();
  r.mean = big.mean().item<float>();
  r.col_sum = big.sum({0}).to_vector<float>();
  r.row_mean = big.mean({1}).to_vector<float>();
  r.dsum = big.to(DType::Float64).sum({1}, true).to_vector<double>();
  return r;
}

TEST(Determinism, SameSeedGivesSameNumbersWhateverTheThreadCount) {
  const Results r1 = compute(1), r2 = compute(2), r3 = compute(3);
  for (const Results* r : {&r2, &r3}) {
    EXPECT_EQ(r->a, r1.a);
    EXPECT_EQ(r->matmul, r1.matmul);  // bit-identical, not merely close
    EXPECT_EQ(r->elementwise, r1.elementwise);
    EXPECT_EQ(r->total, r1.total);
    EXPECT_EQ(r->mean, r1.mean);
    EXPECT_EQ(r->col_sum, r1.col_sum);
    EXPECT_EQ(r->row_mean, r1.row_mean);
    EXPECT_EQ(r->dsum, r1.dsum);
  }
  // And the numbers are the right ones, not merely equal: check against plain loops.
  ASSERT_EQ(r1.matmul.size(), 90000u);
  ASSERT_EQ(r1.col_sum.size(), 1000u);
  ASSERT_EQ(r1.row_mean.size(), 1000u);
  ASSERT_EQ(r1.dsum.size(), 1000u);
  double row_total = 0;
  for (size_t i = 0; i < 1000; ++i) row_total += r1.dsum[i];
  EXPECT_NEAR(r1.total, row_total, 1e-2);
  EXPECT_NEAR(r1.mean, row_total / 1e6, 1e-8);
  EXPECT_NEAR(r1.row_mean[17], r1.dsum[17] / 1000, 1e-5);
  EXPECT_NEAR(std::abs(r1.mean), 0.0, 5e-3);  // 1e6 standard normals: sd of the mean 1e-3
}

TEST(Determinism, MatmulMatchesAPlainLoop) {
  Context ctx;
  ctx.set_num_threads(3);
  ContextGuard guard(ctx);
  Generator g(99);
  Tensor a = randn({40, 30}, {.dtype = DType::Float64}, &g), b = randn({30, 20}, {.dtype = DType::Float64}, &g);
  std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>(), cv = matmul(a, b).to_vector<double>();
  for (int i = 0; i < 40; ++i)
    for (int j = 0; j < 20; ++j) {
      double want = 0;
      for (int k = 0; k < 30; ++k) want += av[size_t(i * 30 + k)] * bv[size_t(k * 20 + j)];
      ASSERT_NEAR(cv[size_t(i * 20 + j)], want, 1e-12) << i << "," << j;
    }
}

TEST(Determinism, ExplicitGeneratorIgnoresTheThreadCount) {
  std::vector<float> ref;
  for (int threads : {1, 2, 3}) {
    Context ctx;
    ctx.set_num_threads(threads);
    ContextGuard guard(ctx);
    Generator g(2024);
    std::vector<float> v = randn({300000}, {}, &g).to_vector<float>();  // large: the copy is split
    if (ref.empty()) {
      ref = v;
    } else {
      EXPECT_EQ(v, ref) << threads << " threads";
    }
  }
}

// ---------------------------------------------------------------- ThreadPool

TEST(ThreadPool, RunCoversEveryChunkExactlyOnce) {
  ThreadPool pool(4);
  EXPECT_EQ(pool.size(), 4);
  for (int64_t chunks : {0, 1, 2, 3, 4, 7, 100, 1000}) {
    for (int rep = 0; rep < 20; ++rep) {
      std::vector<std::atomic<int>> hits(size_t(std::max<int64_t>(chunks, 1)));
      std::atomic<int64_t> calls{0};
      pool.run(chunks, [&](int64_t i) {
        ASSERT_GE(i, 0);
        ASSERT_LT(i, chunks);
        hits[size_t(i)]++;
        calls++;
      });
      ASSERT_EQ(calls.load(), chunks);
      for (int64_t i = 0; i < chunks; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "chunk " << i << " of " << chunks;
    }
  }
}

TEST(ThreadPool, NeverUsesMoreThreadsThanItsSize) {
  ThreadPool pool(3);
  std::mutex m;
  std::set<std::thread::id> ids;
  pool.run(300, [&](int64_t) {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    std::lock_guard<std::mutex> lock(m);
    ids.insert(std::this_thread::get_id());
  });
  EXPECT_GE(ids.size(), 1u);
  EXPECT_LE(ids.size(), 3u);
  ThreadPool single(1);
  EXPECT_EQ(single.size(), 1);
  std::set<std::thread::id> single_ids;
  single.run(50, [&](int64_t) { single_ids.insert(std::this_thread::get_id()); });
  EXPECT_EQ(single_ids, std::set<std::thread::id>{std::this_thread::get_id()});  // the caller only
  EXPECT_EQ(ThreadPool(0).size(), 1);
  EXPECT_EQ(ThreadPool(-2).size(), 1);
}

TEST(ThreadPool, PropagatesTheExceptionAndStaysUsable) {
  ThreadPool pool(4);
  std::atomic<int> calls{0};
  try {
    pool.run(64, [&](int64_t i) {
      calls++;
      if (i == 37) fail("chunk ", i, " failed");
    });
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "chunk 37 failed");
  }
  EXPECT_GE(calls.load(), 1);
  // The exception type survives (not wrapped).
  EXPECT_THROW(pool.run(8, [](int64_t i) { if (i == 3) throw std::out_of_range("x"); }), std::out_of_range);
  // When several chunks throw, one of their exceptions comes back.
  try {
    pool.run(32, [](int64_t i) { if (i % 2) throw std::runtime_error(std::to_string(i)); });
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    int which = std::stoi(e.what());
    EXPECT_EQ(which % 2, 1);
  }
  // The pool still works afterwards, with no stale error.
  std::vector<std::atomic<int>> hits(100);
  pool.run(100, [&](int64_t i) { hits[size_t(i)]++; });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  // The serial path (a single thread) propagates too.
  ThreadPool one(1);
  EXPECT_THROW(one.run(5, [](int64_t i) { if (i == 4) fail("last"); }), Error);
}

TEST(ThreadPool, NestedRunIsSerialOnTheCallingThreadWithoutDeadlock) {
  ThreadPool pool(4);
  EXPECT_FALSE(ThreadPool::in_worker());
  std::vector<std::atomic<int>> hits(16 * 10);
  std::atomic<int> wrong_thread{0}, not_in_worker{0};
  pool.run(16, [&](int64_t outer) {
    if (!ThreadPool::in_worker()) not_in_worker++;
    const auto me = std::this_thread::get_id();
    pool.run(10, [&](int64_t inner) {
      if (std::this_thread::get_id() != me) wrong_thread++;
      hits[size_t(outer * 10 + inner)]++;
      // A third level, on the same pool, also completes.
      pool.run(2, [&](int64_t) {
        if (std::this_thread::get_id() != me) wrong_thread++;
      });
    });
  });
  EXPECT_EQ(not_in_worker.load(), 0);
  EXPECT_EQ(wrong_thread.load(), 0);
  for (size_t i = 0; i < hits.size(); ++i) EXPECT_EQ(hits[i].load(), 1) << i;
  EXPECT_FALSE(ThreadPool::in_worker());  // restored on the caller
}

TEST(ThreadPool, OpsInsideAChunkGiveTheSameResults) {
  Context ctx;
  ctx.set_num_threads(3);
  ContextGuard guard(ctx);
  Generator g(8);
  Tensor a = randn({64, 64}, {}, &g);
  const std::vector<float> want = matmul(a, a).to_vector<float>();
  const std::vector<float> want_sum = a.sum({1}).to_vector<float>();
  std::vector<std::vector<float>> got(4), got_sum(4);
  ThreadPool pool(4);
  // Kernels called from a chunk find a pool busy (or themselves on a worker) and run serially.
  pool.run(4, [&](int64_t i) {
    got[size_t(i)] = matmul(a, a).to_vector<float>();
    got_sum[size_t(i)] = a.sum({1}).to_vector<float>();
  });
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(got[size_t(i)], want) << i;
    EXPECT_EQ(got_sum[size_t(i)], want_sum) << i;
  }
}

TEST(ThreadPool, ConcurrentCallersBothComplete) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> h1(500), h2(500);
  auto job = [&](std::vector<std::atomic<int>>& h) {
    for (int rep = 0; rep < 20; ++rep) pool.run(25, [&](int64_t i) { for (int k = 0; k < 20; ++k) h[size_t(i * 20 + k)]++; });
  };
  std::thread t1([&] { job(h1); }), t2([&] { job(h2); });
  t1.join();
  t2.join();
  for (size_t i = 0; i < 500; ++i) {
    ASSERT_EQ(h1[i].load(), 20) << i;
    ASSERT_EQ(h2[i].load(), 20) << i;
  }
}

TEST(ThreadPool, RefusesAbsurdThreadCounts) {
  Context c;
  ASSERT_THROW(c.set_num_threads(100000), Error);  // refused before any thread starts
  EXPECT_EQ(c.num_threads(), std::min(available_cores(), 1024));
  test::expect_error([&] { c.set_num_threads(1025); }, {"set_num_threads", "1025", "at most 1024"});
  test::expect_error([] { ThreadPool pool(100000); }, {"ThreadPool", "100000", "at most 1024"});
}

// The size of this process's address space in bytes (VmSize), 0 if unknown.
size_t address_space_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  size_t kib = 0;
  while (status >> key) {
    if (key == "VmSize:") {
      status >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

// A thread that cannot start (here: no address space left for its stack) is a hone::Error
// from the pool's constructor, with the threads already started stopped and joined. It
// used to escape as std::system_error while those threads still waited on the pool's
// condition variable: its destructor then blocked for ever (or std::terminate ran).
TEST(ThreadPool, AThreadThatCannotStartIsAnErrorNotATermination) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer cannot start threads in a child forked from a multi-threaded process";
#endif
  const size_t used = address_space_bytes();
  ASSERT_GT(used, 0u);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // the child: 20 MiB of room to grow, enough for two 8 MiB thread stacks
    const rlim_t room = used + (rlim_t(20) << 20);
    const rlimit lim{room, room};
    if (setrlimit(RLIMIT_AS, &lim) != 0) _exit(10);
    int code = 11;  // every thread started: the limit did not bite
    try {
      ThreadPool pool(256);
    } catch (const Error& e) {
      code = std::string(e.what()).find("could not start") != std::string::npos ? 0 : 12;
    } catch (...) {
      code = 13;  // some other exception
    }
    if (code == 0) {  // the same through a context: the error reaches the op that needed the pool
      Context c;
      c.set_num_threads(256);
      try {
        c.thread_pool();
        code = 14;
      } catch (const Error&) {
      }
    }
    _exit(code);
  }
  int status = 0;
  pid_t done = 0;
  for (int waited_ms = 0; (done = waitpid(pid, &status, WNOHANG)) == 0 && waited_ms < 30000; waited_ms += 10)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "the child hung for 30 s";
  }
  ASSERT_EQ(done, pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child was killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: setrlimit failed, 11: no error, 12: wrong message, "
                                       "13: not a hone::Error, 14: no error through the context";
}

TEST(ThreadPool, AvailableCores) {
  const int n = available_cores();
  EXPECT_GE(n, 1);
  const unsigned hw = std::thread::hardware_concurrency();
  if (hw > 0) {
    EXPECT_LE(n, int(hw));
  }
}

// ---------------------------------------------------------------- Device

TEST(Device, ParseAcceptsCpuCudaAndCudaN) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cuda"), Device::cuda(0));
  Device d = Device::parse("cuda:1");
  EXPECT_TRUE(d.is_cuda());
  EXPECT_FALSE(d.is_cpu());
  EXPECT_EQ(d.index, 1);
  EXPECT_EQ(Device::parse("cuda:12").index, 12);
  EXPECT_EQ(Device::parse("cuda:0"), Device::cuda(0));
  EXPECT_EQ(Device::cpu().index, 0);
  EXPECT_NE(Device::cuda(0), Device::cuda(1));
  EXPECT_NE(Device::cpu(), Device::cuda(0));
}

TEST(Device, ParseRejectsBadStringsNamingThem) {
  for (const char* bad : {"", "gpu", "CPU", "Cuda", "cuda:", "cuda:-1", "cuda:1a", "cuda:x", "cuda1", " cpu",
                          "cpu ", "cuda:0 ", "cpu:0", "cuda:99999999999"}) {
    try {
      Device::parse(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'" + std::string(bad) + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(Device, StrAndStreamRoundTrip) {
  EXPECT_EQ(Device::cpu().str(), "cpu");
  EXPECT_EQ(Device::cuda().str(), "cuda:0");
  EXPECT_EQ(Device::cuda(3).str(), "cuda:3");
  for (Device d : {Device::cpu(), Device::cuda(0), Device::cuda(7)}) EXPECT_EQ(Device::parse(d.str()), d);
  std::ostringstream os;
  os << Device::cuda(2);
  EXPECT_EQ(os.str(), "cuda:2");
}

}  // namespace
}  // namespace hone
