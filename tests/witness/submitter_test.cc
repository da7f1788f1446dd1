// witness/submitter: a ledger's checkpoints submitted in the background to
// three witnesses (tools/witness behind real HTTP on loopback), quorum
// policies, a dead or hanging witness, restarts, and a fork alarm.

#include "witness/submitter.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/crypto/crypto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/witness/local_witness.h"
#include "tests/witness/test_ledger.h"
#include "tests/witness/test_util.h"
#include "witness/policy.h"

namespace trialog::witness {
namespace {

using ::testing::HasSubstr;
using testing::LocalWitness;
using testing::ScratchDir;
using testing::TestLedger;

constexpr char kLedgerName[] = "trialog.example/imt-crizotinib-01";

class SubmitterTest : public ::testing::Test {
 protected:
  SubmitterTest() : ledger_(note::NoteSigner(kLedgerName, crypto::SigningKey::Generate())) {
    for (int i = 0; i < 3; ++i) {
      witnesses_.push_back(std::make_unique<LocalWitness>(absl::StrCat("w", i, ".example"),
                                                          dir_ / absl::StrCat("w", i),
                                                          ledger_.signer().verifier()));
    }
  }
  void SetUp() override {
    for (auto& w : witnesses_) ASSERT_NO_FATAL_FAILURE(w->Start());
  }

  SubmitterOptions Options(size_t quorum) {
    SubmitterOptions o;
    o.ledger_key = ledger_.signer().verifier();
    for (auto& w : witnesses_) o.witnesses.push_back(w->endpoint());
    o.quorum = quorum;
    o.prove = [this](uint64_t old_size, uint64_t new_size)
        -> absl::StatusOr<std::vector<std::string>> {
      absl::MutexLock lock(&ledger_mu_);
      if (new_size != ledger_.size()) {
        // The test ledger proves only to its current size; a witness round
        // on an older checkpoint asks for a proof to that size.
        TestLedger at = history_.at(new_size);
        return at.Proof(old_size);
      }
      return ledger_.Proof(old_size);
    };
    o.retry_min = absl::Milliseconds(50);
    o.retry_max = absl::Milliseconds(200);
    o.min_interval = absl::Milliseconds(20);
    o.request_timeout = absl::Seconds(2);
    o.log = [this](absl::string_view line) {
      absl::MutexLock lock(&log_mu_);
      log_.emplace_back(line);
    };
    return o;
  }

  // Grows the ledger by `n` and offers its new checkpoint.
  void Grow(CheckpointSubmitter& s, uint64_t n) {
    std::string note;
    {
      absl::MutexLock lock(&ledger_mu_);
      ledger_.Append(n);
      history_.emplace(ledger_.size(), ledger_);
      note = ledger_.Checkpoint();
    }
    const absl::Time start = absl::Now();
    ASSERT_TRUE(s.Offer(note).ok());
    offer_time_ = std::max(offer_time_, absl::Now() - start);
  }

  WitnessPolicy Policy(size_t quorum) {
    WitnessPolicy p;
    for (auto& w : witnesses_) p.witnesses.push_back(w->cosigner());
    p.quorum = quorum;
    return p;
  }

  bool Logged(const std::string& what) {
    absl::MutexLock lock(&log_mu_);
    for (const std::string& l : log_) {
      if (l.find(what) != std::string::npos) return true;
    }
    return false;
  }

  ScratchDir dir_;
  absl::Mutex ledger_mu_;
  TestLedger ledger_;
  std::map<uint64_t, TestLedger> history_;
  std::vector<std::unique_ptr<LocalWitness>> witnesses_;
  absl::Duration offer_time_ = absl::ZeroDuration();
  absl::Mutex log_mu_;
  std::vector<std::string> log_;
};

TEST_F(SubmitterTest, CosignsAGrowingLedgerInTheBackground) {
  auto s = CheckpointSubmitter::Start(Options(3));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->LatestCosigned().status().code(), absl::StatusCode::kNotFound);
  for (int i = 0; i < 100; ++i) Grow(**s, 1 + i % 7);
  const uint64_t final_size = ledger_.size();
  ASSERT_TRUE((*s)->WaitForCosigned(final_size, absl::Seconds(20)));
  absl::StatusOr<std::string> note = (*s)->LatestCosigned();
  ASSERT_TRUE(note.ok());
  absl::StatusOr<CosignedCheckpoint> opened =
      OpenCosignedCheckpoint(*note, ledger_.signer().verifier(), Policy(3));
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->checkpoint.size, final_size);
  EXPECT_EQ(opened->cosignatures.size(), 3u);
  // Offers never waited on the network (the bound is loose: the test VM's
  // two cores are shared; waiting for witnesses would take round trips).
  EXPECT_LT(offer_time_, absl::Seconds(1));
  for (const auto& st : (*s)->witness_states()) {
    EXPECT_TRUE(st.size_known);
    EXPECT_EQ(st.size, final_size);
    EXPECT_GE(st.cosignatures, 1u);
    EXPECT_EQ(st.failures, 0u) << st.last_error;
  }
}

TEST_F(SubmitterTest, ADeadWitnessBlocksOnlyAQuorumThatNeedsIt) {
  const int dead_port = witnesses_[2]->port();
  witnesses_[2]->Stop();
  auto two = CheckpointSubmitter::Start(Options(2));
  auto three = CheckpointSubmitter::Start(Options(3));
  ASSERT_TRUE(two.ok() && three.ok());
  Grow(**two, 5);
  ASSERT_TRUE((*three)->Offer(ledger_.Checkpoint()).ok());
  EXPECT_TRUE((*two)->WaitForCosigned(5, absl::Seconds(10)));
  EXPECT_TRUE(OpenCosignedCheckpoint(*(*two)->LatestCosigned(), ledger_.signer().verifier(),
                                     Policy(2))
                  .ok());
  EXPECT_FALSE((*three)->WaitForCosigned(5, absl::Milliseconds(700)));
  const auto states = (*three)->witness_states();
  EXPECT_GE(states[2].failures, 1u);
  EXPECT_THAT(states[2].last_error, HasSubstr("cannot reach witness"));
  EXPECT_TRUE(Logged("did not cosign size 5"));
  // The witness comes back (same directory and port): retried, the 3-of-3
  // quorum forms.
  ASSERT_NO_FATAL_FAILURE(witnesses_[2]->Start(dead_port));
  EXPECT_TRUE((*three)->WaitForCosigned(5, absl::Seconds(10)));
}

TEST_F(SubmitterTest, AHangingWitnessDelaysNothing) {
  // A socket that listens but never answers: requests to it hang until the
  // submitter's timeout.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  SubmitterOptions o = Options(2);
  o.witnesses[2].url = absl::StrCat("http://127.0.0.1:", ntohs(addr.sin_port));
  o.request_timeout = absl::Seconds(30);
  auto s = CheckpointSubmitter::Start(std::move(o));
  ASSERT_TRUE(s.ok());
  for (uint64_t n : {3u, 4u, 5u}) {
    Grow(**s, n);
    const absl::Time start = absl::Now();
    EXPECT_TRUE((*s)->WaitForCosigned(ledger_.size(), absl::Seconds(5)));
    EXPECT_LT(absl::Now() - start, absl::Seconds(3)) << "waited for the hanging witness";
  }
  EXPECT_LT(offer_time_, absl::Seconds(1));  // vs 30 s if it waited for the hanging one
  const absl::Time stopping = absl::Now();
  s->reset();  // cancels the hanging request instead of waiting 30 s
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(3));
  close(fd);
}

TEST_F(SubmitterTest, ANewSubmitterLearnsEachWitnessSize) {
  {
    auto first = CheckpointSubmitter::Start(Options(3));
    ASSERT_TRUE(first.ok());
    Grow(**first, 20);
    ASSERT_TRUE((*first)->WaitForCosigned(20, absl::Seconds(10)));
  }
  // A restarted ledger server: its submitter knows nothing yet.
  auto second = CheckpointSubmitter::Start(Options(3));
  ASSERT_TRUE(second.ok());
  Grow(**second, 7);
  ASSERT_TRUE((*second)->WaitForCosigned(27, absl::Seconds(10)));
  for (const auto& st : (*second)->witness_states()) {
    EXPECT_EQ(st.size, 27u);
    EXPECT_EQ(st.failures, 0u) << st.last_error;  // a 409 then a proof: not a failure
  }
}

TEST_F(SubmitterTest, AForkIsNeverCosignedAndRaisesTheAlarm) {
  TestLedger fork = ledger_;
  {
    auto honest = CheckpointSubmitter::Start(Options(3));
    ASSERT_TRUE(honest.ok());
    Grow(**honest, 10);
    ASSERT_TRUE((*honest)->WaitForCosigned(10, absl::Seconds(10)));
  }
  // The same key signs a different history of the same size, then longer.
  fork.Append(10, "rewritten");
  SubmitterOptions o = Options(1);
  o.prove = [&fork](uint64_t old_size, uint64_t) -> absl::StatusOr<std::vector<std::string>> {
    return fork.Proof(old_size);
  };
  auto forked = CheckpointSubmitter::Start(std::move(o));
  ASSERT_TRUE(forked.ok());
  ASSERT_TRUE((*forked)->Offer(fork.Checkpoint()).ok());
  EXPECT_FALSE((*forked)->WaitForCosigned(10, absl::Seconds(1)));
  fork.Append(5, "rewritten");
  ASSERT_TRUE((*forked)->Offer(fork.Checkpoint()).ok());
  EXPECT_FALSE((*forked)->WaitForCosigned(15, absl::Seconds(1)));
  EXPECT_TRUE(Logged("FORK?"));
  for (const auto& st : (*forked)->witness_states()) {
    EXPECT_EQ(st.cosignatures, 0u);
    EXPECT_GE(st.failures, 1u);
  }
}

TEST_F(SubmitterTest, RefusesBadOptionsAndForeignCheckpoints) {
  SubmitterOptions o = Options(4);
  EXPECT_EQ(CheckpointSubmitter::Start(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = Options(0);
  EXPECT_EQ(CheckpointSubmitter::Start(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = Options(1);
  o.witnesses.push_back(o.witnesses[0]);
  EXPECT_THAT(std::string(CheckpointSubmitter::Start(o).status().message()),
              HasSubstr("listed twice"));
  o = Options(1);
  o.prove = nullptr;
  EXPECT_EQ(CheckpointSubmitter::Start(o).status().code(), absl::StatusCode::kInvalidArgument);
  auto s = CheckpointSubmitter::Start(Options(1));
  ASSERT_TRUE(s.ok());
  TestLedger other(note::NoteSigner(kLedgerName, crypto::SigningKey::Generate()));
  other.Append(1);
  EXPECT_EQ((*s)->Offer(other.Checkpoint()).code(), absl::StatusCode::kUnauthenticated);
}

TEST(WitnessEndpointTest, Parses) {
  const crypto::SigningKey key = crypto::SigningKey::Generate();
  const std::string vkey = note::FormatCosignerKey("w1.example", key.public_key());
  absl::StatusOr<WitnessEndpoint> e = ParseWitnessEndpoint(vkey + "@http://127.0.0.1:7380");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->url, "http://127.0.0.1:7380");
  EXPECT_EQ(e->key.public_key, key.public_key());
  EXPECT_FALSE(ParseWitnessEndpoint(vkey).ok());
  EXPECT_FALSE(ParseWitnessEndpoint(vkey + "@ftp://x").ok());
  EXPECT_FALSE(ParseWitnessEndpoint("w1+00000000+AAAA@http://x").ok());
}

}  // namespace
}  // namespace trialog::witness
