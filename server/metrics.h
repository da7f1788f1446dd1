// In-process metrics of trialogd, rendered in the Prometheus text
// exposition format (version 0.0.4).
//
// Thread-safety: every method may be called concurrently.

#ifndef TRIALOG_SERVER_METRICS_H_
#define TRIALOG_SERVER_METRICS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace trialog::server {

// A cumulative histogram with fixed upper bounds (Prometheus semantics).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  // Appends the _bucket/_sum/_count lines of `name` (no HELP/TYPE).
  void Render(absl::string_view name, std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<uint64_t>> counts_;  // one per bound, plus +Inf
  std::atomic<uint64_t> count_{0};
  mutable absl::Mutex sum_mu_;
  double sum_ ABSL_GUARDED_BY(sum_mu_) = 0;
};

class Metrics {
 public:
  Metrics();

  // One append RPC of kind `rpc` ("Append", "AppendBatch", "AppendStream").
  void RecordRequest(absl::string_view rpc);
  // One envelope answered OK after `seconds` (from the call's start).
  void RecordAppended(double seconds, bool duplicate);
  // One envelope rejected with `status`.
  void RecordRejection(const absl::Status& status);
  // Envelopes carried by one AppendBatch call.
  void RecordBatchSize(size_t envelopes);
  void SetTrials(size_t trials) { trials_.store(trials); }

  // The text exposition; `extra` (already formatted lines) is appended.
  std::string RenderPrometheus(absl::string_view extra = "") const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, uint64_t> requests_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, uint64_t> rejections_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> appended_{0};
  std::atomic<uint64_t> duplicates_{0};
  std::atomic<uint64_t> trials_{0};
  Histogram latency_;
  Histogram batch_sizes_;
};

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_METRICS_H_
