#include "server/refusal_log.h"

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trialog::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RefusalLogTest : public ::testing::Test {
 protected:
  RefusalLog::Sink Sink() {
    return [this](absl::string_view line) { lines_.emplace_back(line); };
  }
  std::vector<std::string> lines_;
};

TEST_F(RefusalLogTest, SuccessesAndClientErrorsAreSilent) {
  RefusalLog log("trial t", Sink());
  log.Record(absl::OkStatus());
  log.Record(absl::PermissionDeniedError("role may not"));
  log.Record(absl::AbortedError("version"));
  EXPECT_TRUE(lines_.empty());
}

TEST_F(RefusalLogTest, OneLinePerCauseThenOneWhenAppendsResume) {
  RefusalLog log("trial t", Sink(), absl::Hours(1));
  for (int i = 0; i < 50; ++i) log.Record(absl::UnavailableError("disk below reserve"));
  log.Record(absl::InvalidArgumentError("a client's mistake while refusing"));
  log.Record(absl::UnavailableError("ledger write failed: EIO"));
  log.Record(absl::UnavailableError("ledger write failed: EIO"));
  log.Record(absl::OkStatus());
  log.Record(absl::OkStatus());
  EXPECT_THAT(lines_, ElementsAre("trial t: append refused (UNAVAILABLE): disk below reserve",
                                  "trial t: append refused (UNAVAILABLE): ledger write failed: EIO",
                                  "trial t: appends are accepted again after 52 refused (UNAVAILABLE)"));
}

TEST_F(RefusalLogTest, LongRefusalsAreRepeatedWithACount) {
  RefusalLog log("trial t", Sink(), absl::Milliseconds(20));
  log.Record(absl::UnavailableError("disk below reserve"));
  log.Record(absl::UnavailableError("disk below reserve"));
  absl::SleepFor(absl::Milliseconds(30));
  log.Record(absl::UnavailableError("disk below reserve"));
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_THAT(lines_[1], HasSubstr("[2 refused since the last line]"));
}

}  // namespace
}  // namespace trialog::server
