// The group-commit pipeline seen through its own timeline
// (storage/batch_trace.h): every batch is written after the one before it
// was answered, answered only after its synced write returned, and the next
// batch is sequenced while the previous one is being written.

#include <atomic>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "storage/batch_trace.h"
#include "storage/ledger.h"
#include "tests/storage/test_util.h"

namespace trialog::storage {
namespace {

using testing::Genesis;
using testing::LedgerHarness;
using testing::NoteEvent;

TEST(PipelineTest, TimelineIsOrderedDurableAndOverlapped) {
  // Declared first, so destroyed last: the ledger's threads (which record
  // into the trace) are joined, then the trace is uninstalled, even when an
  // assertion ends the test early.
  BatchTrace trace(1000);
  struct Uninstall {
    ~Uninstall() { BatchTrace::Install(nullptr); }
  } uninstall;
  LedgerHarness h;
  LedgerOptions o;
  o.max_batch = 8;
  o.sync = true;
  ASSERT_TRUE(h.Open(o).ok());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());

  constexpr int kChunks = 30;
  std::vector<std::vector<Admitted>> chunks(kChunks);
  for (int c = 0; c < kChunks; ++c) {
    for (int k = 0; k < 8; ++k) {
      chunks[c].push_back(NoteEvent(h.admin, absl::StrCat("subject/", k % 5), absl::StrCat(c, "/", k)));
    }
  }
  BatchTrace::Install(&trace);
  absl::Mutex mu;
  int answered = 0, failed = 0, not_durable = 0;
  for (std::vector<Admitted>& chunk : chunks) {
    // Everything queued at once: the sequencer always has the next batch.
    h.ledger->AppendAllAsync(std::move(chunk), [&](size_t, absl::StatusOr<AppendResult> r) {
      absl::MutexLock lock(&mu);
      ++answered;
      if (!r.ok()) {
        ++failed;
        return;
      }
      // Durable and published before the caller hears of it.
      absl::StatusOr<std::string> stored = h.ledger->ReadEntry(r->index);
      if (h.ledger->size() <= r->index || !stored.ok() || *stored != r->entry_bytes) ++not_durable;
    });
  }
  {
    absl::MutexLock lock(&mu);
    auto all = [&] { return answered == kChunks * 8; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(60)));
  }
  // The writer records a batch just after answering its callers: wait for
  // the last record.
  for (int i = 0; i < 2000 && trace.batches().size() < static_cast<size_t>(kChunks); ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  const SequencerStats st = h.ledger->sequencer_stats();
  EXPECT_GT(st.sequence_cpu_time, absl::ZeroDuration());
  EXPECT_GT(st.commit_cpu_time, absl::ZeroDuration());
  // The state lock was given back once the queue ran dry and all was durable.
  EXPECT_EQ(h.ledger->ReadState([&] { return h.rules->applied(); }), 1u + kChunks * 8);
  EXPECT_EQ(h.ledger->size(), 1u + kChunks * 8);
  // Every thread that may record into the trace (writer, indexer) is joined
  // before it is uninstalled: it lives on this stack.
  h.Shut();
  BatchTrace::Install(nullptr);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(not_durable, 0);

  const std::vector<BatchTimes> batches = trace.batches();
  ASSERT_EQ(batches.size(), static_cast<size_t>(kChunks));
  int overlapped = 0;
  for (size_t i = 0; i < batches.size(); ++i) {
    const BatchTimes& b = batches[i];
    SCOPED_TRACE(absl::StrCat("batch ", i));
    EXPECT_EQ(b.requests, 8u);
    EXPECT_EQ(b.appended, 8u);
    EXPECT_LE(b.taken, b.sequenced);
    EXPECT_LE(b.sequenced, b.handed);
    EXPECT_LE(b.handed, b.write_start);
    EXPECT_LT(b.write_start, b.write_end);
    EXPECT_LE(b.write_end, b.answered);
    if (i > 0) {
      // One write at a time, in order, each after the previous batch's answers.
      EXPECT_GE(b.write_start, batches[i - 1].answered);
      if (b.sequenced < batches[i - 1].write_end) ++overlapped;
    }
  }
  // With 240 requests queued and every write synced, the sequencing thread
  // prepares batches while the writer is in fsync.
  EXPECT_GT(overlapped, 0);
  EXPECT_FALSE(trace.index_writes().empty());

}

}  // namespace
}  // namespace trialog::storage
