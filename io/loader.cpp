#include "io/loader.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "tensor/cuda_runtime.h"
#include "tensor/error.h"
#include "tensor/generator.h"

namespace hone::io {

namespace {

// Batch `b` of an epoch: the samples order[begin, end), each decoded, transformed with the
// random draws of (seed, epoch, dataset index) and written straight into the batch tensor.
// Returns early (a batch nobody will see) once `cancelled` turns true.
Batch make_batch(const Dataset& dataset, const Transform& transform, uint64_t seed, int64_t epoch,
                 const std::vector<int64_t>& order, int64_t begin, int64_t end, bool pin_memory,
                 const std::atomic<bool>* cancelled = nullptr) {
  const TransformOptions& t = transform.options();
  const int64_t count = end - begin, per_sample = transform.output_numel();
  Batch batch;
  batch.position = begin;
  batch.indices.assign(order.begin() + begin, order.begin() + end);
  // Always on the CPU, never requiring grad: the training loop moves it where it wants
  // (pinned, with .to(cuda, /*non_blocking=*/true) while the host goes on).
  const TensorOptions host{.dtype = DType::Float32, .device = Device::cpu(), .pin_memory = pin_memory};
  batch.images = empty({count, t.channels, t.crop, t.crop}, host);
  batch.labels = empty({count}, {.dtype = DType::Int64, .device = Device::cpu(), .pin_memory = pin_memory});
  float* images = batch.images.data<float>();
  int64_t* labels = batch.labels.data<int64_t>();
  const DecodeOptions decode = transform.decode_options();
  for (int64_t k = 0; k < count; ++k) {
    if (cancelled && cancelled->load(std::memory_order_relaxed)) return batch;
    const int64_t index = batch.indices[size_t(k)];
    try {
      labels[k] = dataset.label(index);
      Image image = dataset.load(index, decode);
      transform.apply(image, seed, epoch, index, images + k * per_sample);
    } catch (...) {
      // Rethrown as a hone::Error that says which sample, whatever the dataset threw.
      std::string what = "unknown exception", source = "?";
      try {
        throw;
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      try {
        source = dataset.source(index);
      } catch (...) {
      }
      fail("DataLoader: loading sample ", index, " ('", source, "'): ", what);
    }
  }
  return batch;
}

}  // namespace

// One epoch in flight. Workers claim batch numbers in order, at most `prefetch` ahead of
// the consumer, and park finished batches in a ring of `prefetch` slots: batch b goes to
// slot b % prefetch, which is free because batch b - prefetch was handed out before b
// could be claimed. Everything the workers touch lives here (the dataset by shared_ptr,
// the transform by value), so the State's destructor can cancel and join on its own.
struct DataLoader::State {
  struct Slot {
    bool ready = false;
    std::optional<Batch> batch;
    std::exception_ptr error;
  };

  std::shared_ptr<const Dataset> dataset;
  Transform transform;
  LoaderOptions opts;
  int64_t epoch = 0;
  std::vector<int64_t> order;
  int64_t skip = 0, num_batches = 0;

  std::mutex mu;
  std::condition_variable ready_cv, space_cv;
  std::vector<Slot> slots;
  int64_t next_to_hand = 0, next_to_claim = 0;
  // Set under `mu` (so no waiter misses it), read without it between samples.
  std::atomic<bool> cancelled{false};
  std::vector<std::thread> threads;

  State(std::shared_ptr<const Dataset> d, Transform t, LoaderOptions o)
      : dataset(std::move(d)), transform(std::move(t)), opts(o) {}

  ~State() {
    {
      std::lock_guard lock(mu);
      cancelled = true;
    }
    space_cv.notify_all();
    for (auto& t : threads) t.join();
  }

  std::pair<int64_t, int64_t> range(int64_t b) const {
    const int64_t begin = skip + b * opts.batch_size;
    return {begin, std::min<int64_t>(begin + opts.batch_size, int64_t(order.size()))};
  }

  void work() {
    std::unique_lock lock(mu);
    for (;;) {
      space_cv.wait(lock, [&] {
        return cancelled || next_to_claim >= num_batches || next_to_claim < next_to_hand + opts.prefetch;
      });
      if (cancelled || next_to_claim >= num_batches) return;
      const int64_t b = next_to_claim++;
      lock.unlock();
      Slot result;
      try {
        const auto [begin, end] = range(b);
        result.batch = make_batch(*dataset, transform, opts.seed, epoch, order, begin, end, opts.pin_memory, &cancelled);
      } catch (...) {
        result.error = std::current_exception();
      }
      result.ready = true;
      lock.lock();
      if (cancelled) return;
      slots[size_t(b % opts.prefetch)] = std::move(result);
      ready_cv.notify_all();
    }
  }
};

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, Transform transform, LoaderOptions options)
    : dataset_(std::move(dataset)), transform_(std::move(transform)), opts_(options) {
  HONE_CHECK(dataset_ != nullptr, "DataLoader: no dataset");
  HONE_CHECK(opts_.batch_size >= 1, "DataLoader: batch_size ", opts_.batch_size, " must be >= 1");
  HONE_CHECK(opts_.workers >= 0, "DataLoader: workers ", opts_.workers, " must be >= 0");
  HONE_CHECK(opts_.prefetch >= 1, "DataLoader: prefetch ", opts_.prefetch, " must be >= 1");
  HONE_CHECK(!opts_.pin_memory || (cuda_built() && cuda_device_count() > 0), "DataLoader: pin_memory needs a CUDA ",
             cuda_built() ? "device, and none is present" : "build of hone, and this one was built without CUDA",
             " (leave it off to train on the CPU)");
  const TransformOptions& t = transform_.options();
  HONE_CHECK(transform_.output_numel() == t.channels * t.crop * t.crop, "DataLoader: the transform writes ",
             transform_.output_numel(), " floats per sample, not channels * crop * crop = ", t.channels, " * ",
             t.crop, " * ", t.crop);
}

DataLoader::~DataLoader() { state_.reset(); }  // cancels the epoch in flight and joins its workers

int64_t DataLoader::batches_per_epoch() const {
  const int64_t n = size(), b = opts_.batch_size;
  return opts_.drop_last ? n / b : (n + b - 1) / b;
}

// A seeded shuffle keyed by (seed, epoch) (tensor/generator.h: the same on every platform).
std::vector<int64_t> DataLoader::order(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(size()));
  std::iota(order.begin(), order.end(), int64_t(0));
  if (opts_.shuffle)
    philox_shuffle(order, splitmix64(opts_.seed ^ splitmix64(uint64_t(epoch) ^ 0x6c6f61646572ull /* "loader" */)));
  return order;
}

void DataLoader::start_epoch(int64_t epoch, int64_t skip) {
  HONE_CHECK(skip >= 0 && skip <= size(), "DataLoader::start_epoch: skip ", skip, " is outside [0, ", size(),
             "] (the samples in an epoch)");
  state_.reset();  // stop the previous epoch first: its workers may still be decoding
  auto s = std::make_unique<State>(dataset_, transform_, opts_);
  s->epoch = epoch;
  s->order = order(epoch);
  s->skip = skip;
  const int64_t remaining = size() - skip, b = opts_.batch_size;
  s->num_batches = opts_.drop_last ? remaining / b : (remaining + b - 1) / b;
  s->slots.resize(size_t(opts_.prefetch));
  const int64_t workers = std::min(opts_.workers, s->num_batches);
  for (int64_t w = 0; w < workers; ++w) s->threads.emplace_back([p = s.get()] { p->work(); });
  state_ = std::move(s);
}

std::optional<Batch> DataLoader::next() {
  HONE_CHECK(state_ != nullptr, "DataLoader::next: call start_epoch(epoch) first");
  State& s = *state_;
  using clock = std::chrono::steady_clock;
  if (opts_.workers == 0) {
    // Decoding on the caller's thread is all waiting, from the training step's view.
    if (s.next_to_hand >= s.num_batches) return std::nullopt;
    const auto t0 = clock::now();
    const auto [begin, end] = s.range(s.next_to_hand++);  // a failed batch is passed, as with workers
    struct AddWait {
      double& total;
      clock::time_point t0;
      ~AddWait() { total += std::chrono::duration<double>(clock::now() - t0).count(); }
    } add_wait{wait_seconds_, t0};
    return make_batch(*s.dataset, s.transform, opts_.seed, s.epoch, s.order, begin, end, opts_.pin_memory);
  }
  std::unique_lock lock(s.mu);
  if (s.next_to_hand >= s.num_batches) return std::nullopt;
  State::Slot& slot = s.slots[size_t(s.next_to_hand % opts_.prefetch)];
  if (!slot.ready) {
    const auto t0 = clock::now();
    s.ready_cv.wait(lock, [&] { return slot.ready; });
    wait_seconds_ += std::chrono::duration<double>(clock::now() - t0).count();
  }
  State::Slot taken = std::move(slot);
  slot = State::Slot{};
  ++s.next_to_hand;
  lock.unlock();
  s.space_cv.notify_all();
  // A failed batch is consumed: the caller may catch the error and go on with the next.
  if (taken.error) std::rethrow_exception(taken.error);
  return std::move(taken.batch);
}

}  // namespace hone::io
