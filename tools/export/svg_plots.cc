#include "tools/export/svg_plots.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/export/xml_writer.h"

namespace trialog::exporter {
namespace {

std::string Num(double v) { return absl::StrFormat("%.2f", v); }

std::string Esc(const std::string& s) { return XmlEscapeAttribute(s); }

void Legend(std::string* out, double x, double y, const std::vector<v1::Response>& responses) {
  absl::StrAppend(out, "<g class=\"legend\">");
  for (size_t i = 0; i < responses.size(); ++i) {
    const double ly = y + 18.0 * static_cast<double>(i);
    absl::StrAppend(out, "<rect class=\"legend-key\" data-response=\"", v1::Response_Name(responses[i]),
                    "\" x=\"", Num(x), "\" y=\"", Num(ly), "\" width=\"12\" height=\"12\" fill=\"",
                    ResponseColour(responses[i]), "\"/>", "<text x=\"", Num(x + 18), "\" y=\"", Num(ly + 10),
                    "\">", ResponseLabel(responses[i]), "</text>");
  }
  absl::StrAppend(out, "</g>");
}

}  // namespace

const char* ResponseColour(v1::Response r) {
  switch (r) {
    case v1::RESPONSE_CR: return "#1b7837";
    case v1::RESPONSE_PR: return "#5aae61";
    case v1::RESPONSE_SD: return "#f1a340";
    case v1::RESPONSE_NON_CR_NON_PD: return "#c2a5cf";
    case v1::RESPONSE_PD: return "#d73027";
    case v1::RESPONSE_NE: return "#999999";
    default: return "#cccccc";
  }
}

const char* GradeColour(uint32_t grade) {
  switch (grade) {
    case 1: return "#fee08b";
    case 2: return "#fdae61";
    case 3: return "#f46d43";
    case 4: return "#a50026";
    case 5: return "#000000";
    default: return "#cccccc";
  }
}

const char* ResponseLabel(v1::Response r) {
  switch (r) {
    case v1::RESPONSE_CR: return "CR";
    case v1::RESPONSE_PR: return "PR";
    case v1::RESPONSE_SD: return "SD";
    case v1::RESPONSE_NON_CR_NON_PD: return "non-CR/non-PD";
    case v1::RESPONSE_PD: return "PD";
    case v1::RESPONSE_NE: return "NE";
    case v1::RESPONSE_MISSING: return "missing";
    default: return "unknown";
  }
}

std::string SwimmerSvg(std::vector<SwimmerLane> lanes) {
  std::stable_sort(lanes.begin(), lanes.end(),
                   [](const SwimmerLane& a, const SwimmerLane& b) { return a.days > b.days; });
  constexpr double kLeft = 110, kRight = 170, kTop = 28, kLane = 24, kBar = 12, kPlot = 720;
  int64_t max_day = 28;
  for (const SwimmerLane& l : lanes) {
    max_day = std::max(max_day, l.days);
    for (const SwimmerMarker& m : l.responses) max_day = std::max(max_day, m.day);
    for (const SwimmerMarker& m : l.adverse_events) max_day = std::max(max_day, m.day);
  }
  const int64_t axis_days = (max_day + 27) / 28 * 28;
  const double px = kPlot / static_cast<double>(axis_days);
  const double height = kTop + kLane * static_cast<double>(std::max<size_t>(lanes.size(), 1)) + 48;
  const double width = kLeft + kPlot + kRight;
  std::string out = absl::StrCat(
      "<svg id=\"swimmer\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"", Num(width),
      "\" height=\"", Num(height), "\" viewBox=\"0 0 ", Num(width), " ", Num(height),
      "\" data-px-per-day=\"", absl::StrFormat("%.6f", px), "\" data-x0=\"", Num(kLeft), "\">",
      "<title>Swimmer plot: time on treatment per subject</title>");
  if (lanes.empty()) {
    absl::StrAppend(&out, "<text x=\"10\" y=\"40\">No subject has received a dose.</text></svg>");
    return out;
  }
  // Axis: a tick every 28-day cycle.
  const double axis_y = kTop + kLane * static_cast<double>(lanes.size()) + 6;
  absl::StrAppend(&out, "<g class=\"axis\"><line x1=\"", Num(kLeft), "\" y1=\"", Num(axis_y), "\" x2=\"",
                  Num(kLeft + kPlot), "\" y2=\"", Num(axis_y), "\" stroke=\"#333\"/>");
  for (int64_t d = 0; d <= axis_days; d += 28) {
    const double x = kLeft + px * static_cast<double>(d);
    absl::StrAppend(&out, "<line x1=\"", Num(x), "\" y1=\"", Num(kTop - 6), "\" x2=\"", Num(x), "\" y2=\"",
                    Num(axis_y + 4), "\" stroke=\"#ddd\"/><text class=\"tick\" x=\"", Num(x), "\" y=\"",
                    Num(axis_y + 18), "\" text-anchor=\"middle\">", d, "</text>");
  }
  absl::StrAppend(&out, "<text x=\"", Num(kLeft + kPlot / 2), "\" y=\"", Num(axis_y + 36),
                  "\" text-anchor=\"middle\">Days from first dose</text></g>");
  for (size_t i = 0; i < lanes.size(); ++i) {
    const SwimmerLane& l = lanes[i];
    const double y = kTop + kLane * static_cast<double>(i);
    const double bar_y = y + (kLane - kBar) / 2;
    const double bar_w = px * static_cast<double>(l.days);
    absl::StrAppend(&out, "<g class=\"lane\" data-subject=\"", Esc(l.subject), "\" data-days=\"", l.days,
                    "\" data-bor=\"", v1::Response_Name(l.bor), "\" data-confirmed=\"",
                    l.confirmed ? "true" : "false", "\" data-ongoing=\"", l.ongoing ? "true" : "false", "\">",
                    "<text x=\"", Num(kLeft - 8), "\" y=\"", Num(bar_y + kBar - 2),
                    "\" text-anchor=\"end\">", Esc(l.subject), "</text>", "<rect class=\"bar\" x=\"",
                    Num(kLeft), "\" y=\"", Num(bar_y), "\" width=\"", Num(bar_w), "\" height=\"", Num(kBar),
                    "\" fill=\"", ResponseColour(l.bor), "\"/>");
    if (l.ongoing) {
      const double x = kLeft + bar_w;
      absl::StrAppend(&out, "<path class=\"ongoing\" d=\"M", Num(x + 2), " ", Num(bar_y - 1), " L", Num(x + 12),
                      " ", Num(bar_y + kBar / 2), " L", Num(x + 2), " ", Num(bar_y + kBar + 1),
                      " Z\" fill=\"#333\"/>");
    }
    for (const SwimmerMarker& m : l.responses) {
      const double x = kLeft + px * static_cast<double>(m.day);
      absl::StrAppend(&out, "<circle class=\"resp\" data-day=\"", m.day, "\" data-response=\"",
                      v1::Response_Name(m.response), "\" cx=\"", Num(x), "\" cy=\"", Num(bar_y + kBar / 2),
                      "\" r=\"5\" fill=\"", ResponseColour(m.response), "\" stroke=\"#222\"/>");
    }
    for (const SwimmerMarker& m : l.adverse_events) {
      const double x = kLeft + px * static_cast<double>(m.day);
      absl::StrAppend(&out, "<path class=\"ae\" data-day=\"", m.day, "\" data-grade=\"", m.grade,
                      "\" data-serious=\"", m.serious ? "true" : "false", "\" d=\"M", Num(x), " ", Num(bar_y - 1),
                      " l-4 -7 l8 0 Z\" fill=\"", GradeColour(m.grade), "\" stroke=\"",
                      m.serious ? "#000" : "#777", "\"/>");
    }
    absl::StrAppend(&out, "</g>");
  }
  // Legends: response colours, AE grades.
  const double lx = kLeft + kPlot + 24;
  absl::StrAppend(&out, "<text x=\"", Num(lx), "\" y=\"", Num(kTop - 8), "\">Best overall response</text>");
  Legend(&out, lx, kTop, {v1::RESPONSE_CR, v1::RESPONSE_PR, v1::RESPONSE_SD, v1::RESPONSE_PD, v1::RESPONSE_NE});
  const double gy = kTop + 18 * 5 + 24;
  absl::StrAppend(&out, "<text x=\"", Num(lx), "\" y=\"", Num(gy - 8), "\">AE onset (CTCAE grade)</text>");
  for (uint32_t g = 1; g <= 5; ++g) {
    const double y = gy + 18.0 * (g - 1);
    absl::StrAppend(&out, "<path class=\"legend-ae\" d=\"M", Num(lx + 6), " ", Num(y + 12), " l-6 -11 l12 0 Z\" fill=\"",
                    GradeColour(g), "\" stroke=\"#777\"/><text x=\"", Num(lx + 18), "\" y=\"", Num(y + 10),
                    "\">grade ", g, "</text>");
  }
  absl::StrAppend(&out, "</svg>");
  return out;
}

std::string WaterfallSvg(std::vector<WaterfallBar> bars) {
  std::stable_sort(bars.begin(), bars.end(), [](const WaterfallBar& a, const WaterfallBar& b) {
    return a.best_change_x10 > b.best_change_x10;
  });
  constexpr double kLeft = 60, kRight = 170, kTop = 20, kPlotH = 300, kSlot = 30, kBarW = 20;
  int32_t max_x10 = 200;  // the axis shows at least +20 %
  for (const WaterfallBar& b : bars) max_x10 = std::max(max_x10, b.best_change_x10);
  const int32_t top_pct = (max_x10 + 99) / 100 * 10;  // rounded up to 10 %
  const double px = kPlotH / static_cast<double>(top_pct + 100);
  const double zero_y = kTop + px * top_pct;
  const double plot_w = kSlot * static_cast<double>(std::max<size_t>(bars.size(), 1));
  const double width = kLeft + plot_w + kRight;
  const double height = kTop + kPlotH + 70;
  auto y_of = [&](double pct) { return zero_y - px * pct; };
  std::string out = absl::StrCat(
      "<svg id=\"waterfall\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"", Num(width),
      "\" height=\"", Num(height), "\" viewBox=\"0 0 ", Num(width), " ", Num(height),
      "\" data-px-per-percent=\"", absl::StrFormat("%.6f", px), "\" data-zero-y=\"", Num(zero_y), "\">",
      "<title>Waterfall plot: best % change of the target-lesion sum from baseline</title>");
  if (bars.empty()) {
    absl::StrAppend(&out, "<text x=\"10\" y=\"40\">No subject has a post-baseline assessment.</text></svg>");
    return out;
  }
  // Axis with 20 % gridlines; reference lines at +20 % (PD) and -30 % (PR).
  absl::StrAppend(&out, "<g class=\"axis\">");
  for (int32_t pct = -100; pct <= top_pct; pct += 20) {
    absl::StrAppend(&out, "<line x1=\"", Num(kLeft), "\" y1=\"", Num(y_of(pct)), "\" x2=\"", Num(kLeft + plot_w),
                    "\" y2=\"", Num(y_of(pct)), "\" stroke=\"", pct == 0 ? "#333" : "#e5e5e5", "\"/><text x=\"",
                    Num(kLeft - 6), "\" y=\"", Num(y_of(pct) + 4), "\" text-anchor=\"end\">", pct, "%</text>");
  }
  for (int32_t ref : {20, -30}) {
    absl::StrAppend(&out, "<line class=\"reference\" data-percent=\"", ref, "\" x1=\"", Num(kLeft), "\" y1=\"",
                    Num(y_of(ref)), "\" x2=\"", Num(kLeft + plot_w), "\" y2=\"", Num(y_of(ref)),
                    "\" stroke=\"#555\" stroke-dasharray=\"5 4\"/>");
  }
  absl::StrAppend(&out, "<text transform=\"rotate(-90)\" x=\"", Num(-(kTop + kPlotH / 2)), "\" y=\"14\" "
                        "text-anchor=\"middle\">Best % change from baseline</text></g>");
  for (size_t i = 0; i < bars.size(); ++i) {
    const WaterfallBar& b = bars[i];
    const double pct = b.best_change_x10 / 10.0;
    const double x = kLeft + kSlot * static_cast<double>(i) + (kSlot - kBarW) / 2;
    const double y = pct >= 0 ? y_of(pct) : zero_y;
    const double h = std::fabs(pct) * px;
    absl::StrAppend(&out, "<rect class=\"wf-bar\" data-subject=\"", Esc(b.subject), "\" data-change-x10=\"",
                    b.best_change_x10, "\" data-bor=\"", v1::Response_Name(b.bor), "\" data-confirmed=\"",
                    b.confirmed ? "true" : "false", "\" x=\"", Num(x), "\" y=\"", Num(y), "\" width=\"", Num(kBarW),
                    "\" height=\"", Num(h), "\" fill=\"", ResponseColour(b.bor), "\"><title>", Esc(b.subject), ": ",
                    absl::StrFormat("%+.1f", pct), "% (", ResponseLabel(b.bor), ")</title></rect>",
                    "<text class=\"bar-label\" transform=\"translate(", Num(x + kBarW / 2), " ",
                    Num(kTop + kPlotH + 8), ") rotate(60)\" font-size=\"10\">", Esc(b.subject), "</text>");
  }
  const double lx = kLeft + plot_w + 24;
  absl::StrAppend(&out, "<text x=\"", Num(lx), "\" y=\"", Num(kTop + 4), "\">Best overall response</text>");
  Legend(&out, lx, kTop + 12, {v1::RESPONSE_CR, v1::RESPONSE_PR, v1::RESPONSE_SD, v1::RESPONSE_PD, v1::RESPONSE_NE});
  absl::StrAppend(&out, "</svg>");
  return out;
}

}  // namespace trialog::exporter
