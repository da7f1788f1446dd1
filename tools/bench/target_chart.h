// The benchmark's targets as a picture: one horizontal bar per measured
// target, its length the ratio of the measurement to the target (so 1.0 is
// exactly met, whatever the unit and whether the target is a floor or a
// ceiling), on a linear axis from 0 with a line at 1.0. Bars of met targets
// are green, others orange; a ratio beyond the axis is drawn to its end with
// an arrow. Each bar's caption says the measurement and the target.
//
// Every bar carries data-ratio and data-met, and the <svg> states its
// scale (data-px-per-unit, data-x0), so a test can check the geometry
// against the data.
//
// Thread-safety: a pure function.

#ifndef TRIALOG_TOOLS_BENCH_TARGET_CHART_H_
#define TRIALOG_TOOLS_BENCH_TARGET_CHART_H_

#include <string>
#include <vector>

namespace trialog::bench {

struct TargetBar {
  std::string label;    // the measurement, e.g. "unary Append, 16 clients"
  double ratio = 0;     // measured / target (floors) or target / measured (ceilings); >= 0
  bool met = false;
  std::string caption;  // e.g. "2,270/s vs ≥ 6,000/s"
};

// A standalone SVG document (UTF-8) headed `title` with `subtitle` (e.g.
// the run's date, machine and load) in small print under it, bars in the
// order given. An empty input gives a small SVG saying there is nothing
// to draw.
std::string TargetChartSvg(const std::string& title, const std::string& subtitle,
                           const std::vector<TargetBar>& bars);

}  // namespace trialog::bench

#endif  // TRIALOG_TOOLS_BENCH_TARGET_CHART_H_
