#include "harness/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "harness/report.h"

namespace gpt2 {

namespace {

using Points = std::vector<std::pair<int, double>>;  // (threads, speedup)

std::string fmt2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string label_of(const Measurement& m) {
  return backend_label(m.backend, m.precision) + " (" + mode_name(m.mode) + ")";
}

// The plotted lines: each threaded row's speedup over 1 thread, by label.
std::map<std::string, Points> speedup_series(const SweepResult& r) {
  std::map<std::string, Points> series;
  for (const Measurement& m : r.measurements) {
    if (m.speedup_vs_1thread <= 0 || !m.threaded) continue;
    series[label_of(m)].push_back({m.workers(), m.speedup_vs_1thread});
  }
  for (auto& [name, pts] : series) std::sort(pts.begin(), pts.end());
  return series;
}

double ceiling_value(const CeilingPoint& p, const std::string& name) {
  return name == "read bandwidth"      ? p.read_gb_s
         : name == "fp32 FMA peak"     ? p.fp32_fma_gflops
         : name == "fp32 mul+add peak" ? p.fp32_mul_add_gflops
                                       : p.bf16_gflops;
}

// Each ceiling that bounds a plotted line, as its own scaling over 1 thread,
// up to max_threads.
std::map<std::string, Points> ceiling_series(const SweepResult& r,
                                             const std::map<std::string, Points>& series,
                                             int max_threads) {
  std::map<std::string, Points> curves;
  if (!r.ceilings || r.ceilings->at(1) == nullptr) return curves;
  std::set<std::string> names;
  for (const Measurement& m : r.measurements) {
    // The CPU's ceilings scale with threads; a GPU row's do not scale with its GPUs.
    if (m.ceiling.known() && !m.multi_gpu && m.info.device == Device::kCpu &&
        series.count(label_of(m)))
      names.insert(m.ceiling.name);
  }
  for (const std::string& name : names) {
    const double base = ceiling_value(*r.ceilings->at(1), name);
    if (base <= 0) continue;
    for (const CeilingPoint& p : r.ceilings->points) {
      if (p.threads <= max_threads)
        curves[name].push_back({p.threads, ceiling_value(p, name) / base});
    }
  }
  return curves;
}

// The plot area and its coordinates.
struct Frame {
  double W = 820, H = 460, left = 60, right = 320, top = 40, bottom = 50;
  double xmax = 2, ymax = 2;
  double pw() const { return W - left - right; }
  double ph() const { return H - top - bottom; }
  double x(double threads) const { return left + (threads - 1) / (xmax - 1) * pw(); }
  double y(double speedup) const { return top + ph() - speedup / ymax * ph(); }
};

// `axis`: "threads", "GPUs" or "threads or GPUs" (the plotted rows' axes).
void draw_axes(std::ostringstream& o, const Frame& f, const std::string& title,
               const std::string& axis) {
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << f.W << "\" height=\"" << f.H
    << "\" viewBox=\"0 0 " << f.W << " " << f.H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << f.W / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">" << title
    << "</text>\n";
  const double top = f.top, ph = f.ph(), left = f.left, pw = f.pw();
  const int xstep = f.xmax <= 16 ? 1 : int(f.xmax / 16) + 1;
  for (int t = 1; t <= int(f.xmax); t += xstep) {
    o << "<line x1=\"" << f.x(t) << "\" y1=\"" << top << "\" x2=\"" << f.x(t) << "\" y2=\""
      << top + ph << "\" stroke=\"#eee\"/>\n";
    o << "<text x=\"" << f.x(t) << "\" y=\"" << top + ph + 16 << "\" text-anchor=\"middle\">" << t
      << "</text>\n";
  }
  const double ystep = f.ymax <= 8 ? 1 : f.ymax <= 20 ? 2 : 4;
  for (double s = 0; s <= f.ymax + 1e-9; s += ystep) {
    o << "<line x1=\"" << left << "\" y1=\"" << f.y(s) << "\" x2=\"" << left + pw << "\" y2=\""
      << f.y(s) << "\" stroke=\"#eee\"/>\n";
    o << "<text x=\"" << left - 8 << "\" y=\"" << f.y(s) + 4 << "\" text-anchor=\"end\">" << s
      << "</text>\n";
  }
  o << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"#333\"/>\n";
  o << "<text x=\"" << left + pw / 2 << "\" y=\"" << f.H - 12 << "\" text-anchor=\"middle\">"
    << axis << "</text>\n";
  o << "<text x=\"16\" y=\"" << top + ph / 2
    << "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " << top + ph / 2
    << ")\">speedup over 1 "
    << (axis == "GPUs"      ? "GPU"
        : axis == "threads" ? "thread"
                            : "thread or GPU")
    << "</text>\n";
}

// A legend entry at height ly: a short line in the line's style, then its name.
void legend(std::ostringstream& o, const Frame& f, double ly, const std::string& style,
            const std::string& name) {
  o << "<line x1=\"" << f.W - f.right + 15 << "\" y1=\"" << ly << "\" x2=\"" << f.W - f.right + 40
    << "\" y2=\"" << ly << "\" " << style << "/><text x=\"" << f.W - f.right + 46 << "\" y=\""
    << ly + 4 << "\">" << name << "</text>\n";
}

void polyline(std::ostringstream& o, const Frame& f, const Points& pts, const std::string& style,
              const std::string& title) {
  o << "<polyline fill=\"none\" " << style << " points=\"";
  for (auto [t, s] : pts) o << f.x(t) << "," << f.y(s) << " ";
  o << "\">" << (title.empty() ? "" : "<title>" + title + "</title>") << "</polyline>\n";
}

}  // namespace

std::string speedup_svg(const SweepResult& r, const std::string& title) {
  const std::map<std::string, Points> series = speedup_series(r);
  int max_threads = 1;
  double max_speedup = 1;
  for (const auto& [name, pts] : series) {
    for (auto [t, s] : pts)
      max_threads = std::max(max_threads, t), max_speedup = std::max(max_speedup, s);
  }
  const std::map<std::string, Points> ceilings = ceiling_series(r, series, max_threads);
  for (const auto& [name, pts] : ceilings) {
    for (auto [t, s] : pts) max_speedup = std::max(max_speedup, s);
  }
  bool by_threads = false, by_gpus = false;
  for (const Measurement& m : r.measurements) {
    if (m.speedup_vs_1thread <= 0 || !m.threaded) continue;
    (m.multi_gpu ? by_gpus : by_threads) = true;
  }
  const std::string axis = by_gpus && by_threads ? "threads or GPUs" : by_gpus ? "GPUs" : "threads";
  Frame f;
  f.xmax = std::max(2, max_threads);
  f.ymax = std::max(f.xmax, max_speedup * 1.05);
  std::ostringstream o;
  draw_axes(o, f, title, axis);
  o << "<line x1=\"" << f.x(1) << "\" y1=\"" << f.y(1) << "\" x2=\"" << f.x(f.xmax) << "\" y2=\""
    << f.y(std::min(f.xmax, f.ymax)) << "\" stroke=\"#999\" stroke-dasharray=\"6,4\"/>\n";
  double ly = f.top + 10;
  legend(o, f, ly, "stroke=\"#999\" stroke-dasharray=\"6,4\"", "ideal");
  // The ceilings' own scaling: what the machine allows each line.
  const char* dashes[] = {"2,3", "8,3,2,3", "1,2"};
  int ci = 0;
  for (const auto& [name, pts] : ceilings) {
    const std::string style =
        std::string("stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"") + dashes[ci++ % 3] +
        "\"";
    polyline(o, f, pts, style, name + " at N threads over 1 thread");
    legend(o, f, ly += 20, style, name + " (the machine's scaling)");
  }
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                          "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
  int i = 0;
  for (const auto& [name, pts] : series) {
    const std::string color = colors[i++ % 10];
    const std::string style = "stroke=\"" + color + "\" stroke-width=\"2\"";
    polyline(o, f, pts, style, "");
    for (auto [t, s] : pts) {
      o << "<circle cx=\"" << f.x(t) << "\" cy=\"" << f.y(s) << "\" r=\"3\" fill=\"" << color
        << "\"><title>" << name << ": " << t << " " << axis << ", " << fmt2(s)
        << "x</title></circle>\n";
    }
    legend(o, f, ly += 20, style, name);
  }
  o << "</svg>\n";
  return o.str();
}

bool has_batch_axis(const SweepResult& r) {
  std::set<int> batches;
  for (const Measurement& m : r.measurements) batches.insert(m.batch);
  return batches.size() > 1;
}

std::string batch_svg(const SweepResult& r, const std::string& title) {
  using Series = std::vector<std::pair<int, double>>;  // (batch, tokens/s)
  std::map<std::string, Series> lines, roofs;
  int max_batch = 1;
  double max_rate = 1;
  for (const Measurement& m : r.measurements) {
    if (m.tokens_per_second <= 0 || m.info.numerics == Numerics::kNone) continue;
    const std::string name = label_of(m) + " " + threads_text(m.threads);
    lines[name].push_back({m.batch, m.tokens_per_second});
    max_batch = std::max(max_batch, m.batch);
    max_rate = std::max(max_rate, m.tokens_per_second);
    if (!r.ceilings || m.weights_gb_per_second <= 0 || m.gflop_per_second <= 0) continue;
    const auto [bandwidth, peak] = row_ceilings(m, *r.ceilings, r.gpu_ceilings);
    if (bandwidth.value <= 0 || peak.value <= 0) continue;
    const double roof = m.tokens_per_second * std::min(bandwidth.value / m.weights_gb_per_second,
                                                       peak.value / m.gflop_per_second);
    roofs[name].push_back({m.batch, roof});
    max_rate = std::max(max_rate, roof);
  }
  for (auto* series : {&lines, &roofs}) {
    for (auto& [name, pts] : *series) std::sort(pts.begin(), pts.end());
  }
  // x: log2 of the batch; y: tokens/s from 0.
  Frame f;
  const double xmax = std::max(1.0, std::log2(double(max_batch)));
  auto X = [&](int b) { return f.left + std::log2(double(b)) / xmax * f.pw(); };
  auto Y = [&](double v) { return f.top + f.ph() - v / (max_rate * 1.05) * f.ph(); };
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << f.W << "\" height=\"" << f.H
    << "\" viewBox=\"0 0 " << f.W << " " << f.H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << f.W / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">" << title
    << "</text>\n";
  for (int b = 1; b <= max_batch; b *= 2) {
    o << "<line x1=\"" << X(b) << "\" y1=\"" << f.top << "\" x2=\"" << X(b) << "\" y2=\""
      << f.top + f.ph() << "\" stroke=\"#eee\"/><text x=\"" << X(b) << "\" y=\""
      << f.top + f.ph() + 16 << "\" text-anchor=\"middle\">" << b << "</text>\n";
  }
  for (int i = 0; i <= 5; i++) {
    const double v = max_rate * 1.05 * i / 5;
    o << "<line x1=\"" << f.left << "\" y1=\"" << Y(v) << "\" x2=\"" << f.left + f.pw()
      << "\" y2=\"" << Y(v) << "\" stroke=\"#eee\"/><text x=\"" << f.left - 8 << "\" y=\""
      << Y(v) + 4 << "\" text-anchor=\"end\">" << fmt2(v).substr(0, fmt2(v).size() - 3)
      << "</text>\n";
  }
  o << "<rect x=\"" << f.left << "\" y=\"" << f.top << "\" width=\"" << f.pw() << "\" height=\""
    << f.ph() << "\" fill=\"none\" stroke=\"#333\"/>\n"
    << "<text x=\"" << f.left + f.pw() / 2 << "\" y=\"" << f.H - 12
    << "\" text-anchor=\"middle\">batch (sequences per step)</text>\n"
    << "<text x=\"16\" y=\"" << f.top + f.ph() / 2
    << "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " << f.top + f.ph() / 2
    << ")\">generated tokens/s</text>\n";
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                          "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
  int i = 0;
  double ly = f.top + 10;
  auto path = [&](const Series& pts) {
    std::string d;
    for (auto [b, v] : pts) d += std::to_string(X(b)) + "," + std::to_string(Y(v)) + " ";
    return d;
  };
  for (const auto& [name, pts] : lines) {
    const std::string color = colors[i++ % 10];
    o << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\" points=\""
      << path(pts) << "\"/>\n";
    for (auto [b, v] : pts) {
      o << "<circle cx=\"" << X(b) << "\" cy=\"" << Y(v) << "\" r=\"3\" fill=\"" << color
        << "\"><title>" << name << ": batch " << b << ", " << fmt2(v)
        << " tokens/s</title></circle>\n";
    }
    if (auto it = roofs.find(name); it != roofs.end()) {
      o << "<polyline fill=\"none\" stroke=\"" << color
        << "\" stroke-width=\"1\" stroke-dasharray=\"4,3\" points=\"" << path(it->second)
        << "\"><title>" << name << ": the roofline (bandwidth or peak)</title></polyline>\n";
    }
    o << "<line x1=\"" << f.W - f.right + 15 << "\" y1=\"" << ly << "\" x2=\"" << f.W - f.right + 40
      << "\" y2=\"" << ly << "\" stroke=\"" << color << "\" stroke-width=\"2\"/><text x=\""
      << f.W - f.right + 46 << "\" y=\"" << ly + 4 << "\">" << name << "</text>\n";
    ly += 20;
  }
  if (!roofs.empty()) {
    o << "<line x1=\"" << f.W - f.right + 15 << "\" y1=\"" << ly << "\" x2=\"" << f.W - f.right + 40
      << "\" y2=\"" << ly << "\" stroke=\"#555\" stroke-dasharray=\"4,3\"/><text x=\""
      << f.W - f.right + 46 << "\" y=\"" << ly + 4 << "\">dashed: each line's roofline</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace gpt2
