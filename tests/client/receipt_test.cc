// Receipt verification (core/ledger/receipt) against independent data:
// ledger-shaped C2SP checkpoints signed by Go's sumdb/note over the CT
// known-answer tree, the CT C++ known-answer proofs of that tree, and the
// transparency-dev/merkle verifier probes.

#include "core/ledger/receipt.h"

#include <filesystem>
#include <fstream>

#include "core/ledger/envelope_signer.h"
#include "core/merkle/merkle.h"
#include "core/note/checkpoint.h"
#include "core/note/keys.h"
#include "core/util/bytes.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace trialog::ledger {
namespace {

nlohmann::json Load(const std::string& relative) {
  std::ifstream in(std::string(TRIALOG_VECTORS_DIR) + "/" + relative);
  EXPECT_TRUE(in.good()) << relative;
  return nlohmann::json::parse(in);
}

std::string Hex(const nlohmann::json& j) { return *HexDecode(j.get<std::string>()); }
std::string B64(const nlohmann::json& j) {
  absl::StatusOr<std::string> s = Base64Decode(j.get<std::string>());
  return s.ok() ? *s : std::string("not base64");
}

const nlohmann::json& Generated(const nlohmann::json& doc, const std::string& id) {
  for (const auto& g : doc["generated"]) {
    if (g["id"] == id) return g;
  }
  ADD_FAILURE() << "no vector " << id;
  static nlohmann::json empty;
  return empty;
}

note::Verifier LedgerKey(const nlohmann::json& g) {
  absl::StatusOr<note::Verifier> v = note::ParseVerifierKey(g["verifierKeys"][0].get<std::string>());
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

TEST(ReceiptTest, LedgerCheckpointVectorsOpenAsExpected) {
  nlohmann::json doc = Load("note/note-vectors.json");
  int verified = 0, rejected = 0;
  for (const auto& g : doc["generated"]) {
    absl::StatusOr<note::Checkpoint> cp =
        OpenLedgerCheckpoint(g["signedNote"].get<std::string>(), LedgerKey(g));
    if (g["expect"] == "verify") {
      ASSERT_TRUE(cp.ok()) << g["id"] << ": " << cp.status();
      if (g.contains("treeSize")) {
        EXPECT_EQ(cp->size, g["treeSize"].get<uint64_t>()) << g["id"];
      }
      if (g.contains("rootHashHex")) {
        EXPECT_EQ(cp->root_hash, Hex(g["rootHashHex"])) << g["id"];
      }
      ++verified;
    } else {
      EXPECT_FALSE(cp.ok()) << g["id"];
      ++rejected;
    }
  }
  EXPECT_EQ(verified, 6);
  EXPECT_EQ(rejected, 12);
}

TEST(ReceiptTest, KatInclusionProofsVerifyUnderSignedKatCheckpoints) {
  nlohmann::json notes = Load("note/note-vectors.json");
  // Every inclusion proof of the KAT tree, as Go's sumdb/tlog generates them.
  nlohmann::json kat = Load("merkle/tlog-generated-ctkat-1..8.json");
  int checked = 0;
  for (const std::string id : {"ledger-checkpoint-size8", "ledger-checkpoint-size6"}) {
    const nlohmann::json& g = Generated(notes, id);
    absl::StatusOr<note::Checkpoint> cp =
        OpenLedgerCheckpoint(g["signedNote"].get<std::string>(), LedgerKey(g));
    ASSERT_TRUE(cp.ok()) << cp.status();
    for (const auto& v : kat["inclusion"]) {
      if (v["treeSize"].get<uint64_t>() != cp->size) continue;
      const uint64_t index = v["leafIdx"].get<uint64_t>();
      const std::string leaf = merkle::HashLeaf(Hex(kat["leaves"][index]["dataHex"]));
      v1::InclusionProof proof;
      proof.set_index(index);
      proof.set_tree_size(cp->size);
      for (const auto& h : v["proof"]) proof.add_hashes(B64(h));
      EXPECT_TRUE(VerifyInclusionInCheckpoint(leaf, proof, *cp).ok()) << id << " leaf " << index;
      ++checked;
      // Mutations must fail.
      v1::InclusionProof wrong_index = proof;
      wrong_index.set_index(index ^ 1);
      EXPECT_FALSE(VerifyInclusionInCheckpoint(leaf, wrong_index, *cp).ok());
      v1::InclusionProof wrong_size = proof;
      wrong_size.set_tree_size(cp->size + 1);
      EXPECT_EQ(VerifyInclusionInCheckpoint(leaf, wrong_size, *cp).code(),
                absl::StatusCode::kDataLoss);
      if (proof.hashes_size() > 0) {
        v1::InclusionProof flipped = proof;
        flipped.mutable_hashes(0)->at(5) ^= 0x20;
        EXPECT_EQ(VerifyInclusionInCheckpoint(leaf, flipped, *cp).code(),
                  absl::StatusCode::kDataLoss);
      }
      EXPECT_FALSE(VerifyInclusionInCheckpoint(merkle::HashLeaf("WrongLeaf"), proof, *cp).ok());
    }
  }
  EXPECT_EQ(checked, 8 + 6);
}

TEST(ReceiptTest, KatConsistencyBetweenSignedKatCheckpoints) {
  nlohmann::json notes = Load("note/note-vectors.json");
  nlohmann::json kat = Load("merkle/ct-cpp-merkle-kat.json");
  auto open = [&](const std::string& id) {
    const nlohmann::json& g = Generated(notes, id);
    absl::StatusOr<note::Checkpoint> cp =
        OpenLedgerCheckpoint(g["signedNote"].get<std::string>(), LedgerKey(g));
    EXPECT_TRUE(cp.ok()) << cp.status();
    return *cp;
  };
  note::Checkpoint six = open("ledger-checkpoint-size6");
  note::Checkpoint eight = open("ledger-checkpoint-size8");
  v1::ConsistencyProof proof;
  bool found = false;
  for (const auto& v : kat["consistencyProofs"]["vectors"]) {
    if (v["size1"] == 6 && v["size2"] == 8) {
      for (const auto& h : v["proof"]) proof.add_hashes(Hex(h));
      found = true;
    }
  }
  ASSERT_TRUE(found);
  proof.set_old_size(6);
  proof.set_new_size(8);
  EXPECT_TRUE(VerifyCheckpointConsistency(six, eight, proof).ok());
  EXPECT_TRUE(VerifyCheckpointConsistency(eight, eight, v1::ConsistencyProof()).ok());
  EXPECT_EQ(VerifyCheckpointConsistency(eight, six, proof).code(),
            absl::StatusCode::kInvalidArgument);
  v1::ConsistencyProof flipped = proof;
  flipped.mutable_hashes(0)->at(0) ^= 1;
  EXPECT_EQ(VerifyCheckpointConsistency(six, eight, flipped).code(), absl::StatusCode::kDataLoss);
  note::Checkpoint forked = eight;
  forked.root_hash[0] ^= 1;
  EXPECT_EQ(VerifyCheckpointConsistency(eight, forked, v1::ConsistencyProof()).code(),
            absl::StatusCode::kDataLoss);
  note::Checkpoint other_origin = eight;
  other_origin.origin = "elsewhere";
  EXPECT_FALSE(VerifyCheckpointConsistency(six, other_origin, proof).ok());
}

// transparency-dev/merkle verifier probes, run through the checkpoint-level API.
TEST(ReceiptTest, TransparencyDevProbes) {
  const std::string base =
      std::string(TRIALOG_VECTORS_DIR) + "/merkle/transparency-dev-merkle-testdata";
  int inclusion = 0, consistency = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(base + "/inclusion")) {
    if (f.path().extension() != ".json") continue;
    std::ifstream in(f.path());
    nlohmann::json v = nlohmann::json::parse(in);
    note::Checkpoint cp;
    cp.origin = "o";
    cp.size = v["treeSize"].get<uint64_t>();
    cp.root_hash = v["root"].is_null() ? "" : B64(v["root"]);
    v1::InclusionProof proof;
    proof.set_index(v["leafIdx"].get<uint64_t>());
    proof.set_tree_size(cp.size);
    if (v["proof"].is_array()) {
      for (const auto& h : v["proof"]) proof.add_hashes(B64(h));
    }
    const std::string leaf = v["leafHash"].is_null() ? "" : B64(v["leafHash"]);
    absl::Status s = VerifyInclusionInCheckpoint(leaf, proof, cp);
    EXPECT_EQ(s.ok(), !v["wantErr"].get<bool>()) << f.path() << ": " << s;
    ++inclusion;
  }
  for (const auto& f : std::filesystem::recursive_directory_iterator(base + "/consistency")) {
    if (f.path().extension() != ".json") continue;
    std::ifstream in(f.path());
    nlohmann::json v = nlohmann::json::parse(in);
    note::Checkpoint a, b;
    a.origin = b.origin = "o";
    a.size = v["size1"].get<uint64_t>();
    b.size = v["size2"].get<uint64_t>();
    a.root_hash = v["root1"].is_null() ? "" : B64(v["root1"]);
    b.root_hash = v["root2"].is_null() ? "" : B64(v["root2"]);
    v1::ConsistencyProof proof;
    proof.set_old_size(a.size);
    proof.set_new_size(b.size);
    if (v["proof"].is_array()) {
      for (const auto& h : v["proof"]) proof.add_hashes(B64(h));
    }
    absl::Status s = VerifyCheckpointConsistency(a, b, proof);
    EXPECT_EQ(s.ok(), !v["wantErr"].get<bool>()) << f.path() << ": " << s;
    ++consistency;
  }
  EXPECT_GT(inclusion, 50);
  EXPECT_GT(consistency, 50);
}

// A whole receipt over a 3-entry tree signed with a fresh key; every
// single-byte change of any part must make it fail.
TEST(ReceiptTest, WholeReceiptAndItsMutations) {
  crypto::SigningKey admin = crypto::SigningKey::Generate();
  std::vector<std::string> entries;
  std::vector<std::string> leaves;
  std::string prev = ZeroHash();
  for (int i = 0; i < 3; ++i) {
    v1::Envelope env;
    env.set_trial_id("t");
    env.set_stream_id("trial");
    env.set_event_id(NewEventId());
    env.mutable_observed_at()->set_unix_micros(1);
    env.mutable_actor()->set_principal_id("admin");
    env.mutable_actor()->set_role(v1::ROLE_SPONSOR_ADMIN);
    env.mutable_event()->mutable_trial()->mutable_note()->set_text("n");
    v1::Entry e;
    e.set_index(i);
    e.set_prev_leaf_hash(prev);
    e.set_recorded_at_unix_micros(1000 + i);
    e.set_stream_version(i + 1);
    *e.mutable_signed_envelope() = SignEnvelope(env, admin);
    entries.push_back(SerializeEntry(e));
    leaves.push_back(merkle::HashLeaf(entries.back()));
    prev = leaves.back();
  }
  note::NoteSigner signer("trialog.example/t", crypto::SigningKey::Generate());
  note::Checkpoint cp{"trialog.example/t", 3, merkle::RootFromLeafHashes(leaves), {}};
  absl::StatusOr<std::string> signed_note = note::SignCheckpoint(cp, signer);
  ASSERT_TRUE(signed_note.ok()) << signed_note.status();
  v1::Receipt receipt;
  receipt.set_entry(entries[2]);
  receipt.set_leaf_hash(leaves[2]);
  receipt.set_checkpoint(*signed_note);
  receipt.mutable_inclusion()->set_index(2);
  receipt.mutable_inclusion()->set_tree_size(3);
  receipt.mutable_inclusion()->add_hashes(merkle::HashChildren(leaves[0], leaves[1]));
  const note::Verifier verifier = signer.verifier();
  absl::StatusOr<VerifiedReceipt> ok = VerifyReceipt(receipt, verifier);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->entry.entry.index(), 2u);
  EXPECT_EQ(ok->checkpoint.size, 3u);

  for (size_t i = 0; i < receipt.entry().size(); ++i) {
    v1::Receipt m = receipt;
    m.mutable_entry()->at(i) ^= 0x01;
    EXPECT_FALSE(VerifyReceipt(m, verifier).ok()) << "entry byte " << i;
  }
  for (size_t i = 0; i < receipt.leaf_hash().size(); ++i) {
    v1::Receipt m = receipt;
    m.mutable_leaf_hash()->at(i) ^= 0x01;
    EXPECT_EQ(VerifyReceipt(m, verifier).status().code(), absl::StatusCode::kDataLoss);
  }
  for (size_t i = 0; i < receipt.checkpoint().size(); ++i) {
    v1::Receipt m = receipt;
    m.mutable_checkpoint()->at(i) ^= 0x01;
    EXPECT_FALSE(VerifyReceipt(m, verifier).ok()) << "checkpoint byte " << i;
  }
  v1::Receipt m = receipt;
  m.mutable_inclusion()->mutable_hashes(0)->at(31) ^= 0x80;
  EXPECT_EQ(VerifyReceipt(m, verifier).status().code(), absl::StatusCode::kDataLoss);
  m = receipt;
  m.mutable_inclusion()->set_index(1);
  EXPECT_EQ(VerifyReceipt(m, verifier).status().code(), absl::StatusCode::kDataLoss);
  // Another ledger key: UNAUTHENTICATED.
  note::NoteSigner other("trialog.example/t", crypto::SigningKey::Generate());
  EXPECT_EQ(VerifyReceipt(receipt, other.verifier()).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifyReceipt(v1::Receipt(), verifier).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace trialog::ledger
