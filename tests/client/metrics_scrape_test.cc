// client::SumMetric over Prometheus text expositions (format 0.0.4): label
// sets with quoted values that contain '}', '"' and spaces, timestamps,
// comments, and metric names that are prefixes of others. The endpoint of a
// real trialogd is read in tests/server/server_test.cc
// (MetricsCountAppendsAndRejectionsByReason).

#include "client/metrics_scrape.h"

#include "gtest/gtest.h"

namespace trialog::client {
namespace {

constexpr char kExposition[] =
    "# HELP requests_total Requests.\n"
    "# TYPE requests_total counter\n"
    "requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
    "requests_total{method=\"get\",path=\"/a}b \\\"c\\\"\"} 3\n"
    "requests_total_bytes 99\n"
    "requests 5\n"
    "temperature -1.5e1\n"
    "temperature{room=\"x\"} 0.5\r\n"
    "requests_total{broken=\"unterminated} 1000\n";

TEST(SumMetricTest, SumsEveryLabelSetOfExactlyThatName) {
  absl::StatusOr<double> requests = SumMetric(kExposition, "requests_total");
  ASSERT_TRUE(requests.ok()) << requests.status();
  EXPECT_DOUBLE_EQ(*requests, 1030);  // not requests_total_bytes, not the broken line
  absl::StatusOr<double> plain = SumMetric(kExposition, "requests");
  ASSERT_TRUE(plain.ok());
  EXPECT_DOUBLE_EQ(*plain, 5);
  absl::StatusOr<double> temperature = SumMetric(kExposition, "temperature");
  ASSERT_TRUE(temperature.ok());
  EXPECT_DOUBLE_EQ(*temperature, -14.5);
}

TEST(SumMetricTest, AbsentNameIsNotFound) {
  EXPECT_EQ(SumMetric(kExposition, "request").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(SumMetric(kExposition, "HELP").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(SumMetric("", "requests_total").status().code(), absl::StatusCode::kNotFound);
}

TEST(HttpGetLoopbackTest, NothingListeningIsUnavailable) {
  // Port 1 (tcpmux) is privileged and not served on these machines.
  EXPECT_EQ(HttpGetLoopback(1, "/metrics").status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace trialog::client
