// The demos' charts: a quality figure against average bits per weight, one labelled point per
// model, as a self-contained SVG. accuracy_vs_size_svg draws the digits demo's (test accuracy);
// scatter_svg any figure (the language model's perplexity, lower is better).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace demo_chart {

struct Point {
  std::string label;
  double bits = 0;      // average bits per weight (x, log scale)
  double accuracy = 0;  // the figure (y): percent for accuracy_vs_size_svg, any value for scatter_svg
};

// What scatter_svg writes around the points.
struct Style {
  std::string title;
  std::string subtitle;
  std::string x_label;
  std::string y_label;
  const char* tick_format = "%.0f%%";   // printf format of a y tick
  const char* value_format = "%.2f%%";  // of a point's figure in the legend
  bool higher_is_better = true;         // the legend lists the best first
  bool percent_axis = true;             // y from floor(lo - 1) to min(100, ceil(hi + 0.5)), steps of 1 or 2
};

inline std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

inline const char* color_for(const std::string& label) {
  if (label == "float") return "#444444";
  if (label.rfind("int8", 0) == 0 || label.rfind("w8a8", 0) == 0) return "#1f77b4";
  if (label.rfind("int4", 0) == 0) return "#2ca02c";
  if (label.rfind("int3", 0) == 0) return "#17becf";
  if (label.rfind("int2", 0) == 0) return "#bcbd22";
  if (label.rfind("q", 0) == 0 || label.rfind("iq", 0) == 0) return "#e377c2";
  if (label.rfind("codebook", 0) == 0) return "#9467bd";
  if (label.rfind("log", 0) == 0) return "#8c564b";
  if (label.rfind("mixed", 0) == 0) return "#d62728";
  return "#ff7f0e";
}

inline std::string scatter_svg(const std::vector<Point>& points, const Style& style) {
  const double W = 900, H = 500, left = 70, right = 290, top = 62, bottom = 60;
  double lo = points.empty() ? 0 : points.front().accuracy, hi = lo;
  for (const auto& p : points) {
    lo = std::min(lo, p.accuracy);
    hi = std::max(hi, p.accuracy);
  }
  double step = 1.0;
  if (style.percent_axis) {
    lo = std::floor(lo - 1.0);
    hi = std::min(100.0, std::ceil(hi + 0.5));
    step = (hi - lo) > 6 ? 2.0 : 1.0;
  } else {  // about 6 ticks of 1, 2 or 5 times a power of ten
    const double raw = std::max((hi - lo) / 6.0, 1e-9);
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
    lo = std::floor(lo / step) * step;
    hi = std::ceil(hi / step) * step;
    if (hi <= lo) hi = lo + step;
  }
  const double x0 = std::log2(2.0), x1 = std::log2(32.0);
  auto X = [&](double bits) { return left + (std::log2(std::max(bits, 2.0)) - x0) / (x1 - x0) * (W - left - right); };
  auto Y = [&](double acc) { return top + (hi - acc) / (hi - lo) * (H - top - bottom); };
  std::string s;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                "<text x=\"%.0f\" y=\"28\" font-size=\"16\" font-weight=\"bold\">%s</text>\n"
                "<text x=\"%.0f\" y=\"46\" fill=\"#666\">%s</text>\n",
                W, H, left, escape(style.title).c_str(), left, escape(style.subtitle).c_str());
  s += buf;
  // Grid and axes.
  for (double b : {2.0, 3.0, 4.0, 5.0, 8.0, 16.0, 32.0}) {
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#e5e5e5\"/>\n"
                  "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#555\">%g</text>\n",
                  X(b), top, X(b), H - bottom, X(b), H - bottom + 18, b);
    s += buf;
  }
  for (double a = lo; a <= hi + 1e-9 * step; a += step) {
    char tick[64];
    std::snprintf(tick, sizeof tick, style.tick_format, a);
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n"
                  "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#555\">%s</text>\n",
                  left, Y(a), W - right, Y(a), left - 8, Y(a) + 4, escape(tick).c_str());
    s += buf;
  }
  std::snprintf(buf, sizeof buf,
                "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#888\"/>\n"
                "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n"
                "<text transform=\"translate(18 %.0f) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
                left, top, W - left - right, H - top - bottom, (left + W - right) / 2, H - 18,
                escape(style.x_label).c_str(), (top + H - bottom) / 2, escape(style.y_label).c_str());
  s += buf;
  // Points with labels in a legend column (best first), joined by thin leaders.
  std::vector<Point> sorted = points;
  std::stable_sort(sorted.begin(), sorted.end(), [&](const Point& a, const Point& b) {
    return style.higher_is_better ? a.accuracy > b.accuracy : a.accuracy < b.accuracy;
  });
  const double legend_x = W - right + 16;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const Point& p = sorted[i];
    const double ly = top + 10 + static_cast<double>(i) * (H - top - bottom - 10) / std::max<std::size_t>(1, sorted.size() - 1);
    char value[64];
    std::snprintf(value, sizeof value, style.value_format, p.accuracy);
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-opacity=\"0.35\"/>\n"
                  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5.5\" fill=\"%s\" stroke=\"white\" stroke-width=\"1.5\"/>\n"
                  "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">%s (%s, %.2f b)</text>\n",
                  X(p.bits), Y(p.accuracy), legend_x - 4, ly - 4, color_for(p.label), X(p.bits), Y(p.accuracy),
                  color_for(p.label), legend_x, ly, color_for(p.label), escape(p.label).c_str(), escape(value).c_str(),
                  p.bits);
    s += buf;
  }
  s += "</svg>\n";
  return s;
}

inline std::string accuracy_vs_size_svg(const std::vector<Point>& points) {
  Style style;
  style.title = "Digits MLP: test accuracy against model size";
  style.subtitle = "450 test images: one image is 0.22 points; float32 weights at 32 bits";
  style.x_label = "average bits per weight (codes + scales, log scale)";
  style.y_label = "test accuracy";
  return scatter_svg(points, style);
}

}  // namespace demo_chart
