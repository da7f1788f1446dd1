// The report's plots as inline SVG, from plain plot data (so that the
// drawing can be checked against the data it was given):
//
//   * swimmer plot: one lane per treated subject, from the first dose
//     (day 0) to the last, coloured by confirmed best overall response,
//     with a marker per RECIST timepoint response and a triangle per
//     treatment-emergent adverse event (coloured by worst CTCAE grade), and
//     an arrow when treatment is ongoing;
//   * waterfall plot: one bar per subject with a post-baseline assessment,
//     the best (lowest) % change of the target-lesion sum from baseline,
//     sorted from largest increase to largest decrease, coloured by
//     confirmed best overall response, with the RECIST +20 % and -30 %
//     reference lines.
//
// Every mark carries data-* attributes with the values it shows, and each
// <svg> states its scale (data-px-per-day, data-px-per-percent,
// data-zero-y), so tests can check geometry against data.
//
// Thread-safety: pure functions.

#ifndef TRIALOG_TOOLS_EXPORT_SVG_PLOTS_H_
#define TRIALOG_TOOLS_EXPORT_SVG_PLOTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "trialog/v1/trial.pb.h"

namespace trialog::exporter {

// Fill colour (#rrggbb) of a best overall response / timepoint response,
// and of an adverse-event grade (1..5).
const char* ResponseColour(v1::Response response);
const char* GradeColour(uint32_t grade);
// "CR", "PR", "SD", "non-CR/non-PD", "PD", "NE", "missing".
const char* ResponseLabel(v1::Response response);

struct SwimmerMarker {
  int64_t day = 0;                       // days from the first dose (day 0)
  v1::Response response = v1::RESPONSE_UNSPECIFIED;  // response markers
  uint32_t grade = 0;                    // adverse-event markers
  bool serious = false;
};

struct SwimmerLane {
  std::string subject;
  int64_t days = 0;                      // days on treatment (>= 1)
  bool ongoing = false;                  // no end of treatment recorded
  v1::Response bor = v1::RESPONSE_UNSPECIFIED;
  bool confirmed = false;
  std::vector<SwimmerMarker> responses;  // RECIST timepoints
  std::vector<SwimmerMarker> adverse_events;
};

struct WaterfallBar {
  std::string subject;
  int32_t best_change_x10 = 0;           // percent x 10, e.g. -423 = -42.3 %
  v1::Response bor = v1::RESPONSE_UNSPECIFIED;
  bool confirmed = false;
};

// <svg id="swimmer" ...>, lanes sorted by days on treatment (longest
// first). An empty input gives a small SVG saying so.
std::string SwimmerSvg(std::vector<SwimmerLane> lanes);

// <svg id="waterfall" ...>, bars sorted by change (largest increase first).
std::string WaterfallSvg(std::vector<WaterfallBar> bars);

}  // namespace trialog::exporter

#endif  // TRIALOG_TOOLS_EXPORT_SVG_PLOTS_H_
