#include "core/note/cosignature.h"

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/crypto/crypto.h"
#include "core/note/checkpoint.h"
#include "core/note/note.h"
#include "core/util/bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/note/test_vectors.h"

namespace trialog::note {
namespace {

using ::testing::HasSubstr;
using testing::LoadJson;
using testing::Unhex;

TEST(CosignatureTest, MessageMatchesTheSpecExample) {
  // tlog-cosignature v1.0.1, "Signed message".
  const std::string text =
      "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
  EXPECT_EQ(CosignatureMessage(text, 1679315147),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
  EXPECT_EQ(CosignatureMessage(text, 0).substr(0, 22), "cosignature/v1\ntime 0\n");
}

class CosignVectorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nlohmann::json doc = LoadJson("note/note-vectors.json");
    const auto& w = doc["generatedKeys"]["witness"];
    witness_name_ = w["name"];
    absl::StatusOr<crypto::SigningKey> key = crypto::SigningKey::FromSeed(Unhex(w["seedHex"]));
    ASSERT_TRUE(key.ok());
    witness_key_ = std::make_unique<crypto::SigningKey>(*key);
    absl::StatusOr<Verifier> log =
        ParseVerifierKey(doc["generatedKeys"]["log"]["vkey"].get<std::string>());
    ASSERT_TRUE(log.ok());
    log_ = *log;
    for (const auto& e : doc["generated"]) {
      if (e["id"] == "ledger-checkpoint-size8") note_ = e["signedNote"];
      if (e["id"] == "ledger-checkpoint-two-signers") two_signers_ = e["signedNote"];
    }
    ASSERT_FALSE(note_.empty());
    text_ = note_.substr(0, note_.rfind("\n\n") + 1);
    cosigner_ = Cosigner{witness_name_, 0, witness_key_->public_key()};
    // Key id computed straight from the spec's formula.
    const std::string id = crypto::Sha256(
        absl::StrCat(witness_name_, "\n", std::string(1, '\x04'), witness_key_->public_key()));
    cosigner_.key_id = (uint32_t{static_cast<uint8_t>(id[0])} << 24) |
                       (uint32_t{static_cast<uint8_t>(id[1])} << 16) |
                       (uint32_t{static_cast<uint8_t>(id[2])} << 8) | static_cast<uint8_t>(id[3]);
  }

  std::string witness_name_;
  std::unique_ptr<crypto::SigningKey> witness_key_;
  Verifier log_;
  Cosigner cosigner_;
  std::string note_, two_signers_, text_;
};

TEST_F(CosignVectorsTest, LineLayoutFollowsTheSpec) {
  absl::StatusOr<std::string> line =
      CosignCheckpoint(text_, witness_name_, *witness_key_, 1679315147);
  ASSERT_TRUE(line.ok()) << line.status();
  const std::string prefix = absl::StrCat("\xE2\x80\x94 ", witness_name_, " ");
  ASSERT_EQ(line->substr(0, prefix.size()), prefix);
  ASSERT_EQ(line->back(), '\n');
  absl::StatusOr<std::string> raw =
      Base64Decode(line->substr(prefix.size(), line->size() - prefix.size() - 1));
  ASSERT_TRUE(raw.ok());
  ASSERT_EQ(raw->size(), 4u + 8u + 64u);
  EXPECT_EQ(DecodeBigEndian64(std::string(4, '\0') + raw->substr(0, 4)), cosigner_.key_id);
  EXPECT_EQ(DecodeBigEndian64(raw->substr(4, 8)), 1679315147u);
  EXPECT_TRUE(crypto::Verify(witness_key_->public_key(),
                             "cosignature/v1\ntime 1679315147\n" + text_, raw->substr(12)));
  EXPECT_EQ(KeyIdForType(witness_name_, kAlgCosignatureV1, witness_key_->public_key()),
            cosigner_.key_id);
}

TEST_F(CosignVectorsTest, MatchesThePythonReferenceByteForByte) {
  // testdata/README.md says how this file was made (PyNaCl, from the spec).
  std::ifstream in(
      std::string(TRIALOG_SOURCE_DIR) + "/tests/core/note/testdata/cosigned-size8-pynacl.note",
      std::ios::binary);
  ASSERT_TRUE(in.good());
  const std::string reference((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
  ASSERT_EQ(reference.substr(0, note_.size()), note_);
  absl::StatusOr<std::string> line =
      CosignCheckpoint(text_, witness_name_, *witness_key_, 1679315147);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(note_ + *line, reference);
  absl::StatusOr<OpenedNote> opened = OpenNote(reference, {log_});
  ASSERT_TRUE(opened.ok()) << opened.status();
  absl::StatusOr<std::vector<Cosignature>> cosigs = VerifyCosignatures(*opened, {cosigner_});
  ASSERT_TRUE(cosigs.ok()) << cosigs.status();
  ASSERT_EQ(cosigs->size(), 1u);
  EXPECT_EQ((*cosigs)[0].timestamp, 1679315147u);
}

TEST_F(CosignVectorsTest, VerifiesCosignaturesOnAnOpenedCheckpoint) {
  absl::StatusOr<std::string> line =
      CosignCheckpoint(text_, witness_name_, *witness_key_, 1700000000);
  ASSERT_TRUE(line.ok());
  absl::StatusOr<OpenedNote> opened = OpenNote(note_ + *line, {log_});
  ASSERT_TRUE(opened.ok()) << opened.status();
  absl::StatusOr<std::vector<Cosignature>> cosigs = VerifyCosignatures(*opened, {cosigner_});
  ASSERT_TRUE(cosigs.ok()) << cosigs.status();
  ASSERT_EQ(cosigs->size(), 1u);
  EXPECT_EQ((*cosigs)[0].name, witness_name_);
  EXPECT_EQ((*cosigs)[0].timestamp, 1700000000u);
  EXPECT_EQ((*cosigs)[0].key_id, cosigner_.key_id);

  // The witness's plain Ed25519 (type 0x01) signature in the vector is not a
  // cosignature: its key id differs, so it is ignored.
  absl::StatusOr<OpenedNote> plain = OpenNote(two_signers_, {log_});
  ASSERT_TRUE(plain.ok());
  ASSERT_EQ(plain->unverified.size(), 1u);
  absl::StatusOr<std::vector<Cosignature>> none = VerifyCosignatures(*plain, {cosigner_});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(CosignVectorsTest, RejectsBadCosignatures) {
  absl::StatusOr<std::string> line =
      CosignCheckpoint(text_, witness_name_, *witness_key_, 1700000000);
  ASSERT_TRUE(line.ok());
  absl::StatusOr<OpenedNote> opened = OpenNote(note_ + *line, {log_});
  ASSERT_TRUE(opened.ok());
  ASSERT_EQ(opened->unverified.size(), 1u);

  OpenedNote other_time = *opened;
  other_time.unverified[0].signature[7] ^= 1;  // timestamp 1700000001
  EXPECT_EQ(VerifyCosignatures(other_time, {cosigner_}).status().code(),
            absl::StatusCode::kUnauthenticated);
  OpenedNote other_text = *opened;
  other_text.text = "example.com/audit-ledger\n9\n" + text_.substr(text_.find('\n', 25) + 1);
  EXPECT_EQ(VerifyCosignatures(other_text, {cosigner_}).status().code(),
            absl::StatusCode::kUnauthenticated);
  OpenedNote huge_time = *opened;
  huge_time.unverified[0].signature[0] = '\x80';
  EXPECT_THAT(std::string(VerifyCosignatures(huge_time, {cosigner_}).status().message()),
              HasSubstr("> 2^63 - 1"));
  OpenedNote short_sig = *opened;
  short_sig.unverified[0].signature.pop_back();
  EXPECT_THAT(std::string(VerifyCosignatures(short_sig, {cosigner_}).status().message()),
              HasSubstr("71 bytes"));
  Cosigner wrong_id = cosigner_;
  wrong_id.key_id ^= 1;
  EXPECT_EQ(VerifyCosignatures(*opened, {wrong_id}).status().code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_FALSE(CosignCheckpoint(text_, witness_name_, *witness_key_, uint64_t{1} << 63).ok());
  EXPECT_TRUE(CosignCheckpoint(text_, witness_name_, *witness_key_, (uint64_t{1} << 63) - 1).ok());
  EXPECT_EQ(CosignCheckpoint("not a checkpoint\n", witness_name_, *witness_key_, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CosignCheckpoint(text_, "bad name", *witness_key_, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CosignVectorsTest, CosignerKeys) {
  const std::string vkey = FormatCosignerKey(witness_name_, witness_key_->public_key());
  absl::StatusOr<Cosigner> c = ParseCosignerKey(vkey);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->key_id, cosigner_.key_id);
  EXPECT_EQ(c->public_key, witness_key_->public_key());
  // base64(0x04 || ...) starts with 'B' (0x04 >> 2 == 1); the id is the spec's.
  const size_t second_plus = vkey.find('+', vkey.find('+') + 1);
  EXPECT_EQ(vkey[second_plus + 1], 'B');
  EXPECT_EQ(vkey.substr(vkey.find('+') + 1, 8), absl::StrFormat("%08x", cosigner_.key_id));
  // Type bytes are not interchangeable.
  EXPECT_THAT(std::string(ParseVerifierKey(vkey).status().message()),
              HasSubstr("signature type 0x04; expected 0x01"));
  nlohmann::json doc = LoadJson("note/note-vectors.json");
  EXPECT_THAT(
      std::string(ParseCosignerKey(doc["generatedKeys"]["witness"]["vkey"].get<std::string>())
                      .status()
                      .message()),
      HasSubstr("signature type 0x01; expected 0x04"));
}

}  // namespace
}  // namespace trialog::note
