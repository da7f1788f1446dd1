// core/ledger/batch: batch roots and proofs against the published RFC 6962
// vectors (golang.org/x/mod sumdb/tlog, leaf i = the byte i), proof shape
// checks, and ChainVerifier on batch-signed entries (one Ed25519 per batch).

#include "core/ledger/batch.h"

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/ledger/admission.h"
#include "core/ledger/chain_verifier.h"
#include "core/ledger/entry.h"
#include "core/ledger/envelope_signer.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace trialog::ledger {
namespace {

nlohmann::json LoadVectors(const std::string& relative) {
  std::ifstream in(std::string(TRIALOG_VECTORS_DIR) + "/" + relative);
  EXPECT_TRUE(in.good()) << relative;
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

std::string B64(const nlohmann::json& v) {
  absl::StatusOr<std::string> s = Base64Decode(v.get<std::string>());
  EXPECT_TRUE(s.ok());
  return s.ok() ? *s : "";
}

TEST(BatchVectors, RootsAndPathsEqualTheTlogVectors) {
  const nlohmann::json v = LoadVectors("merkle/tlog-generated-bytes-1..64.json");
  std::vector<std::string> data;
  for (int i = 0; i < 64; ++i) data.push_back(std::string(1, static_cast<char>(i)));
  int roots = 0;
  for (const auto& r : v["roots"]) {
    const size_t size = r["size"].get<size_t>();
    if (size == 0) continue;
    absl::StatusOr<std::string> root =
        BatchRoot(std::vector<std::string>(data.begin(), data.begin() + static_cast<long>(size)));
    ASSERT_TRUE(root.ok());
    EXPECT_EQ(*root, B64(r["root"])) << "size " << size;
    ++roots;
  }
  EXPECT_EQ(roots, 64);
  // The batch proofs are the vectors' inclusion proofs, and carry the signature.
  crypto::SigningKey key = crypto::SigningKey::Generate();
  int paths = 0;
  for (size_t size : {1u, 2u, 3u, 7u, 8u, 13u, 64u}) {
    absl::StatusOr<v1::SignedBatch> batch = SignBatch(
        "t", std::vector<std::string>(data.begin(), data.begin() + static_cast<long>(size)), key);
    ASSERT_TRUE(batch.ok());
    absl::StatusOr<std::vector<v1::BatchProof>> proofs = BuildBatchProofs(*batch);
    ASSERT_TRUE(proofs.ok());
    for (const auto& inc : v["inclusion"]) {
      if (inc["treeSize"].get<size_t>() != size) continue;
      const size_t i = inc["leafIdx"].get<size_t>();
      const v1::BatchProof& p = (*proofs)[i];
      ASSERT_EQ(static_cast<size_t>(p.path_size()), inc["proof"].size());
      for (size_t j = 0; j < inc["proof"].size(); ++j) EXPECT_EQ(p.path(static_cast<int>(j)), B64(inc["proof"][j]));
      EXPECT_EQ(p.batch_size(), size);
      EXPECT_EQ(p.position(), i);
      EXPECT_EQ(p.signature(), batch->signature());
      ++paths;
    }
  }
  EXPECT_EQ(paths, 1 + 2 + 3 + 7 + 8 + 13 + 64);
}

TEST(BatchProofShape, MalformedProofsAreInvalidArgument) {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  absl::StatusOr<v1::SignedBatch> batch = SignBatch("t", {"a", "b", "c", "d", "e"}, key);
  ASSERT_TRUE(batch.ok());
  absl::StatusOr<std::vector<v1::BatchProof>> proofs = BuildBatchProofs(*batch);
  ASSERT_TRUE(proofs.ok());
  EXPECT_TRUE(BatchRootFromProof("c", (*proofs)[2]).ok());
  v1::BatchProof p = (*proofs)[2];
  p.set_position(5);
  EXPECT_EQ(BatchRootFromProof("c", p).status().code(), absl::StatusCode::kInvalidArgument);
  p = (*proofs)[2];
  p.add_path(std::string(32, 'x'));
  EXPECT_EQ(BatchRootFromProof("c", p).status().code(), absl::StatusCode::kInvalidArgument);
  p = (*proofs)[2];
  p.set_batch_size(0);
  EXPECT_EQ(BatchRootFromProof("c", p).status().code(), absl::StatusCode::kInvalidArgument);
  p = (*proofs)[2];
  p.set_signature("short");
  EXPECT_EQ(BatchRootFromProof("c", p).status().code(), absl::StatusCode::kInvalidArgument);
  p = (*proofs)[2];
  p.mutable_path(0)->resize(31);
  EXPECT_EQ(BatchRootFromProof("c", p).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BatchRoot({}).status().code(), absl::StatusCode::kInvalidArgument);
  // Both a signature and a proof, or neither: malformed.
  v1::SignedEnvelope se;
  se.set_envelope("c");
  EXPECT_EQ(CheckSignedEnvelopeShape(se).code(), absl::StatusCode::kInvalidArgument);
  *se.mutable_batch_proof() = (*proofs)[2];
  EXPECT_TRUE(CheckSignedEnvelopeShape(se).ok());
  se.set_signature(std::string(64, 's'));
  EXPECT_EQ(CheckSignedEnvelopeShape(se).code(), absl::StatusCode::kInvalidArgument);
}

// A small ledger built by hand: genesis, a lab registered as
// EXTERNAL_SYSTEM, then two batches of notes by the lab.
class BatchChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_actor_.set_principal_id("admin");
    admin_actor_.set_printed_name("Admin");
    admin_actor_.set_role(v1::ROLE_SPONSOR_ADMIN);
    lab_actor_.set_principal_id("lab");
    lab_actor_.set_printed_name("Lab");
    lab_actor_.set_role(v1::ROLE_EXTERNAL_SYSTEM);
    v1::Envelope g = Base("principals", admin_actor_);
    g.mutable_event()->mutable_genesis()->set_ledger_origin("test.example/t");
    v1::PrincipalRegistered* fa = g.mutable_event()->mutable_genesis()->mutable_first_admin();
    fa->set_principal_id("admin");
    fa->set_printed_name("Admin");
    fa->set_role(v1::ROLE_SPONSOR_ADMIN);
    fa->set_public_key(admin_.public_key());
    Add(SignEnvelope(g, admin_));
    v1::Envelope r = Base("principals", admin_actor_);
    v1::PrincipalRegistered* p = r.mutable_event()->mutable_principal_registered();
    p->set_principal_id("lab");
    p->set_printed_name("Lab");
    p->set_role(v1::ROLE_EXTERNAL_SYSTEM);
    p->set_public_key(lab_.public_key());
    Add(SignEnvelope(r, admin_));
  }
  v1::Envelope Base(const std::string& stream, const v1::Actor& actor) {
    v1::Envelope e;
    e.set_trial_id("t");
    e.set_stream_id(stream);
    e.set_event_id(NewEventId());
    e.mutable_observed_at()->set_unix_micros(1000);
    *e.mutable_actor() = actor;
    return e;
  }
  void Add(const v1::SignedEnvelope& se) {
    v1::Entry e;
    e.set_index(entries_.size());
    e.set_prev_leaf_hash(entries_.empty() ? ZeroHash() : merkle::HashLeaf(entries_.back()));
    e.set_recorded_at_unix_micros(2000);
    e.set_stream_version(++versions_[Stream(se)]);
    *e.mutable_signed_envelope() = se;
    entries_.push_back(SerializeEntry(e));
  }
  static std::string Stream(const v1::SignedEnvelope& se) {
    v1::Envelope e;
    e.ParseFromString(se.envelope());
    return e.stream_id();
  }
  void AddBatch(int n, const crypto::SigningKey& key) {
    std::vector<std::string> envs;
    for (int i = 0; i < n; ++i) {
      v1::Envelope e = Base("lab-notes", lab_actor_);
      e.mutable_event()->mutable_trial()->mutable_note()->set_text(absl::StrCat("n", i));
      envs.push_back(e.SerializeAsString());
    }
    absl::StatusOr<v1::SignedBatch> batch = SignBatch("t", envs, key);
    ASSERT_TRUE(batch.ok());
    absl::StatusOr<std::vector<v1::BatchProof>> proofs = BuildBatchProofs(*batch);
    ASSERT_TRUE(proofs.ok());
    for (int i = 0; i < n; ++i) {
      v1::SignedEnvelope se;
      se.set_envelope(envs[static_cast<size_t>(i)]);
      *se.mutable_batch_proof() = (*proofs)[static_cast<size_t>(i)];
      Add(se);
    }
  }
  crypto::SigningKey admin_ = crypto::SigningKey::Generate();
  crypto::SigningKey lab_ = crypto::SigningKey::Generate();
  v1::Actor admin_actor_, lab_actor_;
  std::vector<std::string> entries_;
  std::map<std::string, uint64_t> versions_;
};

TEST_F(BatchChainTest, VerifierAcceptsBatchEntriesAndNamesTheFirstBadOne) {
  AddBatch(5, lab_);
  AddBatch(3, lab_);
  ChainVerifier ok;
  for (const std::string& b : entries_) {
    absl::Status s = ok.Add(b);
    ASSERT_TRUE(s.ok()) << s;
  }
  // A batch signed by another key than the lab's: refused at its first entry.
  const size_t first_bad = entries_.size();
  AddBatch(4, admin_);
  ChainVerifier bad;
  absl::Status s;
  size_t at = 0;
  for (; at < entries_.size(); ++at) {
    s = bad.Add(entries_[at]);
    if (!s.ok()) break;
  }
  EXPECT_EQ(at, first_bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
}

TEST_F(BatchChainTest, BatchSignedByAPersonIsRefused) {
  // The admin signs a batch of notes as itself: not EXTERNAL_SYSTEM.
  std::vector<std::string> envs;
  v1::Envelope e = Base("notes", admin_actor_);
  e.mutable_event()->mutable_trial()->mutable_note()->set_text("x");
  envs.push_back(e.SerializeAsString());
  absl::StatusOr<v1::SignedBatch> batch = SignBatch("t", envs, admin_);
  ASSERT_TRUE(batch.ok());
  absl::StatusOr<std::vector<v1::BatchProof>> proofs = BuildBatchProofs(*batch);
  ASSERT_TRUE(proofs.ok());
  v1::SignedEnvelope se;
  se.set_envelope(envs[0]);
  *se.mutable_batch_proof() = (*proofs)[0];
  Add(se);
  ChainVerifier v;
  absl::Status s;
  for (const std::string& b : entries_) s = v.Add(b);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  // And admission refuses it too.
  PrincipalRegistry registry;
  ChainVerifier replay;
  for (size_t i = 0; i + 1 < entries_.size(); ++i) ASSERT_TRUE(replay.Add(entries_[i]).ok());
  absl::StatusOr<AdmittedBatch> a = PrepareBatchAdmission("t", *batch, replay.registry());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kPermissionDenied) << a.status();
}

}  // namespace
}  // namespace trialog::ledger
