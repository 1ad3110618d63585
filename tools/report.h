#pragma once
// What a run leaves for a person to read: metrics.csv, curves.svg, confusion.csv/.svg.
// The SVGs are plain hand-written SVG 1.1 (no script, no external files), readable in
// any browser.
#include <filesystem>
#include <string>
#include <vector>

#include "tools/finetune.h"

namespace hone::tools {

void write_metrics_csv(const std::filesystem::path& path, const std::vector<EpochMetrics>& history);
std::vector<EpochMetrics> read_metrics_csv(const std::filesystem::path& path);
// Two panels: loss (train, val) and accuracy (train, val) per epoch. Extra named series
// (the demo's strategies) can be drawn on the accuracy panel instead.
struct Series {
  std::string name;
  std::vector<double> values;  // one per epoch
};
// `x_label` names the x axis (a search plots by trial).
void write_curves_svg(const std::filesystem::path& path, const std::string& title, const std::vector<Series>& loss,
                      const std::vector<Series>& accuracy, const std::string& x_label = "epoch");
void write_confusion(const std::filesystem::path& csv, const std::filesystem::path& svg,
                     const std::vector<std::vector<int64_t>>& confusion, const std::vector<std::string>& classes);
// The file written to `path`.tmp and renamed, so a reader never sees half of it.
void write_text_file(const std::filesystem::path& path, const std::string& text);

}  // namespace hone::tools
