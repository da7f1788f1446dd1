// TrialView (the immutable copy trialogd serves current state from) and
// replay snapshots: views taken while the synthetic trial runs must still
// say, after the whole run, exactly what an independent replay "as of"
// their entry says (Apply never mutates what a view holds); snapshots a
// replay leaves behind must equal the live state's snapshot at that entry.

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "core/trial/projection.h"
#include "core/trial/replay.h"
#include "gtest/gtest.h"
#include "tests/core/trial/harness.h"

namespace trialog::trial::testing {
namespace {

// The projections of a view, serialised: summary, then every subject.
std::string ViewBytes(const TrialView& view) {
  std::string out = DeterministicBytes(view.Summary());
  for (const auto& [id, state] : view.subjects) {
    out += "|" + id + "|" + DeterministicBytes(*state);
  }
  return out;
}

// The same from a state machine's own accessors.
std::string MachineBytes(const TrialStateMachine& sm) {
  std::string out = DeterministicBytes(sm.Summary());
  for (const std::string& id : sm.SubjectIds()) {
    absl::StatusOr<v1::SubjectState> s = sm.Subject(id);
    EXPECT_TRUE(s.ok()) << s.status();
    out += "|" + id + "|" + DeterministicBytes(*s);
  }
  return out;
}

TEST(LiveView, ViewsStayAsTheyWereWhileTheStateMovesOn) {
  absl::StatusOr<SyntheticTrialPlan> plan = SyntheticTrial(7, 20);
  ASSERT_TRUE(plan.ok()) << plan.status();
  Harness h(plan->protocol);
  std::map<uint64_t, TrialView> views;
  std::map<uint64_t, std::string> live_snapshots;
  RunPlan(h, *plan, [&] {
    if (h.sm.last_index() % 37 == 0) views.emplace(h.sm.last_index(), h.sm.View());
    if ((h.sm.last_index() + 1) % 101 == 0) live_snapshots[h.sm.last_index()] = h.sm.Snapshot();
  });
  views.emplace(h.sm.last_index(), h.sm.View());
  ASSERT_GT(views.size(), 10u);
  EXPECT_EQ(ViewBytes(views.rbegin()->second), MachineBytes(h.sm));

  VectorEntrySource source(&h.entries());
  for (const auto& [index, view] : views) {
    SCOPED_TRACE(index);
    EXPECT_EQ(view.last_index, index);
    absl::StatusOr<std::unique_ptr<TrialStateMachine>> replayed = StateAsOfEntry(source, index);
    ASSERT_TRUE(replayed.ok()) << replayed.status();
    EXPECT_EQ(ViewBytes(view), MachineBytes(**replayed));
    EXPECT_EQ(view.locked, (*replayed)->locked());
    for (const std::string& id : (*replayed)->SubjectIds()) {
      ASSERT_NE(view.Subject(id), nullptr) << id;
    }
  }
  EXPECT_EQ(views.begin()->second.Subject("no-such-subject"), nullptr);

  // A replay that leaves snapshots behind: each equals the live state's at
  // that entry where the live run took one, and restarting from any of them
  // gives the same final state as a replay from genesis.
  std::map<uint64_t, std::string> made;
  ReplayOptions options;
  options.snapshots_out = &made;
  options.snapshot_every = 101;
  const uint64_t last = h.entries().size() - 1;
  absl::StatusOr<std::unique_ptr<TrialStateMachine>> full = StateAsOfEntry(source, last, options);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_EQ(made.size(), h.entries().size() / 101);
  int compared = 0;
  for (const auto& [index, bytes] : made) {
    SCOPED_TRACE(index);
    EXPECT_EQ((index + 1) % 101, 0u);
    auto live = live_snapshots.find(index);
    if (live != live_snapshots.end()) {
      EXPECT_EQ(bytes, live->second);
      ++compared;
    }
    std::map<uint64_t, std::string> one = {{index, bytes}};
    ReplayOptions from;
    from.snapshots = &one;
    absl::StatusOr<std::unique_ptr<TrialStateMachine>> resumed = StateAsOfEntry(source, last, from);
    ASSERT_TRUE(resumed.ok()) << resumed.status();
    EXPECT_EQ((*resumed)->Snapshot(), (*full)->Snapshot());
  }
  // Refused steps are not entries, so every live snapshot has its replay twin.
  EXPECT_EQ(compared, static_cast<int>(live_snapshots.size()));
  EXPECT_GT(compared, 3);
  EXPECT_EQ((*full)->Snapshot(), h.sm.Snapshot());
}

// What trialogd holds the ledger's state lock for: one View() copy. Prints
// the time on the 200-subject synthetic trial (no timing assertion: the
// machine is shared), and checks the copy shares, not copies, projections.
TEST(LiveView, ViewOfTwoHundredSubjectsSharesTheProjections) {
  absl::StatusOr<SyntheticTrialPlan> plan = SyntheticTrial(42, 200);
  ASSERT_TRUE(plan.ok()) << plan.status();
  Harness h(plan->protocol);
  RunPlan(h, *plan);
  std::vector<double> us;
  TrialView view;
  for (int i = 0; i < 51; ++i) {
    const absl::Time start = absl::Now();
    view = h.sm.View();
    us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  std::sort(us.begin(), us.end());
  ASSERT_EQ(view.subjects.size(), 200u);
  std::printf("View() of %zu subjects after %zu entries: median %.1f us, max %.1f us\n",
              view.subjects.size(), h.entries().size(), us[us.size() / 2], us.back());
  const TrialView again = h.sm.View();
  for (size_t i = 0; i < view.subjects.size(); ++i) {
    EXPECT_EQ(view.subjects[i].second.get(), again.subjects[i].second.get());
  }
}

}  // namespace
}  // namespace trialog::trial::testing
