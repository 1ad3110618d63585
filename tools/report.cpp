#include "tools/report.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

#include "tensor/error.h"

namespace hone::tools {

void write_text_file(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    HONE_CHECK(out, "cannot write '", tmp.string(), "'");
    out << text;
    HONE_CHECK(out.good(), "cannot write '", tmp.string(), "'");
  }
  std::filesystem::rename(tmp, path);
}

void write_metrics_csv(const std::filesystem::path& path, const std::vector<EpochMetrics>& history) {
  std::ostringstream os;
  // The old task's column comes last, and only when it was scored: older readers and files keep their columns.
  const bool old = std::any_of(history.begin(), history.end(), [](const EpochMetrics& m) { return m.old_val_acc >= 0; });
  os << "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,data_wait_seconds,train_img_per_s"
     << (old ? ",old_val_acc" : "") << "\n" << std::setprecision(17);
  for (const auto& m : history) {
    os << m.epoch << ',' << m.train_loss << ',' << m.train_acc << ',' << m.val_loss << ',' << m.val_acc << ',' << m.lr
       << ',' << m.seconds << ',' << m.wait_seconds << ',' << m.train_img_per_s;
    if (old) os << ',' << m.old_val_acc;
    os << '\n';
  }
  write_text_file(path, os.str());
}

// By the header's names: files written before a column existed still resume.
std::vector<EpochMetrics> read_metrics_csv(const std::filesystem::path& path) {
  std::ifstream in(path);
  HONE_CHECK(in, "cannot read '", path.string(), "'");
  auto cells = [](const std::string& line) {
    std::vector<std::string> out;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) out.push_back(c);
    return out;
  };
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = cells(line);
  std::vector<EpochMetrics> out;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const std::vector<std::string> v = cells(line);
    HONE_CHECK(v.size() == header.size(), "'", path.string(), "': bad line '", line, "'");
    EpochMetrics m;
    const std::map<std::string, double*> fields{
        {"train_loss", &m.train_loss}, {"train_acc", &m.train_acc}, {"val_loss", &m.val_loss},
        {"val_acc", &m.val_acc}, {"lr", &m.lr}, {"seconds", &m.seconds}, {"data_wait_seconds", &m.wait_seconds},
        {"train_img_per_s", &m.train_img_per_s}, {"old_val_acc", &m.old_val_acc}};
    try {
      for (size_t i = 0; i < v.size(); ++i) {
        if (header[i] == "epoch") m.epoch = std::stoll(v[i]);
        else if (auto f = fields.find(header[i]); f != fields.end()) *f->second = std::stod(v[i]);
      }
    } catch (const std::exception&) {
      fail("'", path.string(), "': bad line '", line, "'");
    }
    out.push_back(m);
  }
  return out;
}

namespace {

const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

// One line chart in the box (x0, y0, w, h), values on a shared y range.
void panel(std::ostringstream& os, double x0, double y0, double w, double h, const std::string& title,
           const std::vector<Series>& series, bool unit_range, const std::string& x_label) {
  double lo = unit_range ? 0 : 1e300, hi = unit_range ? 1 : -1e300;
  size_t n = 0;
  for (const auto& s : series)
    for (double v : s.values)
      if (std::isfinite(v)) lo = unit_range ? lo : std::min(lo, v), hi = unit_range ? hi : std::max(hi, v), n = std::max(n, s.values.size());
  for (const auto& s : series) n = std::max(n, s.values.size());
  if (!(hi > lo)) lo = 0, hi = lo + 1;
  if (!unit_range) lo = std::min(lo, 0.0);
  os << "<text x='" << x0 + w / 2 << "' y='" << y0 - 8 << "' text-anchor='middle' font-size='14'>" << escape(title)
     << "</text>\n";
  os << "<rect x='" << x0 << "' y='" << y0 << "' width='" << w << "' height='" << h
     << "' fill='none' stroke='#444'/>\n";
  for (int t = 0; t <= 4; ++t) {
    const double v = lo + (hi - lo) * t / 4, y = y0 + h - h * t / 4;
    os << "<line x1='" << x0 << "' y1='" << y << "' x2='" << x0 + w << "' y2='" << y << "' stroke='#ddd'/>"
       << "<text x='" << x0 - 4 << "' y='" << y + 4 << "' text-anchor='end' font-size='11'>" << std::setprecision(3) << v
       << "</text>\n";
  }
  const double dx = n > 1 ? w / double(n - 1) : 0;
  for (size_t e = 0; e < n; e += std::max<size_t>(1, n / 10))
    os << "<text x='" << x0 + dx * e << "' y='" << y0 + h + 14 << "' text-anchor='middle' font-size='11'>" << e + 1
       << "</text>\n";
  os << "<text x='" << x0 + w / 2 << "' y='" << y0 + h + 30 << "' text-anchor='middle' font-size='12'>" << escape(x_label) << "</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    std::ostringstream pts;
    for (size_t e = 0; e < series[i].values.size(); ++e) {
      const double v = series[i].values[e];
      if (!std::isfinite(v)) continue;
      pts << x0 + dx * e << ',' << y0 + h - h * (v - lo) / (hi - lo) << ' ';
    }
    const char* colour = kColours[i % 8];
    os << "<polyline fill='none' stroke='" << colour << "' stroke-width='2' points='" << pts.str() << "'/>\n";
    os << "<text x='" << x0 + 8 << "' y='" << y0 + 16 + 14 * i << "' font-size='12' fill='" << colour << "'>"
       << escape(series[i].name) << "</text>\n";
  }
}

}  // namespace

void write_curves_svg(const std::filesystem::path& path, const std::string& title, const std::vector<Series>& loss,
                      const std::vector<Series>& accuracy, const std::string& x_label) {
  std::ostringstream os;
  os << "<?xml version='1.0' encoding='UTF-8'?>\n<svg xmlns='http://www.w3.org/2000/svg' width='900' height='380' "
        "font-family='sans-serif'>\n<rect width='900' height='380' fill='white'/>\n";
  os << "<text x='450' y='20' text-anchor='middle' font-size='16'>" << escape(title) << "</text>\n";
  panel(os, 60, 50, 360, 270, "loss", loss, false, x_label);
  panel(os, 510, 50, 360, 270, "accuracy", accuracy, true, x_label);
  os << "</svg>\n";
  write_text_file(path, os.str());
}

void write_confusion(const std::filesystem::path& csv, const std::filesystem::path& svg,
                     const std::vector<std::vector<int64_t>>& confusion, const std::vector<std::string>& classes) {
  const size_t k = confusion.size();
  std::ostringstream c;
  c << "true\\predicted";
  for (size_t j = 0; j < k; ++j) c << ',' << (j < classes.size() ? classes[j] : std::to_string(j));
  c << '\n';
  for (size_t i = 0; i < k; ++i) {
    c << (i < classes.size() ? classes[i] : std::to_string(i));
    for (size_t j = 0; j < k; ++j) c << ',' << confusion[i][j];
    c << '\n';
  }
  write_text_file(csv, c.str());

  const double cell = std::max(24.0, std::min(60.0, 600.0 / double(std::max<size_t>(k, 1)))), left = 150, top = 60;
  const double w = std::max(560.0, left + cell * double(k) + 20), h = top + cell * double(k) + 40;
  std::ostringstream os;
  os << "<?xml version='1.0' encoding='UTF-8'?>\n<svg xmlns='http://www.w3.org/2000/svg' width='" << w << "' height='"
     << h << "' font-family='sans-serif'>\n<rect width='" << w << "' height='" << h << "' fill='white'/>\n";
  os << "<text x='10' y='20' font-size='14'>confusion matrix (rows: true class, columns: predicted)</text>\n";
  for (size_t i = 0; i < k; ++i) {
    int64_t row = 0;
    for (int64_t v : confusion[i]) row += v;
    const std::string name = i < classes.size() ? classes[i] : std::to_string(i);
    os << "<text x='" << left - 6 << "' y='" << top + cell * (double(i) + 0.6) << "' text-anchor='end' font-size='12'>"
       << escape(name) << "</text>\n";
    os << "<text x='" << left + cell * (double(i) + 0.5) << "' y='" << top - 6
       << "' text-anchor='middle' font-size='11'>" << escape(name.substr(0, 8)) << "</text>\n";
    for (size_t j = 0; j < k; ++j) {
      const double f = row ? double(confusion[i][j]) / double(row) : 0;
      const int shade = int(255 - 200 * f);
      os << "<rect x='" << left + cell * double(j) << "' y='" << top + cell * double(i) << "' width='" << cell
         << "' height='" << cell << "' fill='rgb(" << shade << "," << shade << ",255)' stroke='#888'/>"
         << "<text x='" << left + cell * (double(j) + 0.5) << "' y='" << top + cell * (double(i) + 0.6)
         << "' text-anchor='middle' font-size='11'>" << confusion[i][j] << "</text>\n";
    }
  }
  os << "</svg>\n";
  write_text_file(svg, os.str());
}

}  // namespace hone::tools
