// The witness, whole (request parsing, checks, durable store, answer),
// against material made outside this code: the ledger-shaped checkpoint and
// the TEST keys of shared/vectors/note/note-vectors.json, and the PyNaCl
// reference cosignature of tests/core/note/testdata (written from the
// tlog-cosignature v1.0.1 text; see its README). With the vectors' witness
// seed and the reference's timestamp, the witness's 200 answer must be that
// reference line byte for byte (Ed25519 is deterministic), and the verifier
// policy must accept the reference note.

#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/note/cosignature.h"
#include "core/note/keys.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/core/note/test_vectors.h"
#include "tests/witness/test_util.h"
#include "tools/witness/witness.h"
#include "witness/policy.h"

namespace trialog::witness {
namespace {

constexpr uint64_t kReferenceTime = 1679315147;  // testdata/README.md

class WitnessVectorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nlohmann::json doc = note::testing::LoadJson("note/note-vectors.json");
    const auto& log = doc["generatedKeys"]["log"];
    const auto& w = doc["generatedKeys"]["witness"];
    witness_name_ = w["name"].get<std::string>();
    witness_public_hex_ = w["publicKeyHex"].get<std::string>();
    absl::StatusOr<note::Verifier> v = note::ParseVerifierKey(log["vkey"].get<std::string>());
    ASSERT_TRUE(v.ok()) << v.status();
    log_key_ = *v;
    absl::StatusOr<crypto::SigningKey> key =
        crypto::SigningKey::FromSeed(note::testing::Unhex(w["seedHex"].get<std::string>()));
    ASSERT_TRUE(key.ok()) << key.status();
    witness_key_ = std::make_unique<crypto::SigningKey>(*key);
    for (const auto& e : doc["generated"]) {
      if (e["id"] == "ledger-checkpoint-size8") note_ = e["signedNote"].get<std::string>();
    }
    ASSERT_FALSE(note_.empty());
    std::ifstream in(std::string(TRIALOG_SOURCE_DIR) +
                         "/tests/core/note/testdata/cosigned-size8-pynacl.note",
                     std::ios::binary);
    ASSERT_TRUE(in.good());
    reference_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    ASSERT_EQ(reference_.substr(0, note_.size()), note_);
  }

  std::unique_ptr<Witness> Open() {
    WitnessOptions o;
    o.dir = dir_ / "state";
    o.name = witness_name_;
    o.logs = {LogConfig{log_key_.name, {log_key_}}};
    o.clock = [] { return kReferenceTime; };
    absl::StatusOr<std::unique_ptr<Witness>> w = Witness::Open(std::move(o), *witness_key_);
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? *std::move(w) : nullptr;
  }

  testing::ScratchDir dir_;
  std::string witness_name_, witness_public_hex_, note_, reference_;
  note::Verifier log_key_;
  std::unique_ptr<crypto::SigningKey> witness_key_;
};

TEST_F(WitnessVectorsTest, AnswerIsThePyNaClReferenceCosignature) {
  std::unique_ptr<Witness> w = Open();
  ASSERT_NE(w, nullptr);
  // The cosigner key it announces names the vectors' public key.
  absl::StatusOr<note::Cosigner> cosigner = note::ParseCosignerKey(w->cosigner_key());
  ASSERT_TRUE(cosigner.ok()) << cosigner.status();
  EXPECT_EQ(cosigner->name, witness_name_);
  EXPECT_EQ(HexEncode(cosigner->public_key), witness_public_hex_);

  HttpReply reply = w->HandleAddCheckpoint(absl::StrCat("old 0\n\n", note_));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(note_ + reply.body, reference_);

  // The same request again: the witness now holds size 8, so "old 0" is a
  // conflict answered with its size (tlog-witness v1.0.0: 409, text/x.tlog.size).
  reply = w->HandleAddCheckpoint(absl::StrCat("old 0\n\n", note_));
  EXPECT_EQ(reply.status, 409);
  EXPECT_EQ(reply.body, "8\n");
  EXPECT_EQ(reply.content_type, "text/x.tlog.size");
}

TEST_F(WitnessVectorsTest, PolicyAcceptsTheReferenceAndCountsItsCosigner) {
  absl::StatusOr<WitnessPolicy> policy = MakeWitnessPolicy(
      {note::FormatCosignerKey(witness_name_, witness_key_->public_key())}, 1);
  ASSERT_TRUE(policy.ok()) << policy.status();
  absl::StatusOr<CosignedCheckpoint> cp = OpenCosignedCheckpoint(reference_, log_key_, *policy);
  ASSERT_TRUE(cp.ok()) << cp.status();
  ASSERT_EQ(cp->cosignatures.size(), 1u);
  EXPECT_EQ(cp->cosignatures[0].timestamp, kReferenceTime);
  EXPECT_EQ(cp->checkpoint.size, 8u);
  // The plain note (no cosignature) lacks it: FAILED_PRECONDITION, not a
  // signature error.
  absl::StatusOr<CosignedCheckpoint> plain = OpenCosignedCheckpoint(note_, log_key_, *policy);
  EXPECT_EQ(plain.status().code(), absl::StatusCode::kFailedPrecondition) << plain.status();
  // A changed signature byte in the cosignature line (which ends in
  // "==\n"): a forgery, UNAUTHENTICATED.
  std::string forged = reference_;
  forged[forged.size() - 6] = forged[forged.size() - 6] == 'A' ? 'B' : 'A';
  absl::StatusOr<CosignedCheckpoint> bad = OpenCosignedCheckpoint(forged, log_key_, *policy);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnauthenticated) << bad.status();
}

}  // namespace
}  // namespace trialog::witness
