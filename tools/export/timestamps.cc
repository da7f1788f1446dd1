#include "tools/export/timestamps.h"

#include <algorithm>

#include "absl/time/time.h"

namespace trialog::exporter {
namespace {

constexpr int32_t kMaxOffsetMinutes = 24 * 60 - 1;

absl::Time FromMicros(int64_t unix_micros) { return absl::FromUnixMicros(unix_micros); }

}  // namespace

std::string UtcTimestamp(int64_t unix_micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", FromMicros(unix_micros), absl::UTCTimeZone());
}

std::string LocalTimestamp(int64_t unix_micros, int32_t utc_offset_minutes) {
  const int32_t offset = std::clamp(utc_offset_minutes, -kMaxOffsetMinutes, kMaxOffsetMinutes);
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6S%Ez", FromMicros(unix_micros),
                          absl::FixedTimeZone(offset * 60));
}

std::string LocalDate(int64_t unix_micros, int32_t utc_offset_minutes) {
  const int32_t offset = std::clamp(utc_offset_minutes, -kMaxOffsetMinutes, kMaxOffsetMinutes);
  return absl::FormatTime("%Y-%m-%d", FromMicros(unix_micros), absl::FixedTimeZone(offset * 60));
}

int64_t DaysBetween(int64_t from_unix_micros, int64_t to_unix_micros) {
  const int64_t diff = to_unix_micros - from_unix_micros;
  const int64_t day = 86400LL * 1000000;
  return diff >= 0 ? diff / day : -((-diff + day - 1) / day);
}

}  // namespace trialog::exporter
