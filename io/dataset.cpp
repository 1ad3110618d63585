#include "io/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include "tensor/context.h"
#include "tensor/error.h"
#include "tensor/generator.h"

namespace hone::io {

namespace fs = std::filesystem;

namespace {

void check_index(int64_t index, int64_t size, const char* what) {
  HONE_CHECK(index >= 0 && index < size, what, ": index ", index, " out of range for ", size, " samples");
}

// A seeded shuffle (tensor/generator.h: the same with every standard library); `stream`
// keeps the shuffles of different classes independent under one seed.
void seeded_shuffle(std::vector<int64_t>& v, uint64_t seed, uint64_t stream) {
  philox_shuffle(v, splitmix64(seed ^ splitmix64(stream)));
}

bool is_hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

// The regular files under a class folder in torchvision's order (sorted(os.walk(...)) then
// sorted file names): by containing folder, then by name. Hidden files and folders are
// skipped; folder symlinks are not followed (a link loop would never end).
std::vector<fs::path> list_class_files(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;  // a broken link is no file, not a reason to stop the scan
    if (is_hidden(it->path())) {
      if (it->is_directory(entry_ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(entry_ec)) files.push_back(it->path());
  }
  HONE_CHECK(!ec, "ImageFolder: cannot read folder '", dir.string(), "': ", ec.message());
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    const std::string pa = a.parent_path().string(), pb = b.parent_path().string();
    return pa != pb ? pa < pb : a.filename().string() < b.filename().string();
  });
  return files;
}

// Why `path` cannot be used ("" when it can). Verification decodes at the smallest JPEG
// DCT scale: an eighth of the work of a full decode, and it still reads every byte.
std::string check_image(const fs::path& path, bool verify) {
  try {
    if (verify)
      read_image(path, DecodeOptions{.min_short_side = 1});
    else
      probe_image(path);
    return "";
  } catch (const std::exception& e) {
    std::string why = e.what();
    std::replace(why.begin(), why.end(), '\n', ' ');  // one warning, one line
    // The decoder's message starts by naming the file ("image 'PATH': ..."); the warning
    // names it already.
    const std::string named = "'" + path.string() + "': ";
    if (const size_t at = why.find(named); at != std::string::npos && at < 16) why.erase(0, at + named.size());
    return why.empty() ? "unreadable" : why;
  }
}

}  // namespace

std::vector<int64_t> Dataset::class_counts() const {
  std::vector<int64_t> counts(size_t(num_classes()), 0);
  for (int64_t i = 0; i < size(); ++i) {
    const int64_t l = label(i);
    HONE_CHECK(l >= 0 && l < num_classes(), "class_counts: sample ", i, " ('", source(i), "') has label ", l,
               " outside [0, ", num_classes(), ")");
    ++counts[size_t(l)];
  }
  return counts;
}

// ---- ImageFolder ----

ImageFolder::ImageFolder(const fs::path& root, const ImageFolderOptions& options) : root_(root) {
  std::error_code ec;
  HONE_CHECK(fs::exists(root, ec), "ImageFolder: folder '", root.string(), "' does not exist");
  HONE_CHECK(fs::is_directory(root, ec), "ImageFolder: '", root.string(), "' is not a folder");
  std::vector<fs::path> class_dirs;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    if (!is_hidden(it->path()) && it->is_directory(entry_ec)) class_dirs.push_back(it->path());
  }
  HONE_CHECK(!ec, "ImageFolder: cannot read folder '", root.string(), "': ", ec.message());
  HONE_CHECK(!class_dirs.empty(), "ImageFolder: '", root.string(), "' has no class folders (expected ",
             "root/<class>/<image files>)");
  std::sort(class_dirs.begin(), class_dirs.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
  HONE_CHECK(class_dirs.size() >= 2, "ImageFolder: '", root.string(), "' has only one class folder ('",
             class_dirs[0].filename().string(), "'); a classifier needs at least 2 classes");

  std::vector<fs::path> candidates;
  std::vector<int64_t> candidate_labels;
  for (size_t c = 0; c < class_dirs.size(); ++c) {
    classes_.push_back(class_dirs[c].filename().string());
    for (fs::path& f : list_class_files(class_dirs[c])) {
      candidates.push_back(std::move(f));
      candidate_labels.push_back(int64_t(c));
    }
  }

  // Check the files on a few threads; each writes only its own slot, and the results are
  // read back in file order, so the outcome and the warnings never depend on timing.
  const int64_t n = int64_t(candidates.size());
  std::vector<std::string> reasons(static_cast<size_t>(n));
  const int64_t want = options.threads > 0 ? options.threads : Context::current().num_threads();
  const int64_t num_threads = std::clamp<int64_t>(want, 1, std::max<int64_t>(n, 1));
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t i; (i = next.fetch_add(1)) < n;) reasons[size_t(i)] = check_image(candidates[size_t(i)], options.verify);
  };
  std::vector<std::thread> threads;
  for (int64_t t = 1; t < num_threads; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();

  std::vector<int64_t> kept(classes_.size(), 0), dropped(classes_.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = candidate_labels[size_t(i)];
    if (reasons[size_t(i)].empty()) {
      files_.push_back(std::move(candidates[size_t(i)]));
      labels_.push_back(c);
      ++kept[size_t(c)];
    } else {
      std::cerr << "hone: warning: skipping '" << candidates[size_t(i)].string() << "': " << reasons[size_t(i)] << "\n";
      skipped_.emplace_back(std::move(candidates[size_t(i)]), std::move(reasons[size_t(i)]));
      ++dropped[size_t(c)];
    }
  }
  for (size_t c = 0; c < classes_.size(); ++c)
    HONE_CHECK(kept[c] > 0, "ImageFolder: class '", classes_[c], "' (", class_dirs[c].string(),
               ") has no usable image (", dropped[c], dropped[c] == 1 ? " file" : " files", " skipped)");
}

int64_t ImageFolder::label(int64_t index) const {
  check_index(index, size(), "ImageFolder::label");
  return labels_[size_t(index)];
}

const fs::path& ImageFolder::path(int64_t index) const {
  check_index(index, size(), "ImageFolder::path");
  return files_[size_t(index)];
}

Image ImageFolder::load(int64_t index, const DecodeOptions& options) const { return read_image(path(index), options); }

std::string ImageFolder::source(int64_t index) const { return path(index).string(); }

// ---- IdxDataset ----

namespace {

struct IdxArray {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;
};

// One IDX file through zlib: gzread inflates gzip (magic 1f 8b) and passes any other file
// through unchanged (zlib's transparent mode), so .gz and raw files take the same path.
// The data grows as it arrives, so a header that claims more than the file holds costs
// no more memory than the file.
IdxArray read_idx(const fs::path& path, int ndims, const char* kind) {
  const std::string name = path.string();
  std::error_code ec;
  HONE_CHECK(fs::is_regular_file(path, ec), "IdxDataset: '", name, "' does not exist or is not a file");
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(name.c_str(), "rb"), gzclose);
  HONE_CHECK(f != nullptr, "IdxDataset: cannot open '", name, "'");
  auto read = [&](uint8_t* dst, size_t len) -> size_t {
    const int got = gzread(f.get(), dst, unsigned(len));
    int errnum = 0;
    const char* msg = gzerror(f.get(), &errnum);
    HONE_CHECK(got >= 0 && (errnum == Z_OK || errnum == Z_BUF_ERROR), "IdxDataset: cannot read '", name, "': ", msg);
    HONE_CHECK(errnum != Z_BUF_ERROR, "IdxDataset: '", name, "' is truncated (the gzip stream ends early)");
    return size_t(got);
  };
  // The magic first, so a wrong kind of file is named as such even when it is short.
  uint8_t header[4 + 4 * 3];
  HONE_CHECK(read(header, 4) == 4, "IdxDataset: '", name, "' is shorter than an IDX header");
  const uint32_t magic = uint32_t(header[0]) << 24 | uint32_t(header[1]) << 16 | uint32_t(header[2]) << 8 | header[3];
  const uint32_t expected = 0x800u | uint32_t(ndims);
  if (magic != expected) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "magic 0x%08x, expected 0x%08x", magic, expected);
    fail("IdxDataset: '", name, "' is not an IDX ", kind, " file (", buf, ": ", ndims, "-d uint8)");
  }
  const size_t dims_size = 4 * size_t(ndims);
  HONE_CHECK(read(header + 4, dims_size) == dims_size, "IdxDataset: '", name, "' is shorter than an IDX header (",
             4 + dims_size, " bytes)");
  IdxArray a;
  uint64_t total = 1;
  for (int d = 0; d < ndims; ++d) {
    const uint8_t* p = header + 4 + 4 * d;
    a.dims.push_back(uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]);
    HONE_CHECK(a.dims.back() > 0 && a.dims.back() <= (1u << 31), "IdxDataset: '", name, "': dimension ", d, " is ",
               a.dims.back(), " (must be in [1, 2^31])");
    // total and the dim are <= 2^31 here, so the product cannot overflow.
    total *= a.dims.back();
    HONE_CHECK(total <= (uint64_t(1) << 31), "IdxDataset: '", name, "': the header describes more than 2^31 bytes of ",
               "data (dims ", std::vector<int64_t>(a.dims.begin(), a.dims.end()), "...), more than this reader takes");
  }
  size_t got = 0;
  while (got < total) {
    const size_t want = std::min<size_t>(total - got, size_t(1) << 24);
    a.data.resize(got + want);
    const size_t n = read(a.data.data() + got, want);
    got += n;
    if (n < want) break;
  }
  HONE_CHECK(got == total, "IdxDataset: '", name, "' is truncated: the header describes ", total,
             " bytes of data, the file holds ", got);
  uint8_t extra = 0;
  HONE_CHECK(read(&extra, 1) == 0, "IdxDataset: '", name, "' has data after the ", total,
             " bytes its header describes");
  return a;
}

}  // namespace

IdxDataset::IdxDataset(const fs::path& images, const fs::path& labels, std::vector<std::string> classes)
    : name_(images.filename().string()), classes_(std::move(classes)) {
  if (classes_.empty())
    for (int c = 0; c < 10; ++c) classes_.push_back(std::to_string(c));
  IdxArray im = read_idx(images, 3, "image");
  IdxArray lb = read_idx(labels, 1, "label");
  HONE_CHECK(im.dims[0] == lb.dims[0], "IdxDataset: '", images.string(), "' holds ", im.dims[0], " images but '",
             labels.string(), "' holds ", lb.dims[0], " labels");
  for (size_t i = 0; i < lb.data.size(); ++i)
    HONE_CHECK(lb.data[i] < classes_.size(), "IdxDataset: '", labels.string(), "': label ", int(lb.data[i]),
               " of sample ", i, " is not below the class count ", classes_.size());
  n_ = im.dims[0];
  h_ = im.dims[1];
  w_ = im.dims[2];
  pixels_ = std::move(im.data);
  labels_ = std::move(lb.data);
}

int64_t IdxDataset::label(int64_t index) const {
  check_index(index, n_, "IdxDataset::label");
  return labels_[size_t(index)];
}

Image IdxDataset::load(int64_t index, const DecodeOptions&) const {
  check_index(index, n_, "IdxDataset::load");
  Image image(h_, w_, 1);
  const uint8_t* src = pixels_.data() + size_t(index * h_ * w_);
  std::copy(src, src + h_ * w_, image.pixels.begin());
  return image;
}

std::string IdxDataset::source(int64_t index) const { return name_ + " #" + std::to_string(index); }

std::shared_ptr<IdxDataset> fashion_mnist(const std::string& split, const fs::path& dir) {
  HONE_CHECK(split == "train" || split == "test", "fashion_mnist: split must be \"train\" or \"test\", got \"",
             split, "\"");
  const fs::path folder = dir.empty() ? fs::path("/usr/share/datasets/fashion-mnist") : dir;
  const std::string prefix = split == "train" ? "train" : "t10k";
  // Prefer the .gz files Debian ships; take unpacked copies when only those are there.
  auto find = [&](const std::string& stem) {
    const fs::path gz = folder / (stem + ".gz"), raw = folder / stem;
    std::error_code ec;
    if (fs::exists(gz, ec) || !fs::exists(raw, ec)) {
      HONE_CHECK(fs::exists(gz, ec), "fashion_mnist: '", gz.string(), "' not found; install dataset-fashion-mnist ",
                 "(apt-get install dataset-fashion-mnist) or pass the folder holding the IDX files");
      return gz;
    }
    return raw;
  };
  const fs::path images = find(prefix + "-images-idx3-ubyte"), labels = find(prefix + "-labels-idx1-ubyte");
  return std::make_shared<IdxDataset>(images, labels,
                                      std::vector<std::string>{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"});
}

// ---- views ----

Subset::Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices, std::vector<int64_t> label_map,
               std::vector<std::string> classes)
    : base_(std::move(base)), indices_(std::move(indices)), label_map_(std::move(label_map)),
      classes_(std::move(classes)) {
  HONE_CHECK(base_ != nullptr, "Subset: no base dataset");
  if (classes_.empty()) classes_ = base_->classes();
  HONE_CHECK(label_map_.empty() || int64_t(label_map_.size()) == base_->num_classes(), "Subset: label_map has ",
             label_map_.size(), " entries for ", base_->num_classes(), " base classes");
  // Check every sample now: a bad index or mapping is a mistake in the caller's code, and
  // should not surface mid-epoch in a worker thread.
  for (size_t i = 0; i < indices_.size(); ++i) {
    HONE_CHECK(indices_[i] >= 0 && indices_[i] < base_->size(), "Subset: index ", indices_[i], " (entry ", i,
               ") out of range for a base of ", base_->size(), " samples");
    const int64_t l = label(int64_t(i));
    HONE_CHECK(l >= 0 && l < num_classes(), "Subset: sample ", indices_[i], " ('", base_->source(indices_[i]),
               "') maps to label ", l, ", outside the ", num_classes(), " classes");
  }
}

int64_t Subset::label(int64_t index) const {
  check_index(index, size(), "Subset::label");
  const int64_t l = base_->label(indices_[size_t(index)]);
  return label_map_.empty() ? l : label_map_[size_t(l)];
}

Image Subset::load(int64_t index, const DecodeOptions& options) const {
  check_index(index, size(), "Subset::load");
  return base_->load(indices_[size_t(index)], options);
}

std::string Subset::source(int64_t index) const {
  check_index(index, size(), "Subset::source");
  return base_->source(indices_[size_t(index)]);
}

namespace {
// The base's indices of each class, ascending.
std::vector<std::vector<int64_t>> indices_by_class(const Dataset& base) {
  std::vector<std::vector<int64_t>> by_class(size_t(base.num_classes()));
  for (int64_t i = 0; i < base.size(); ++i) {
    const int64_t l = base.label(i);
    HONE_CHECK(l >= 0 && l < base.num_classes(), "sample ", i, " ('", base.source(i), "') has label ", l,
               " outside [0, ", base.num_classes(), ")");
    by_class[size_t(l)].push_back(i);
  }
  return by_class;
}
}  // namespace

std::shared_ptr<Subset> class_subset(std::shared_ptr<const Dataset> base, const std::vector<int64_t>& keep) {
  HONE_CHECK(base != nullptr, "class_subset: no base dataset");
  HONE_CHECK(!keep.empty(), "class_subset: no classes to keep");
  std::vector<int64_t> label_map(size_t(base->num_classes()), -1);
  std::vector<std::string> names;
  for (size_t j = 0; j < keep.size(); ++j) {
    HONE_CHECK(keep[j] >= 0 && keep[j] < base->num_classes(), "class_subset: class ", keep[j], " out of range for ",
               base->num_classes(), " classes");
    HONE_CHECK(label_map[size_t(keep[j])] < 0, "class_subset: class ", keep[j], " listed twice");
    label_map[size_t(keep[j])] = int64_t(j);
    names.push_back(base->classes()[size_t(keep[j])]);
  }
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < base->size(); ++i)
    if (label_map[size_t(base->label(i))] >= 0) indices.push_back(i);
  return std::make_shared<Subset>(std::move(base), std::move(indices), std::move(label_map), std::move(names));
}

std::pair<std::shared_ptr<Subset>, std::shared_ptr<Subset>> random_split(std::shared_ptr<const Dataset> base,
                                                                         double fraction, uint64_t seed) {
  HONE_CHECK(base != nullptr, "random_split: no base dataset");
  HONE_CHECK(fraction >= 0 && fraction <= 1, "random_split: fraction ", fraction, " is not in [0, 1]");
  std::vector<int64_t> first, second;
  auto by_class = indices_by_class(*base);
  for (size_t c = 0; c < by_class.size(); ++c) {
    std::vector<int64_t>& idx = by_class[c];
    seeded_shuffle(idx, seed, c);
    const size_t n_second = size_t(std::llround(fraction * double(idx.size())));
    second.insert(second.end(), idx.begin(), idx.begin() + ptrdiff_t(n_second));
    first.insert(first.end(), idx.begin() + ptrdiff_t(n_second), idx.end());
  }
  // Ascending order: the views read the base in order, whatever the shuffle was.
  std::sort(first.begin(), first.end());
  std::sort(second.begin(), second.end());
  return {std::make_shared<Subset>(base, std::move(first)), std::make_shared<Subset>(base, std::move(second))};
}

std::shared_ptr<Subset> per_class(std::shared_ptr<const Dataset> base, int64_t per_class, uint64_t seed) {
  HONE_CHECK(base != nullptr, "per_class: no base dataset");
  HONE_CHECK(per_class >= 0, "per_class: count ", per_class, " is negative");
  std::vector<int64_t> chosen;
  auto by_class = indices_by_class(*base);
  for (size_t c = 0; c < by_class.size(); ++c) {
    std::vector<int64_t>& idx = by_class[c];
    seeded_shuffle(idx, seed, c);
    chosen.insert(chosen.end(), idx.begin(), idx.begin() + std::min<ptrdiff_t>(per_class, ptrdiff_t(idx.size())));
  }
  std::sort(chosen.begin(), chosen.end());
  return std::make_shared<Subset>(std::move(base), std::move(chosen));
}

}  // namespace hone::io
