// Crash survival: trialogd under append load from several client threads is
// killed with SIGKILL at random moments and restarted on the same data
// directory. After every restart the test checks that
//   * every acknowledged (client-verified) receipt's entry is present with
//     the same index and leaf hash;
//   * the whole ledger re-verifies offline (hash chain, signatures, registry)
//     and its Merkle root and size equal the latest signed checkpoint's, which
//     is consistent with the last checkpoint trusted before the kill;
//   * indices are dense (no duplicate, no skipped index) and event ids unique;
//   * resending every unacknowledged append with its original signed bytes
//     succeeds exactly once: duplicate=true with the stored index for the
//     ones that had landed, a new entry for the others, and a second resend
//     is always duplicate=true with the same index.
//
// Cycles: 5 by default (CI); set TRIALOG_CRASH_CYCLES=50 (or more) for the
// benchmark run described in docs/RELIABILITY.md.

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "core/ledger/chain_verifier.h"
#include "core/ledger/entry.h"
#include "core/ledger/receipt.h"
#include "core/note/keys.h"
#include "gtest/gtest.h"
#include "tests/server/test_support.h"

namespace trialog::testing {
namespace {

constexpr char kLedgerName[] = "trialog.crash";
constexpr int kThreads = 4;

int Cycles() {
  int n = 5;
  const char* env = std::getenv("TRIALOG_CRASH_CYCLES");
  if (env != nullptr && !absl::SimpleAtoi(env, &n)) n = 5;
  return n < 1 ? 1 : n;
}

// What a client thread learned about one append.
struct Acked {
  uint64_t index = 0;
  std::string leaf_hash;
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<LedgerKey> key = MakeLedgerKey(dir_, kLedgerName);
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
  }

  std::string Origin() const { return absl::StrCat(kLedgerName, "/", trial_); }
  std::string VerifierKey() const { return note::FormatVerifierKey(Origin(), key_.public_key); }

  void StartServer() {
    absl::StatusOr<std::unique_ptr<Trialogd>> d = Trialogd::Start(
        dir_, PlainTrialogdArgs(dir_, key_,
                                {"--metrics_listen=127.0.0.1:0",
                                 // Snapshots every few dozen entries, so kills land between
                                 // snapshots and restarts replay a tail after one.
                                 "--snapshot_every_entries=40", "--snapshot_interval_seconds=1"}));
    ASSERT_TRUE(d.ok()) << d.status();
    server_ = *std::move(d);
  }

  std::unique_ptr<client::LedgerClient> NewClient(int max_attempts) {
    client::ChannelOptions co;
    co.target = server_->target();
    co.plaintext = true;
    co.connections = 2;
    auto channels = client::MakeChannels(co);
    EXPECT_TRUE(channels.ok()) << channels.status();
    client::ClientOptions opts;
    opts.deadline = absl::Seconds(5);
    opts.max_attempts = max_attempts;
    auto c = client::LedgerClient::Create(*channels, trial_, VerifierKey(), opts);
    EXPECT_TRUE(c.ok()) << c.status();
    return *std::move(c);
  }

  // Reads every entry with a raw stub; fails on a non-dense index.
  std::vector<std::string> ReadAll() {
    auto stub = PlainStub(server_->target());
    grpc::ClientContext ctx;
    v1::ReadRequest req;
    req.set_trial_id(trial_);
    auto reader = stub->Read(&ctx, req);
    std::vector<std::string> out;
    v1::ReadResponse resp;
    while (reader->Read(&resp)) {
      EXPECT_EQ(resp.index(), out.size()) << "duplicate or skipped index";
      out.push_back(resp.entry());
    }
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  // Checks the restarted server's ledger against everything acknowledged.
  // Returns event id -> index of the stored entries.
  std::map<std::string, uint64_t> CheckLedger(int cycle) {
    std::map<std::string, uint64_t> stored;
    std::vector<std::string> entries = ReadAll();
    ledger::ChainVerifier verifier;
    for (const std::string& e : entries) {
      absl::Status s = verifier.Add(e);
      EXPECT_TRUE(s.ok()) << "cycle " << cycle << ": " << s;
      if (!s.ok()) return stored;
      absl::StatusOr<ledger::ParsedEntry> p = ledger::ParseEntry(e);
      EXPECT_TRUE(p.ok());
      if (!p.ok()) return stored;
      EXPECT_TRUE(stored.emplace(p->envelope.event_id(), p->entry.index()).second)
          << "event id stored twice";
    }
    // The checkpoint the restarted server signs covers exactly what is stored.
    auto stub = PlainStub(server_->target());
    grpc::ClientContext ctx;
    v1::GetCheckpointRequest req;
    req.set_trial_id(trial_);
    v1::GetCheckpointResponse resp;
    grpc::Status gs = stub->GetCheckpoint(&ctx, req, &resp);
    EXPECT_TRUE(gs.ok()) << gs.error_message();
    absl::StatusOr<note::Verifier> v = note::ParseVerifierKey(VerifierKey());
    EXPECT_TRUE(v.ok()) << v.status();
    if (!v.ok()) return stored;
    absl::StatusOr<note::Checkpoint> cp = ledger::OpenLedgerCheckpoint(resp.checkpoint(), *v);
    EXPECT_TRUE(cp.ok()) << cp.status();
    if (cp.ok()) {
      EXPECT_EQ(cp->size, verifier.size()) << "cycle " << cycle;
      EXPECT_EQ(cp->root_hash, verifier.root()) << "cycle " << cycle;
    }
    // Consistent with what clients trusted before the kill (no rewrite).
    if (!trusted_note_.empty()) {
      auto c = NewClient(1);
      absl::Status ts = c->TrustCheckpoint(trusted_note_);
      EXPECT_TRUE(ts.ok()) << ts;
      absl::StatusOr<note::Checkpoint> now = c->RefreshCheckpoint();
      EXPECT_TRUE(now.ok()) << "cycle " << cycle << ": " << now.status();
    }
    // Nothing acknowledged was lost or moved.
    for (const auto& [event_id, ack] : acked_) {
      auto it = stored.find(event_id);
      EXPECT_NE(it, stored.end()) << "cycle " << cycle << ": acknowledged entry " << ack.index
                                  << " lost";
      if (it == stored.end()) continue;
      EXPECT_EQ(it->second, ack.index);
      absl::StatusOr<ledger::ParsedEntry> p = ledger::ParseEntry(entries[it->second]);
      EXPECT_TRUE(p.ok()) << p.status();
      if (p.ok()) {
        EXPECT_EQ(p->leaf_hash, ack.leaf_hash) << "entry " << ack.index << " changed";
      }
    }
    return stored;
  }

  // Resends every unacknowledged envelope (original bytes) twice.
  void RetryUnacked(const std::map<std::string, uint64_t>& stored, int cycle) {
    auto c = NewClient(4);
    for (const v1::SignedEnvelope& se : unacked_) {
      absl::StatusOr<v1::Envelope> env = ledger::ParseEnvelope(se.envelope());
      ASSERT_TRUE(env.ok()) << env.status();
      const std::string& id = env->event_id();
      absl::StatusOr<client::VerifiedAppend> first = c->Append(se);
      ASSERT_TRUE(first.ok()) << "cycle " << cycle << ": " << first.status();
      auto it = stored.find(id);
      if (it != stored.end()) {
        ++landed_unacked_;
        EXPECT_TRUE(first->duplicate);
        EXPECT_EQ(first->index, it->second);
      } else {
        ++lost_unacked_;
        EXPECT_FALSE(first->duplicate);
      }
      absl::StatusOr<client::VerifiedAppend> second = c->Append(se);
      ASSERT_TRUE(second.ok()) << second.status();
      EXPECT_TRUE(second->duplicate);
      EXPECT_EQ(second->index, first->index);
      EXPECT_EQ(second->leaf_hash, first->leaf_hash);
      acked_[id] = Acked{first->index, first->leaf_hash};
      if (first->checkpoint.size > trusted_size_) {
        trusted_size_ = first->checkpoint.size;
        trusted_note_ = first->receipt.checkpoint();
      }
    }
    unacked_.clear();
  }

  TempDir dir_;
  LedgerKey key_;
  std::unique_ptr<Trialogd> server_;
  std::string trial_ = "crash-trial";
  std::map<std::string, Acked> acked_;        // event id -> receipt
  std::vector<v1::SignedEnvelope> unacked_;    // sent, no verified receipt
  std::string trusted_note_;  // the largest checkpoint a receipt carried
  uint64_t trusted_size_ = 0;
  int landed_unacked_ = 0, lost_unacked_ = 0;
};

TEST_F(CrashTest, SigkillUnderLoadLosesNothingAcknowledged) {
  const int cycles = Cycles();
  Principal admin = MakePrincipal("admin-1", v1::ROLE_SPONSOR_ADMIN);
  ASSERT_NO_FATAL_FAILURE(StartServer());
  {
    auto c = NewClient(4);
    absl::StatusOr<client::VerifiedAppend> g = c->Append(Genesis(trial_, Origin(), admin));
    ASSERT_TRUE(g.ok()) << g.status();
  }
  absl::BitGen rng;
  int total_kills = 0;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    std::atomic<bool> stop{false};
    absl::Mutex mu;
    std::vector<std::thread> threads;
    std::unique_ptr<client::LedgerClient> c = NewClient(1);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        int n = 0;
        while (!stop.load()) {
          v1::SignedEnvelope se = Note(trial_, admin, absl::StrCat("stream/", t),
                                       absl::StrCat("cycle ", cycle, " thread ", t, " n ", n++));
          absl::StatusOr<client::VerifiedAppend> r = c->Append(se);
          absl::MutexLock l(&mu);
          if (r.ok()) {
            acked_[r->entry.envelope.event_id()] = Acked{r->index, r->leaf_hash};
            if (r->checkpoint.size > trusted_size_) {
              trusted_size_ = r->checkpoint.size;
              trusted_note_ = r->receipt.checkpoint();
            }
          } else {
            unacked_.push_back(se);
            if (r.status().code() != absl::StatusCode::kUnavailable &&
                r.status().code() != absl::StatusCode::kDeadlineExceeded) {
              ADD_FAILURE() << "unexpected append failure: " << r.status();
            }
            absl::SleepFor(absl::Milliseconds(5));
          }
        }
      });
    }
    absl::SleepFor(absl::Milliseconds(absl::Uniform(rng, 50, 400)));
    EXPECT_EQ(server_->Stop(SIGKILL), 128 + SIGKILL);
    ++total_kills;
    stop = true;
    for (std::thread& th : threads) th.join();
    c.reset();
    ASSERT_NO_FATAL_FAILURE(StartServer());
    std::map<std::string, uint64_t> stored = CheckLedger(cycle);
    if (HasFailure()) break;
    RetryUnacked(stored, cycle);
    if (HasFailure()) break;
  }
  // Final state verifies once more.
  CheckLedger(cycles);
  std::printf("crash_test: %d SIGKILL cycles survived, %zu acknowledged appends, "
              "%d unacknowledged that had landed (duplicate on retry), %d that had not\n",
              total_kills, acked_.size(), landed_unacked_, lost_unacked_);
  EXPECT_GE(total_kills, cycles);
  EXPECT_GT(acked_.size(), static_cast<size_t>(cycles));
  server_->Stop(SIGTERM);
}

}  // namespace
}  // namespace trialog::testing
