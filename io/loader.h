#pragma once
// DataLoader: batches of transformed samples, decoded ahead of the training loop by worker
// threads. The order of an epoch is a seeded shuffle of (seed, epoch); each sample's random
// augmentation comes from (seed, epoch, index). So a batch's contents depend on the seed,
// the epoch and the position alone, never on the number of workers or their timing, and a
// resumed run can start an epoch part-way through (skip) and see the same batches.
//
// Workers decode into batch buffers in a bounded queue (prefetch batches ahead); next()
// hands them out in order and counts the time it spent waiting for one (the training step
// waiting on data; with workers = 0 that is the decoding time itself). A sample that fails
// to load throws from next(), as a hone::Error naming the sample's source ("loading sample
// N ('PATH'): ..."); that batch is used up, so a caller may catch the error and go on.
// next() before start_epoch() is an error.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "io/dataset.h"
#include "io/transforms.h"
#include "tensor/tensor.h"

namespace hone::io {

struct LoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;
  bool drop_last = false;
  uint64_t seed = 0;
  int64_t workers = 2;   // decoding threads; 0 decodes on the caller's thread
  int64_t prefetch = 4;  // batches decoded ahead at most
  // Batches in pinned host memory (Storage::pinned), so batch.images.to(cuda, true) copies
  // while the host goes on. Needs a CUDA build and device (else the constructor throws).
  bool pin_memory = false;
};

struct Batch {
  Tensor images;                 // [B, C, crop, crop] float32
  Tensor labels;                 // [B] int64
  std::vector<int64_t> indices;  // dataset indices of the samples
  int64_t position = 0;          // samples of the epoch before this batch
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, Transform transform, LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts epoch `epoch`, skipping its first `skip` samples (a resumed run). Stops
  // any epoch still in flight.
  void start_epoch(int64_t epoch, int64_t skip = 0);
  // The next batch of the current epoch, or nothing at its end.
  std::optional<Batch> next();

  int64_t batches_per_epoch() const;
  int64_t size() const { return dataset_->size(); }
  // The sample order of an epoch (dataset indices).
  std::vector<int64_t> order(int64_t epoch) const;
  // Seconds next() has blocked waiting for a batch since construction (or reset_wait()).
  double wait_seconds() const { return wait_seconds_; }
  void reset_wait() { wait_seconds_ = 0; }
  const Dataset& dataset() const { return *dataset_; }
  const Transform& transform() const { return transform_; }

 private:
  struct State;
  std::shared_ptr<const Dataset> dataset_;
  Transform transform_;
  LoaderOptions opts_;
  std::unique_ptr<State> state_;
  double wait_seconds_ = 0;
};

}  // namespace hone::io
