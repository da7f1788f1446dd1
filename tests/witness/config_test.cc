// tools/witness/config: --log values, config files, passphrases.

#include "tools/witness/config.h"

#include <cstdlib>
#include <string>

#include "core/crypto/crypto.h"
#include "core/note/keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/witness/test_util.h"

namespace trialog::witness {
namespace {

using ::testing::HasSubstr;

TEST(ConfigTest, LogSpecIsAVerifierKeyOrOriginEqualsKey) {
  note::NoteSigner ledger("trialog.example/imt-01", crypto::SigningKey::Generate());
  const std::string vkey = ledger.verifier_key();

  auto plain = ParseLogSpec(vkey);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->first, "trialog.example/imt-01");
  EXPECT_EQ(plain->second.public_key, ledger.key().public_key());

  auto with_origin = ParseLogSpec("example.com/log with spaces=" + vkey);
  ASSERT_TRUE(with_origin.ok()) << with_origin.status();
  EXPECT_EQ(with_origin->first, "example.com/log with spaces");
  EXPECT_EQ(with_origin->second.name, "trialog.example/imt-01");

  // An origin containing '=' still splits where a valid key follows.
  auto eq_origin = ParseLogSpec("a=b=" + vkey);
  ASSERT_TRUE(eq_origin.ok()) << eq_origin.status();
  EXPECT_EQ(eq_origin->first, "a=b");

  // A key name containing '=' is a key, not ORIGIN=KEY.
  note::NoteSigner eq_name("x=y", crypto::SigningKey::Generate());
  auto eq_key = ParseLogSpec(eq_name.verifier_key());
  ASSERT_TRUE(eq_key.ok()) << eq_key.status();
  EXPECT_EQ(eq_key->first, "x=y");

  for (const std::string& bad : {std::string(""), std::string("origin="), "=" + vkey,
                                 vkey.substr(0, vkey.size() - 1), "o=" + vkey + "x"}) {
    auto r = ParseLogSpec(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("VKEY")) << bad;
  }
}

TEST(ConfigTest, LogsGroupKeysByOrigin) {
  note::NoteSigner a1("ledger.a", crypto::SigningKey::Generate());
  note::NoteSigner a2("ledger.a", crypto::SigningKey::Generate());
  note::NoteSigner b("ledger.b", crypto::SigningKey::Generate());
  auto logs = LogsFromSpecs({b.verifier_key(), a1.verifier_key(), a2.verifier_key(),
                             a1.verifier_key()});
  ASSERT_TRUE(logs.ok()) << logs.status();
  ASSERT_EQ(logs->size(), 2u);
  EXPECT_EQ((*logs)[0].origin, "ledger.a");
  EXPECT_EQ((*logs)[0].keys.size(), 2u);  // the repeated key counts once
  EXPECT_EQ((*logs)[1].origin, "ledger.b");
  EXPECT_EQ(LogsFromSpecs({}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConfigTest, ParsesConfigFiles) {
  auto config = ParseConfigFile(
      "# witness for IMT-01\n"
      "listen = 0.0.0.0:7380\n"
      "  dir=/var/lib/w  \n"
      "\n"
      "key-file = /etc/w/witness.key\n"
      "log = o=k+1+2\n"
      "log = second\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->values.at("listen"), "0.0.0.0:7380");
  EXPECT_EQ(config->values.at("dir"), "/var/lib/w");
  EXPECT_EQ(config->values.at("key-file"), "/etc/w/witness.key");
  EXPECT_EQ(config->values.count("passphrase-file"), 0u);
  ASSERT_EQ(config->logs.size(), 2u);
  EXPECT_EQ(config->logs[0], "o=k+1+2");  // split at the first '=' only

  struct {
    const char* text;
    const char* why;
  } bad[] = {
      {"listen\n", "line 1: expected"},
      {"# ok\nport = 1\n", "line 2: unknown key"},
      {"dir = a\ndir = b\n", "given twice"},
      {"dir =\n", "empty value"},
  };
  for (const auto& c : bad) {
    auto r = ParseConfigFile(c.text);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.why)) << c.text;
  }
  EXPECT_EQ(ReadConfigFile("/nonexistent/witness.conf").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ConfigTest, PassphraseFromFileOrEnvironment) {
  testing::ScratchDir dir;
  testing::WriteFileOrDie(dir / "pass", "correct horse\nsecond line\n");
  testing::WriteFileOrDie(dir / "empty", "\n");
  unsetenv(kPassphraseEnv);
  EXPECT_EQ(*ReadPassphrase(dir / "pass"), "correct horse");
  EXPECT_EQ(ReadPassphrase(dir / "empty").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadPassphrase(dir / "missing").status().code(), absl::StatusCode::kNotFound);
  auto none = ReadPassphrase("");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr(kPassphraseEnv));
  setenv(kPassphraseEnv, "from env", 1);
  EXPECT_EQ(*ReadPassphrase(""), "from env");
  EXPECT_EQ(*ReadPassphrase(dir / "pass"), "correct horse");  // the file wins
  unsetenv(kPassphraseEnv);
}

}  // namespace
}  // namespace trialog::witness
