// Reading trialogd's Prometheus metrics endpoint (--metrics_listen) from
// the same machine: for tests and the benchmark, which relate throughput to
// server-side counters such as group commits. Monitoring systems scrape the
// endpoint themselves; this is not a general HTTP client.

#ifndef TRIALOG_CLIENT_METRICS_SCRAPE_H_
#define TRIALOG_CLIENT_METRICS_SCRAPE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trialog::client {

// The whole HTTP/1.0 response (status line, headers and body) to
// "GET `path`" on 127.0.0.1:`port`. UNAVAILABLE when nothing listens there.
absl::StatusOr<std::string> HttpGetLoopback(int port, absl::string_view path);

// The sum of the values of every sample of metric `name` (all label sets) in
// a Prometheus text exposition; NOT_FOUND when it has no sample.
// Comment lines (# HELP, # TYPE) and other metrics, including ones whose
// name merely starts with `name`, are ignored.
absl::StatusOr<double> SumMetric(absl::string_view exposition, absl::string_view name);

}  // namespace trialog::client

#endif  // TRIALOG_CLIENT_METRICS_SCRAPE_H_
