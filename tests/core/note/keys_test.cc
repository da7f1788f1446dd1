#include "core/note/keys.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/crypto/crypto.h"
#include "core/util/bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/note/test_vectors.h"

namespace trialog::note {
namespace {

using ::testing::HasSubstr;
using testing::LoadJson;
using ::testing::Not;
using testing::Unhex;

// Every vkey string in note-vectors.json, for round-trip tests.
std::vector<std::string> AllVectorVkeys() {
  nlohmann::json doc = LoadJson("note/note-vectors.json");
  std::vector<std::string> out;
  for (const char* section : {"upstream", "generated", "realWorldSumdb"}) {
    for (const auto& e : doc[section]) {
      for (const auto& k : e["verifierKeys"]) out.push_back(k.get<std::string>());
    }
  }
  for (const auto& p : doc["upstreamKeysWithoutNotes"]["pairs"]) out.push_back(p["vkey"]);
  for (const auto& [role, k] : doc["generatedKeys"].items()) out.push_back(k["vkey"]);
  return out;
}

TEST(KeyIdTest, MatchesGeneratedKeys) {
  nlohmann::json doc = LoadJson("note/note-vectors.json");
  int checked = 0;
  for (const auto& [role, k] : doc["generatedKeys"].items()) {
    const std::string pub = Unhex(k["publicKeyHex"]);
    uint32_t want = 0;
    for (unsigned char c : Unhex(k["keyIdHex"])) want = (want << 8) | c;
    EXPECT_EQ(KeyId(k["name"].get<std::string>(), pub), want) << role;
    // The public key in the vector must be the one derived from the seed.
    absl::StatusOr<crypto::SigningKey> key = crypto::SigningKey::FromSeed(Unhex(k["seedHex"]));
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(key->public_key(), pub) << role;
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

TEST(VerifierKeyTest, ParsesAndFormatsEveryVectorKey) {
  const std::vector<std::string> vkeys = AllVectorVkeys();
  ASSERT_GE(vkeys.size(), 30u);
  for (const std::string& vkey : vkeys) {
    absl::StatusOr<Verifier> v = ParseVerifierKey(vkey);
    ASSERT_TRUE(v.ok()) << vkey << ": " << v.status();
    EXPECT_EQ(v->public_key.size(), 32u);
    EXPECT_EQ(v->name, vkey.substr(0, vkey.find('+')));
    EXPECT_EQ(absl::StrFormat("%08x", v->key_id), vkey.substr(vkey.find('+') + 1, 8));
    EXPECT_EQ(FormatVerifierKey(v->name, v->public_key), vkey);
  }
}

TEST(VerifierKeyTest, GeneratedKeyFields) {
  nlohmann::json doc = LoadJson("note/note-vectors.json");
  const auto& k = doc["generatedKeys"]["log"];
  absl::StatusOr<Verifier> v = ParseVerifierKey(k["vkey"].get<std::string>());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->name, k["name"].get<std::string>());
  EXPECT_EQ(HexEncode(v->public_key), k["publicKeyHex"].get<std::string>());
  EXPECT_EQ(absl::StrFormat("%08x", v->key_id), k["keyIdHex"].get<std::string>());
}

TEST(VerifierKeyTest, Base64PartMayContainPlus) {
  // sum.golang.org's key: the base64 holds '+' twice; split on the first two only.
  const std::string vkey = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
  absl::StatusOr<Verifier> v = ParseVerifierKey(vkey);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->name, "sum.golang.org");
  EXPECT_EQ(v->key_id, 0x033de0aeu);
}

void ExpectRejected(const std::string& vkey, const std::string& message_part) {
  absl::StatusOr<Verifier> v = ParseVerifierKey(vkey);
  ASSERT_FALSE(v.ok()) << vkey;
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << vkey;
  EXPECT_THAT(std::string(v.status().message()), HasSubstr(message_part)) << vkey;
}

TEST(VerifierKeyTest, RejectsMalformedKeys) {
  const std::string good = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
  ASSERT_TRUE(ParseVerifierKey(good).ok());
  ExpectRejected("", "not name+hex8");
  ExpectRejected("example.com/foo", "not name+hex8");
  ExpectRejected("example.com/foo+530d903a", "not name+hex8");
  ExpectRejected("+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "key name is empty");
  ExpectRejected("example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                 "lower-case hex");
  ExpectRejected("example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                 "8 lower-case hex");
  ExpectRejected("example.com/foo+530d903a0+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                 "8 lower-case hex");
  ExpectRejected("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                 "does not match");
  ExpectRejected("example.com/fob+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                 "does not match");
  ExpectRejected("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k=",
                 "base64");
  ExpectRejected("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2", "base64");
  ExpectRejected("example.com/foo+530d903a+", "empty");
  // A different key under the same name and id.
  ExpectRejected("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2l",
                 "does not match");
  ExpectRejected("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k\n",
                 "base64");
}

TEST(VerifierKeyTest, RejectsWrongTypeOrSize) {
  const std::string pub = Unhex("68400f5a29a8ec4571e82fd1221d9b7c38b01c01d57b85d724c2643ba6e0c113");
  // Type byte 0x04 (cosigner key): valid encoding, unsupported type.
  const std::string cosigner =
      absl::StrCat("w+00000000+", Base64Encode(absl::StrCat(std::string(1, '\x04'), pub)));
  ExpectRejected(cosigner, "signature type 0x04");
  // 31-byte key, with the id it would have, so that only the size is wrong.
  const std::string short_pub = pub.substr(1);
  ExpectRejected(FormatVerifierKey("w", short_pub), "31 bytes");
  ExpectRejected(FormatVerifierKey("w", pub + "x"), "33 bytes");
}

TEST(VerifierKeyTest, RejectsBadNamesEvenWithMatchingIds) {
  const std::string pub = crypto::SigningKey::Generate().public_key();
  ASSERT_TRUE(ParseVerifierKey(FormatVerifierKey("example.com/ok", pub)).ok());
  ExpectRejected(FormatVerifierKey("has space", pub), "white space");
  ExpectRejected(FormatVerifierKey("tab\tname", pub), "white space");
  ExpectRejected(FormatVerifierKey("nbsp\xC2\xA0name", pub), "white space U+00A0");
  ExpectRejected(FormatVerifierKey("ideographic\xE3\x80\x80space", pub), "white space U+3000");
  ExpectRejected(FormatVerifierKey("en\xE2\x80\x82space", pub), "white space U+2002");
  ExpectRejected(FormatVerifierKey("bad\xFFutf8", pub), "not valid UTF-8");
  ExpectRejected(FormatVerifierKey("overlong\xC0\xAF", pub), "not valid UTF-8");
  ExpectRejected(FormatVerifierKey("surrogate\xED\xA0\x80", pub), "not valid UTF-8");
  ExpectRejected(FormatVerifierKey("bell\x07", pub), "control character");
  // Non-ASCII names without spaces are fine.
  EXPECT_TRUE(ParseVerifierKey(FormatVerifierKey("quasimodo.example/salvatore\xC3\xA8", pub)).ok());
}

TEST(GoPrivateKeyTest, EveryVectorKeyPairMatches) {
  nlohmann::json doc = LoadJson("note/note-vectors.json");
  std::vector<std::pair<std::string, std::string>> pairs;  // skey, vkey
  for (const auto& p : doc["upstreamKeysWithoutNotes"]["pairs"])
    pairs.emplace_back(p["skey"], p["vkey"]);
  for (const auto& [role, k] : doc["generatedKeys"].items())
    pairs.emplace_back(k["skey"], k["vkey"]);
  pairs.emplace_back(doc["upstream"][1]["signerKey"], doc["upstream"][1]["verifierKeys"][0]);
  ASSERT_EQ(pairs.size(), 7u);
  for (const auto& [skey, vkey] : pairs) {
    absl::StatusOr<NoteSigner> signer = ParseGoPrivateKey(skey);
    ASSERT_TRUE(signer.ok()) << signer.status();
    EXPECT_EQ(signer->verifier_key(), vkey);
    EXPECT_EQ(FormatGoPrivateKey(*signer), skey);
    absl::StatusOr<Verifier> v = ParseVerifierKey(vkey);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(signer->verifier().public_key, v->public_key);
    EXPECT_EQ(signer->verifier().key_id, v->key_id);
  }
  for (const auto& [role, k] : doc["generatedKeys"].items()) {
    absl::StatusOr<NoteSigner> signer = ParseGoPrivateKey(k["skey"].get<std::string>());
    ASSERT_TRUE(signer.ok());
    EXPECT_EQ(HexEncode(signer->key().seed()), k["seedHex"].get<std::string>());
  }
}

TEST(GoPrivateKeyTest, RejectsMalformedKeysWithoutEchoingTheSecret) {
  const std::string secret = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
  const std::string good = "PRIVATE+KEY+PeterNeumann+c74f20a3+" + secret;
  ASSERT_TRUE(ParseGoPrivateKey(good).ok());
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"PRIVATE+KEX+PeterNeumann+c74f20a3+" + secret, "PRIVATE+KEY+"},
      {"PeterNeumann+c74f20a3+" + secret, "PRIVATE+KEY+"},
      {"PRIVATE+KEY+PeterNeumann", "PRIVATE+KEY+name+hex8"},
      {"PRIVATE+KEY+PeterNeumann+c74f20a4+" + secret, "does not match"},
      {"PRIVATE+KEY+PeterNeumann2+c74f20a3+" + secret, "does not match"},
      {"PRIVATE+KEY+PeterNeumann+c74f20a3+" + secret.substr(0, 43), "base64"},
      {"PRIVATE+KEY+PeterNeumann+c74f20a3+" + Base64Encode(std::string(33, '\x02')),
       "signature type 0x02"},
      {"PRIVATE+KEY+PeterNeumann+c74f20a3+" + Base64Encode("\x01" + std::string(31, 'k')),
       "31 bytes"},
      {"PRIVATE+KEY+Peter Neumann+c74f20a3+" + secret, "white space"},
  };
  for (const auto& [skey, part] : bad) {
    absl::StatusOr<NoteSigner> signer = ParseGoPrivateKey(skey);
    ASSERT_FALSE(signer.ok()) << skey;
    EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(signer.status().message());
    EXPECT_THAT(message, HasSubstr(part)) << skey;
    EXPECT_THAT(message, Not(HasSubstr(secret.substr(0, 16)))) << skey;
  }
}

TEST(NoteSignerTest, AccessorsAgreeWithFreeFunctions) {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  NoteSigner signer("example.com/fresh", key);
  EXPECT_EQ(signer.name(), "example.com/fresh");
  EXPECT_EQ(signer.key_id(), KeyId("example.com/fresh", key.public_key()));
  EXPECT_EQ(signer.verifier_key(), FormatVerifierKey("example.com/fresh", key.public_key()));
  absl::StatusOr<Verifier> v = ParseVerifierKey(signer.verifier_key());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->public_key, key.public_key());
  absl::StatusOr<NoteSigner> back = ParseGoPrivateKey(FormatGoPrivateKey(signer));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->key().seed(), key.seed());
  EXPECT_EQ(back->name(), signer.name());
}

}  // namespace
}  // namespace trialog::note
