// The audit trail of a ledger for reviewers (21 CFR 11.10(e)): one row per
// entry saying who (principal, printed name, role, site), what (event type
// and its key fields), when (server time in UTC and at the site's UTC
// offset, and the clinical observation time), why (the envelope's reason),
// old -> new values for corrections, the entry a void removes, and the
// manifestations of electronic signatures (printed name, time, meaning).
//
// Rows are derived from verified entries only (the CLI verifies the ledger
// first); they restate what the signed envelopes say and add nothing the
// ledger does not hold. Event summaries reuse tools/export/event_fields.h.
//
// Thread-safety: TrailBuilder is not thread-safe; the rest are pure.

#ifndef TRIALOG_TOOLS_AUDIT_TRAIL_H_
#define TRIALOG_TOOLS_AUDIT_TRAIL_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/ledger/entry.h"

namespace trialog::audit {

// A DataCorrected: field `field_path` of the record `target_event_id`
// (entry `target_index`) changed from `old_value` to `new_value`.
struct Correction {
  std::string target_event_id;            // hex
  std::optional<uint64_t> target_index;   // nullopt if not in the ledger before it
  std::string field_path, old_value, new_value;
  std::string reason_code;                // CorrectionReason name
};

// The manifestation of an electronic signature (21 CFR 11.50): who signed,
// when (the entry's recorded time), and what the signature means.
struct Manifestation {
  std::string printed_name;
  std::string time_utc, time_local;
  std::string meaning;       // SignatureMeaning name, e.g. "SIG_RESPONSE"
  std::string meaning_word;  // "approval", "review", ... ("" if unknown)
  std::string meaning_text;  // the legal text the signer saw
  std::vector<uint64_t> signed_indexes;  // entries of the signed records
};

struct TrailRow {
  uint64_t index = 0;
  // who
  std::string principal_id, printed_name, role, site_id;
  // what
  std::string stream_id;
  std::string subject_id;  // from "subject/<id>" streams, else ""
  std::string event_type;  // exporter::EventKind, e.g. "trial.dose_administered"
  std::string summary;     // exporter::EventSummary
  // when (µs since the Unix epoch, and text)
  int64_t recorded_at = 0, observed_at = 0;
  int32_t utc_offset_minutes = 0;  // the site's offset, from the envelope
  std::string recorded_utc, recorded_local, observed_utc, observed_local;
  // why
  std::string reason;
  std::optional<Correction> correction;
  std::optional<uint64_t> voided_index;  // EventVoided: the entry voided
  std::optional<Manifestation> signature;
};

// Turns entries, fed in index order, into rows (resolving the targets of
// corrections, voids and signatures to entry indexes).
class TrailBuilder {
 public:
  TrailRow Add(const ledger::ParsedEntry& entry);

 private:
  absl::flat_hash_map<std::string, uint64_t> index_of_event_;
};

// Which rows to keep. Empty strings / nullopt match everything.
struct TrailFilter {
  std::string subject;      // subject id ("RU-01-0001") or stream id
  std::string user;         // principal id or printed name (exact)
  std::string role;         // "investigator" or "ROLE_INVESTIGATOR" (any case)
  std::string site;         // site id
  std::vector<std::string> event_types;  // "trial.dose_administered" or "dose_administered"
  std::optional<int64_t> from, to;       // inclusive bounds, µs
  bool by_observed_time = false;         // bounds apply to observed_at (else recorded_at)

  bool Matches(const TrailRow& row) const;
};

// RFC 3339 instant ("2025-01-20T09:00:00Z", "2025-01-20T09:00:00.5+03:00")
// to µs since the epoch. INVALID_ARGUMENT saying what is wrong.
absl::StatusOr<int64_t> ParseRfc3339(absl::string_view text);

// "investigator" from ROLE_INVESTIGATOR (the lower-case name without
// prefix). Unknown values give their number.
std::string RoleName(int role);

// Output formats.
// An aligned text table with a header line; long text in the last column.
void WriteTable(const std::vector<TrailRow>& rows, std::ostream& out);
// RFC 4180 CSV: a header record, CRLF line ends, fields quoted when they
// hold a comma, a double quote, CR or LF (quotes doubled).
void WriteCsv(const std::vector<TrailRow>& rows, std::ostream& out);
// JSON Lines: one object per row, keys as in the CSV header (nested objects
// for "correction" and "signature", null when absent).
void WriteJsonLines(const std::vector<TrailRow>& rows, std::ostream& out);

// The CSV header's column names, in order.
const std::vector<std::string>& CsvColumns();

}  // namespace trialog::audit

#endif  // TRIALOG_TOOLS_AUDIT_TRAIL_H_
