#include "tools/bench/target_chart.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/export/xml_writer.h"

namespace trialog::bench {
namespace {

constexpr double kLabelWidth = 360;  // px left of the axis
constexpr double kAxisWidth = 420;   // px of the ratio axis
constexpr double kCaptionWidth = 300;
constexpr double kRowHeight = 26;
constexpr double kTop = 62;          // title, subtitle and axis note above the bars
constexpr double kBottom = 36;       // axis ticks below
constexpr double kBarHeight = 16;

std::string Px(double v) { return absl::StrFormat("%.1f", v); }

std::string Escape(const std::string& s) { return exporter::XmlEscapeAttribute(s); }

}  // namespace

std::string TargetChartSvg(const std::string& title, const std::string& subtitle,
                           const std::vector<TargetBar>& bars) {
  const double width = kLabelWidth + kAxisWidth + kCaptionWidth;
  if (bars.empty()) {
    return absl::StrCat(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", Px(width),
        "\" height=\"60\"><text x=\"10\" y=\"30\">", Escape(title),
        ": no target was measured in this run</text><text x=\"10\" y=\"48\" font-size=\"9\">",
        Escape(subtitle), "</text></svg>\n");
  }
  // Axis from 0 to the next half above the largest ratio, at least 1.5 and
  // at most 3 (longer bars get an arrow).
  double max_ratio = 1.5;
  for (const TargetBar& b : bars) max_ratio = std::max(max_ratio, b.ratio);
  const double axis_max = std::min(3.0, std::ceil(max_ratio * 2) / 2);
  const double px_per_unit = kAxisWidth / axis_max;
  const double height = kTop + kRowHeight * static_cast<double>(bars.size()) + kBottom;
  const double x0 = kLabelWidth;

  std::string svg = absl::StrCat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", Px(width), "\" height=\"", Px(height),
      "\" font-family=\"sans-serif\" font-size=\"12\" data-px-per-unit=\"", Px(px_per_unit),
      "\" data-x0=\"", Px(x0), "\">\n", "<title>", Escape(title), "</title>\n",
      "<text x=\"10\" y=\"18\" font-size=\"14\" font-weight=\"bold\">", Escape(title), "</text>\n",
      "<text x=\"10\" y=\"34\" font-size=\"9\" fill=\"#555\">", Escape(subtitle), "</text>\n",
      "<text x=\"", Px(x0), "\" y=\"52\" fill=\"#555\">measured / target (1 = target met; "
      "longer is better)</text>\n");
  // Grid and ticks every 0.5.
  const double plot_bottom = kTop + kRowHeight * static_cast<double>(bars.size());
  for (double t = 0; t <= axis_max + 1e-9; t += 0.5) {
    const double x = x0 + t * px_per_unit;
    const bool target = std::abs(t - 1.0) < 1e-9;
    absl::StrAppend(&svg, "<line x1=\"", Px(x), "\" y1=\"", Px(kTop - 4), "\" x2=\"", Px(x),
                    "\" y2=\"", Px(plot_bottom), "\" stroke=\"", target ? "#222" : "#ddd",
                    "\" stroke-width=\"", target ? "2" : "1", "\"",
                    target ? " class=\"target\"" : "", "/>\n", "<text x=\"", Px(x), "\" y=\"",
                    Px(plot_bottom + 16), "\" text-anchor=\"middle\">", absl::StrFormat("%.1f", t), "</text>\n");
  }
  absl::StrAppend(&svg, "<text x=\"", Px(x0 + px_per_unit), "\" y=\"", Px(plot_bottom + 30),
                  "\" text-anchor=\"middle\" font-weight=\"bold\">target</text>\n");
  for (size_t i = 0; i < bars.size(); ++i) {
    const TargetBar& b = bars[i];
    const double y = kTop + kRowHeight * static_cast<double>(i) + (kRowHeight - kBarHeight) / 2;
    const double ratio = std::max(0.0, b.ratio);
    const bool clipped = ratio > axis_max;
    const double w = std::min(ratio, axis_max) * px_per_unit;
    const char* colour = b.met ? "#1b7837" : "#e08214";
    absl::StrAppend(&svg, "<g class=\"bar\" data-ratio=\"", absl::StrFormat("%.4f", b.ratio),
                    "\" data-met=\"", b.met ? "true" : "false", "\">",
                    "<text x=\"", Px(x0 - 8), "\" y=\"", Px(y + 12), "\" text-anchor=\"end\">",
                    Escape(b.label), "</text>", "<rect x=\"", Px(x0), "\" y=\"", Px(y),
                    "\" width=\"", Px(w), "\" height=\"", Px(kBarHeight), "\" fill=\"", colour,
                    "\"/>");
    if (clipped) {
      const double xe = x0 + w;
      absl::StrAppend(&svg, "<path class=\"beyond\" d=\"M", Px(xe), " ", Px(y - 2), " L",
                      Px(xe + 10), " ", Px(y + kBarHeight / 2), " L", Px(xe), " ",
                      Px(y + kBarHeight + 2), " Z\" fill=\"", colour, "\"/>");
    }
    absl::StrAppend(&svg, "<text x=\"", Px(x0 + kAxisWidth + 16), "\" y=\"", Px(y + 12), "\">",
                    Escape(absl::StrFormat("%.2f", b.ratio)), " · ", Escape(b.caption),
                    "</text></g>\n");
  }
  absl::StrAppend(&svg, "</svg>\n");
  return svg;
}

}  // namespace trialog::bench
