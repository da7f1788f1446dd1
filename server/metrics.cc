#include "server/metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/status_util.h"

namespace trialog::server {
namespace {

std::string FormatDouble(double v) { return absl::StrFormat("%.9g", v); }

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1) {}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  absl::MutexLock lock(&sum_mu_);
  sum_ += value;
}

void Histogram::Render(absl::string_view name, std::string* out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    absl::StrAppend(out, name, "_bucket{le=\"", FormatDouble(bounds_[i]), "\"} ", cumulative,
                    "\n");
  }
  cumulative += counts_[bounds_.size()].load(std::memory_order_relaxed);
  double sum;
  {
    absl::MutexLock lock(&sum_mu_);
    sum = sum_;
  }
  absl::StrAppend(out, name, "_bucket{le=\"+Inf\"} ", cumulative, "\n");
  absl::StrAppend(out, name, "_sum ", FormatDouble(sum), "\n");
  absl::StrAppend(out, name, "_count ", cumulative, "\n");
}

Metrics::Metrics()
    : latency_({0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                0.5, 1, 2.5, 5}),
      batch_sizes_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}) {}

void Metrics::RecordRequest(absl::string_view rpc) {
  absl::MutexLock lock(&mu_);
  ++requests_[std::string(rpc)];
}

void Metrics::RecordAppended(double seconds, bool duplicate) {
  appended_.fetch_add(1, std::memory_order_relaxed);
  if (duplicate) duplicates_.fetch_add(1, std::memory_order_relaxed);
  latency_.Observe(seconds);
}

void Metrics::RecordRejection(const absl::Status& status) {
  std::string code = absl::StatusCodeToString(status.code());
  std::string reason = RejectionReason(status);
  absl::MutexLock lock(&mu_);
  ++rejections_[{code, reason}];
}

void Metrics::RecordBatchSize(size_t envelopes) { batch_sizes_.Observe(envelopes); }

std::string Metrics::RenderPrometheus(absl::string_view extra) const {
  std::string out;
  absl::StrAppend(&out,
                  "# HELP trialog_append_requests_total Append RPCs received, by RPC.\n"
                  "# TYPE trialog_append_requests_total counter\n");
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [rpc, n] : requests_) {
      absl::StrAppend(&out, "trialog_append_requests_total{rpc=\"", rpc, "\"} ", n, "\n");
    }
    absl::StrAppend(&out,
                    "# HELP trialog_append_rejections_total Envelopes rejected, by gRPC status "
                    "code and reason.\n"
                    "# TYPE trialog_append_rejections_total counter\n");
    for (const auto& [key, n] : rejections_) {
      absl::StrAppend(&out, "trialog_append_rejections_total{code=\"", key.first,
                      "\",reason=\"", key.second, "\"} ", n, "\n");
    }
  }
  absl::StrAppend(&out,
                  "# HELP trialog_appends_total Envelopes answered OK (durable), including "
                  "idempotent repeats.\n"
                  "# TYPE trialog_appends_total counter\n"
                  "trialog_appends_total ",
                  appended_.load(), "\n",
                  "# HELP trialog_duplicate_appends_total Repeated event ids answered with "
                  "the original receipt.\n"
                  "# TYPE trialog_duplicate_appends_total counter\n"
                  "trialog_duplicate_appends_total ",
                  duplicates_.load(), "\n",
                  "# HELP trialog_trials Trial ledgers served.\n"
                  "# TYPE trialog_trials gauge\n"
                  "trialog_trials ",
                  trials_.load(), "\n");
  absl::StrAppend(&out,
                  "# HELP trialog_append_latency_seconds Time from receiving an append to its "
                  "answer (durable, receipt built).\n"
                  "# TYPE trialog_append_latency_seconds histogram\n");
  latency_.Render("trialog_append_latency_seconds", &out);
  absl::StrAppend(&out,
                  "# HELP trialog_append_batch_envelopes Envelopes per AppendBatch call.\n"
                  "# TYPE trialog_append_batch_envelopes histogram\n");
  batch_sizes_.Render("trialog_append_batch_envelopes", &out);
  absl::StrAppend(&out, extra);
  return out;
}

}  // namespace trialog::server
