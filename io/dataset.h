#pragma once
// Data sets: a numbered collection of labelled images. ImageFolder reads one subfolder per
// class (classes sorted by name, as torchvision's ImageFolder); IdxDataset reads MNIST /
// Fashion-MNIST IDX files (gzip or raw). Views select samples without copying them:
// Subset (any indices), class_subset (keep some classes, relabelled 0..k-1),
// random_split (seeded train/validation split) and per_class (the first k of each class in
// a seeded order: "k labelled images per class").
//
// load() is thread-safe (the loader's workers call it at once).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/image.h"

namespace hone::io {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual int64_t label(int64_t index) const = 0;
  virtual Image load(int64_t index, const DecodeOptions& options = {}) const = 0;
  // Where sample `index` comes from, for messages: the file's path as the folder was given
  // ("data/train/ants/0013035.jpg"), or the IDX file and position ("t10k-images-idx3-ubyte.gz #7").
  virtual std::string source(int64_t index) const = 0;
  virtual const std::vector<std::string>& classes() const = 0;
  int64_t num_classes() const { return int64_t(classes().size()); }
  // Samples per class, indexed by label.
  std::vector<int64_t> class_counts() const;
};

struct ImageFolderOptions {
  // Check every file when the folder is read (its header, then a decode at the smallest
  // DCT scale; PNG fully), so a corrupt file is skipped up front with a warning rather than
  // failing mid-epoch. Off: only the magic bytes are checked.
  bool verify = true;
  int64_t threads = 0;  // for verify; 0: the context's thread count
};

// root/<class>/**/<file>: files in nested folders count for their top class; every regular
// file is considered (hidden files and folders skipped) and one that is not a readable
// JPEG or PNG is skipped with one warning line on stderr naming it and why. Throws
// hone::Error naming the folder when it is missing, has no class folders, fewer than 2
// classes, or a class with no usable image (naming the class).
class ImageFolder : public Dataset {
 public:
  explicit ImageFolder(const std::filesystem::path& root, const ImageFolderOptions& options = {});
  int64_t size() const override { return int64_t(files_.size()); }
  int64_t label(int64_t index) const override;
  Image load(int64_t index, const DecodeOptions& options = {}) const override;
  std::string source(int64_t index) const override;
  const std::vector<std::string>& classes() const override { return classes_; }
  const std::filesystem::path& root() const { return root_; }
  const std::filesystem::path& path(int64_t index) const;
  // Files skipped when the folder was read, with the reason.
  const std::vector<std::pair<std::filesystem::path, std::string>>& skipped() const { return skipped_; }

 private:
  std::filesystem::path root_;
  std::vector<std::string> classes_;
  std::vector<std::filesystem::path> files_;
  std::vector<int64_t> labels_;
  std::vector<std::pair<std::filesystem::path, std::string>> skipped_;
};

// IDX files (images: magic 0x00000803 [N, H, W] uint8; labels: 0x00000801 [N] uint8), each
// gzip-compressed (.gz, read with zlib) or raw. Images are 1-channel. Errors name the file
// and the problem (bad magic, counts that differ, a label >= class count, short data).
class IdxDataset : public Dataset {
 public:
  IdxDataset(const std::filesystem::path& images, const std::filesystem::path& labels,
             std::vector<std::string> classes = {});  // default names "0".."9"
  int64_t size() const override { return n_; }
  int64_t label(int64_t index) const override;
  Image load(int64_t index, const DecodeOptions& options = {}) const override;
  std::string source(int64_t index) const override;
  const std::vector<std::string>& classes() const override { return classes_; }
  int64_t height() const { return h_; }
  int64_t width() const { return w_; }

 private:
  std::string name_;
  std::vector<uint8_t> pixels_, labels_;
  std::vector<std::string> classes_;
  int64_t n_ = 0, h_ = 0, w_ = 0;
};

// Fashion-MNIST from Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, or
// `dir`), with its class names. split: "train" (60000) or "test" (10000).
std::shared_ptr<IdxDataset> fashion_mnist(const std::string& split, const std::filesystem::path& dir = {});

// A view on `base` through `indices`, with labels remapped by `label_map` (empty: as is)
// and `classes` (empty: base's).
class Subset : public Dataset {
 public:
  Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices, std::vector<int64_t> label_map = {},
         std::vector<std::string> classes = {});
  int64_t size() const override { return int64_t(indices_.size()); }
  int64_t label(int64_t index) const override;
  Image load(int64_t index, const DecodeOptions& options = {}) const override;
  std::string source(int64_t index) const override;
  const std::vector<std::string>& classes() const override { return classes_; }
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_, label_map_;
  std::vector<std::string> classes_;
};

// The samples of classes `keep` (labels in base), relabelled 0..k-1 in the order given.
std::shared_ptr<Subset> class_subset(std::shared_ptr<const Dataset> base, const std::vector<int64_t>& keep);
// A seeded split, stratified by class: round(fraction * count) samples of each class go to
// the second set (validation), the rest to the first. Same seed, same split.
std::pair<std::shared_ptr<Subset>, std::shared_ptr<Subset>> random_split(std::shared_ptr<const Dataset> base,
                                                                         double fraction, uint64_t seed);
// At most `per_class` samples of each class, chosen in a seeded order.
std::shared_ptr<Subset> per_class(std::shared_ptr<const Dataset> base, int64_t per_class, uint64_t seed);

}  // namespace hone::io
