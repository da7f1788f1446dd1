#include "server/refusal_log.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace trialog::server {

RefusalLog::RefusalLog(std::string subject, Sink sink, absl::Duration repeat_every)
    : subject_(std::move(subject)), sink_(std::move(sink)), repeat_every_(repeat_every) {}

void RefusalLog::Record(const absl::Status& status) {
  const bool refused = status.code() == absl::StatusCode::kUnavailable;
  if (!refused && !refusing_.load(std::memory_order_relaxed)) return;
  if (!refused && !status.ok()) return;  // a client error says nothing about the disk
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  if (!refused) {
    if (!refusing_.exchange(false)) return;
    sink_(absl::StrCat(subject_, ": appends are accepted again after ", refused_total_,
                       " refused (UNAVAILABLE)"));
    refused_total_ = 0;
    refused_since_logged_ = 0;
    last_message_.clear();
    return;
  }
  refusing_.store(true);
  ++refused_total_;
  ++refused_since_logged_;
  const bool new_cause = status.message() != last_message_;
  if (!new_cause && now - last_logged_ < repeat_every_) return;
  sink_(absl::StrCat(subject_, ": append refused (UNAVAILABLE): ", status.message(),
                     new_cause ? "" : absl::StrCat(" [", refused_since_logged_, " refused since the last line]")));
  last_message_ = std::string(status.message());
  last_logged_ = now;
  refused_since_logged_ = 0;
}

}  // namespace trialog::server
