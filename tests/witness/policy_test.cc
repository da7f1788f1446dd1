// witness/policy: "the ledger key plus at least K of these N witnesses".

#include "witness/policy.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/note/checkpoint.h"
#include "core/note/cosignature.h"
#include "core/note/note.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/witness/test_ledger.h"

namespace trialog::witness {
namespace {

using ::testing::HasSubstr;
using testing::TestLedger;

struct TestWitness {
  std::string name;
  crypto::SigningKey key = crypto::SigningKey::Generate();
  std::string vkey() const { return note::FormatCosignerKey(name, key.public_key()); }
};

class PolicyTest : public ::testing::Test {
 protected:
  PolicyTest() : ledger_(note::NoteSigner("trialog.example/imt-01", crypto::SigningKey::Generate())) {
    ledger_.Append(12);
    for (int i = 0; i < 4; ++i) witnesses_.push_back({absl::StrCat("w", i, ".example")});
  }

  // The ledger's checkpoint with cosignatures by witnesses `who`.
  std::string Cosigned(const std::vector<int>& who) {
    std::string note = ledger_.Checkpoint();
    const std::string text = ledger_.CheckpointText();
    for (int i : who) {
      absl::StatusOr<std::string> line =
          note::CosignCheckpoint(text, witnesses_[i].name, witnesses_[i].key, 1700000000 + i);
      EXPECT_TRUE(line.ok());
      note += *line;
    }
    return note;
  }

  WitnessPolicy Policy(size_t quorum, int n = 3) {
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) keys.push_back(witnesses_[i].vkey());
    absl::StatusOr<WitnessPolicy> p = MakeWitnessPolicy(keys, quorum);
    EXPECT_TRUE(p.ok()) << p.status();
    return *p;
  }

  TestLedger ledger_;
  std::vector<TestWitness> witnesses_;
};

TEST_F(PolicyTest, CountsValidCosignaturesAgainstTheQuorum) {
  const WitnessPolicy two_of_three = Policy(2);
  const note::Verifier key = ledger_.signer().verifier();
  for (const auto& [who, ok] : std::vector<std::pair<std::vector<int>, bool>>{
           {{}, false}, {{1}, false}, {{0, 2}, true}, {{2, 1, 0}, true}, {{1, 3}, false}}) {
    absl::StatusOr<CosignedCheckpoint> r = OpenCosignedCheckpoint(Cosigned(who), key, two_of_three);
    EXPECT_EQ(r.ok(), ok) << who.size() << " " << r.status();
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_THAT(std::string(r.status().message()), HasSubstr("the policy needs 2"));
    } else {
      EXPECT_EQ(r->checkpoint.size, 12u);
      EXPECT_EQ(r->cosignatures.size(), who.size());
    }
  }
  // w3 is not in the policy: its cosignature is ignored, not counted.
  absl::StatusOr<CosignedCheckpoint> r = OpenCosignedCheckpoint(Cosigned({1, 3}), key, Policy(2));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("cosigned by 1 of 3 policy witnesses (w1.example)"));
  // Quorum 0: the ledger key alone.
  EXPECT_TRUE(OpenCosignedCheckpoint(Cosigned({}), key, Policy(0)).ok());
}

TEST_F(PolicyTest, ForgedCosignaturesAndWrongLedgerKeysAreUnauthenticated) {
  const note::Verifier key = ledger_.signer().verifier();
  // A cosignature line by w0 moved from another checkpoint of the ledger.
  const std::string size12 = Cosigned({0, 1});
  ledger_.Append(1);
  std::string moved = ledger_.Checkpoint() + size12.substr(size12.find("\xE2\x80\x94 w0"));
  absl::StatusOr<CosignedCheckpoint> r = OpenCosignedCheckpoint(moved, key, Policy(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << r.status();
  // Another ledger key: the checkpoint itself is refused.
  note::NoteSigner other("trialog.example/imt-01", crypto::SigningKey::Generate());
  r = OpenCosignedCheckpoint(Cosigned({0, 1}), other.verifier(), Policy(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << r.status();
}

TEST_F(PolicyTest, RefusesBadPolicies) {
  EXPECT_THAT(std::string(MakeWitnessPolicy({witnesses_[0].vkey()}, 2).status().message()),
              HasSubstr("larger than the 1 witnesses"));
  EXPECT_THAT(std::string(MakeWitnessPolicy({witnesses_[0].vkey(), witnesses_[0].vkey()}, 1)
                              .status()
                              .message()),
              HasSubstr("listed twice"));
  // A note verifier key (type 0x01) is not a cosigner key (type 0x04).
  absl::StatusOr<WitnessPolicy> p = MakeWitnessPolicy(
      {note::FormatVerifierKey(witnesses_[0].name, witnesses_[0].key.public_key())}, 1);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("is not a cosigner key"));
}

TEST_F(PolicyTest, CosignatureLinesByPicksOneWitnessesLines) {
  const std::string note = Cosigned({0, 1, 2});
  const WitnessPolicy p = Policy(1);
  std::vector<std::string> lines = CosignatureLinesBy(note, p.witnesses[1]);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].substr(0, 15), "\xE2\x80\x94 w1.example ");
  EXPECT_TRUE(CosignatureLinesBy(note, {"w9.example", 1, std::string(32, 'k')}).empty());
  // The picked line alone satisfies a 1-of-1 policy for w1.
  WitnessPolicy only_w1{{p.witnesses[1]}, 1};
  EXPECT_TRUE(OpenCosignedCheckpoint(ledger_.Checkpoint() + lines[0],
                                     ledger_.signer().verifier(), only_w1)
                  .ok());
}

}  // namespace
}  // namespace trialog::witness
