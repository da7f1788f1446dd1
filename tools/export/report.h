// The human-readable trial report (21 CFR 11.10(b)): one self-contained
// HTML file, no scripts and no network (a Content-Security-Policy forbids
// any fetch), built from a verified ledger:
//
//   verification result and the signed checkpoint it was built from;
//   trial summary with ORR and its exact 95 % CI; subjects; swimmer and
//   waterfall plots (inline SVG, svg_plots.h); adverse events by CTCAE
//   term and grade; dosing per subject; e-signature manifestations
//   (11.50: printed name, date and time, meaning) and the full audit trail,
//   one row per entry, with corrections (old -> new, reason) and voids
//   highlighted and the signatures shown next to the records they sign.
//
// Thread-safety: pure functions of their input.

#ifndef TRIALOG_TOOLS_EXPORT_REPORT_H_
#define TRIALOG_TOOLS_EXPORT_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/export/export_input.h"
#include "tools/export/svg_plots.h"

namespace trialog::exporter {

struct ReportOptions {
  int64_t generated_unix_micros = 0;  // 0 = now
  std::string source;                 // where the ledger was read from (shown)
};

// The HTML document. Never fails on a verified input except for INTERNAL
// rendering errors.
absl::StatusOr<std::string> WriteHtmlReport(const ExportInput& input, const ReportOptions& options = {});

// The plot data the report draws (exposed for tests).
std::vector<SwimmerLane> SwimmerLanes(const ExportInput& input);
std::vector<WaterfallBar> WaterfallBars(const ExportInput& input);

// `text` escaped for HTML element content and attribute values.
std::string HtmlEscape(absl::string_view text);

}  // namespace trialog::exporter

#endif  // TRIALOG_TOOLS_EXPORT_REPORT_H_
