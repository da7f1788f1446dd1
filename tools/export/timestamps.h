// Text forms of ledger instants (microseconds since the Unix epoch, UTC)
// for exports: RFC 3339 / ISO 8601 complete representations with six
// fractional digits, either in UTC ("Z") or as the site's local clock
// reading with its offset ("+03:00"), which is what ODM 1.3.2 datetimes and
// the human-readable report show.
//
// Thread-safety: pure functions.

#ifndef TRIALOG_TOOLS_EXPORT_TIMESTAMPS_H_
#define TRIALOG_TOOLS_EXPORT_TIMESTAMPS_H_

#include <cstdint>
#include <string>

namespace trialog::exporter {

// "2025-01-20T06:00:00.000000Z".
std::string UtcTimestamp(int64_t unix_micros);

// The local clock reading at a fixed UTC offset, e.g. (t, 180) ->
// "2025-01-20T09:00:00.000000+03:00"; offset 0 gives "+00:00".
// REQUIRES: |utc_offset_minutes| < 24 * 60 (ODM's offset grammar); larger
// values are clamped.
std::string LocalTimestamp(int64_t unix_micros, int32_t utc_offset_minutes);

// The local calendar date "2025-01-20" at the given offset.
std::string LocalDate(int64_t unix_micros, int32_t utc_offset_minutes);

// Whole days from `from` to `to` on the UTC clock (floor of the difference).
int64_t DaysBetween(int64_t from_unix_micros, int64_t to_unix_micros);

}  // namespace trialog::exporter

#endif  // TRIALOG_TOOLS_EXPORT_TIMESTAMPS_H_
