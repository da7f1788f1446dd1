#include "core/crypto/crypto.h"

#include <fstream>

#include "core/util/bytes.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace trialog::crypto {
namespace {

nlohmann::json LoadVectors(const std::string& relative) {
  std::ifstream in(std::string(TRIALOG_VECTORS_DIR) + "/" + relative);
  EXPECT_TRUE(in.good()) << "missing vector file " << relative;
  return nlohmann::json::parse(in);
}

std::string Unhex(const std::string& hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok()) << hex;
  return bytes.ok() ? *bytes : std::string();
}

TEST(Sha256Test, KnownAnswers) {
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256("ab", "c"), Sha256("abc"));
}

TEST(Ed25519Test, Rfc8032Section71) {
  nlohmann::json doc = LoadVectors("ed25519/rfc8032-7.1-ed25519.json");
  const nlohmann::json& cases = doc["vectors"];
  ASSERT_FALSE(cases.empty());
  for (const auto& t : cases) {
    std::string seed = Unhex(t["secretKey"]);
    absl::StatusOr<SigningKey> key = SigningKey::FromSeed(seed);
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(HexEncode(key->public_key()), t["publicKey"].get<std::string>());
    std::string msg = Unhex(t["messageHex"]);
    std::string sig = key->Sign(msg);
    EXPECT_EQ(HexEncode(sig), t["signature"].get<std::string>());
    EXPECT_TRUE(Verify(key->public_key(), msg, sig));
    sig[0] ^= 1;
    EXPECT_FALSE(Verify(key->public_key(), msg, sig));
  }
}

TEST(Ed25519Test, Wycheproof) {
  nlohmann::json doc = LoadVectors("ed25519/wycheproof_ed25519_test.json");
  int checked = 0;
  for (const auto& group : doc["testGroups"]) {
    std::string pk = Unhex(group["publicKey"]["pk"]);
    for (const auto& t : group["tests"]) {
      bool want = t["result"] == "valid";
      EXPECT_EQ(Verify(pk, Unhex(t["msg"]), Unhex(t["sig"])), want)
          << "tcId " << t["tcId"] << ": " << t["comment"];
      ++checked;
    }
  }
  EXPECT_EQ(checked, 151);
}

TEST(Ed25519Test, RejectsWrongSizes) {
  SigningKey key = SigningKey::Generate();
  std::string sig = key.Sign("m");
  EXPECT_FALSE(Verify(key.public_key().substr(1), "m", sig));
  EXPECT_FALSE(Verify(key.public_key(), "m", sig.substr(1)));
  EXPECT_FALSE(SigningKey::FromSeed("short").ok());
}

}  // namespace
}  // namespace trialog::crypto
