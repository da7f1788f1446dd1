#include "core/crypto/key_file.h"

#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/crypto/crypto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trialog::crypto {
namespace {

using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteRaw(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// Standard base64 decoding straight from libsodium, independent of core/util.
std::string SodiumBase64Decode(const std::string& b64) {
  std::string out(b64.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), b64.data(),
                        b64.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    ADD_FAILURE() << "bad base64 " << b64;
    return "";
  }
  out.resize(len);
  return out;
}

std::string SodiumBase64Encode(const std::string& bin) {
  std::string out(sodium_base64_ENCODED_LEN(bin.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                    bin.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);
  return out;
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Init().ok());
    std::string tmpl = ::testing::TempDir() + "key_file_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  std::set<std::string> Listing() const {
    std::set<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      out.insert(e.path().filename().string());
    }
    return out;
  }

  std::string dir_;
  const std::string name_ = "trialog.example/ledger/IMT-ALK-01";
  const std::string passphrase_ = "correct horse battery staple";
};

TEST_F(KeyFileTest, RoundTrip) {
  const SigningKey key = SigningKey::Generate();
  const std::string path = Path("ledger.key");
  ASSERT_TRUE(WriteKeyFile(path, name_, key, passphrase_, kKeyFileTestParams).ok());
  EXPECT_EQ(Listing(), std::set<std::string>{"ledger.key"});  // no temporary left behind

  absl::StatusOr<std::string> pub = ReadKeyFilePublicKey(path);
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(*pub, key.public_key());
  absl::StatusOr<std::string> name = ReadKeyFileName(path);
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, name_);

  absl::StatusOr<SigningKey> loaded = LoadKeyFile(path, passphrase_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->seed(), key.seed());
  EXPECT_EQ(loaded->public_key(), key.public_key());
  EXPECT_TRUE(Verify(key.public_key(), "m", loaded->Sign("m")));
}

TEST_F(KeyFileTest, FormatIsAsDocumentedAndOpensWithPlainLibsodium) {
  // Re-implements the documented format with libsodium alone.
  const SigningKey key = SigningKey::Generate();
  const std::string path = Path("k");
  ASSERT_TRUE(WriteKeyFile(path, name_, key, passphrase_, {3, 16384}).ok());
  const std::string data = ReadAll(path);
  ASSERT_FALSE(data.empty());
  ASSERT_EQ(data.back(), '\n');
  std::vector<std::string> lines = absl::StrSplit(data.substr(0, data.size() - 1), '\n');
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "trialog-key-v1");
  EXPECT_EQ(lines[1], "name " + name_);
  EXPECT_EQ(lines[2], "public " + SodiumBase64Encode(key.public_key()));
  std::vector<std::string> kdf = absl::StrSplit(lines[3], ' ');
  ASSERT_EQ(kdf.size(), 5u);
  EXPECT_EQ(kdf[0], "kdf");
  EXPECT_EQ(kdf[1], "argon2id13");
  EXPECT_EQ(kdf[2], "3");
  EXPECT_EQ(kdf[3], "16384");
  const std::string salt = SodiumBase64Decode(kdf[4]);
  ASSERT_EQ(salt.size(), 16u);
  ASSERT_EQ(lines[4].substr(0, 7), "sealed ");
  const std::string sealed = SodiumBase64Decode(lines[4].substr(7));
  ASSERT_EQ(sealed.size(), 24u + 16u + 64u);

  unsigned char k[32];
  ASSERT_EQ(crypto_pwhash(k, sizeof k, passphrase_.data(), passphrase_.size(),
                          reinterpret_cast<const unsigned char*>(salt.data()), 3, 16384,
                          crypto_pwhash_ALG_ARGON2ID13),
            0);
  unsigned char plain[64];
  const auto* s = reinterpret_cast<const unsigned char*>(sealed.data());
  ASSERT_EQ(crypto_secretbox_open_easy(plain, s + 24, sealed.size() - 24, s, k), 0);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(plain), 32), key.seed());
  const std::string header =
      absl::StrCat(lines[0], "\n", lines[1], "\n", lines[2], "\n", lines[3], "\n");
  unsigned char h[32];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(header.data()), header.size());
  EXPECT_EQ(std::string(reinterpret_cast<char*>(plain) + 32, 32),
            std::string(reinterpret_cast<char*>(h), 32));
}

TEST_F(KeyFileTest, DefaultParamsAreInteractive) {
  const SigningKey key = SigningKey::Generate();
  const std::string path = Path("default.key");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(WriteKeyFile(path, name_, key, passphrase_).ok());
  const auto written = std::chrono::steady_clock::now();
  absl::StatusOr<SigningKey> loaded = LoadKeyFile(path, passphrase_);
  const auto end = std::chrono::steady_clock::now();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->seed(), key.seed());
  // libsodium's published INTERACTIVE limits: 2 passes, 64 MiB.
  EXPECT_THAT(ReadAll(path), HasSubstr("\nkdf argon2id13 2 67108864 "));
  using Ms = std::chrono::duration<double, std::milli>;
  RecordProperty("write_ms", static_cast<int>(Ms(written - start).count()));
  RecordProperty("load_ms", static_cast<int>(Ms(end - written).count()));
  std::cout << "INTERACTIVE write " << Ms(written - start).count() << " ms, load "
            << Ms(end - written).count() << " ms\n";
}

TEST_F(KeyFileTest, FreshSaltAndNoncePerFile) {
  const SigningKey key = SigningKey::Generate();
  ASSERT_TRUE(WriteKeyFile(Path("a"), name_, key, passphrase_, kKeyFileTestParams).ok());
  ASSERT_TRUE(WriteKeyFile(Path("b"), name_, key, passphrase_, kKeyFileTestParams).ok());
  std::vector<std::string> a = absl::StrSplit(ReadAll(Path("a")), '\n');
  std::vector<std::string> b = absl::StrSplit(ReadAll(Path("b")), '\n');
  ASSERT_EQ(a.size(), 6u);
  ASSERT_EQ(b.size(), 6u);
  EXPECT_EQ(a[2], b[2]);  // same public key
  EXPECT_NE(a[3], b[3]);  // salt
  EXPECT_NE(a[4], b[4]);  // nonce and box
}

TEST_F(KeyFileTest, FileModeIs0600WhateverTheUmask) {
  const mode_t old = umask(0);
  const absl::Status s =
      WriteKeyFile(Path("k"), name_, SigningKey::Generate(), passphrase_, kKeyFileTestParams);
  umask(old);
  ASSERT_TRUE(s.ok()) << s;
  struct stat st;
  ASSERT_EQ(stat(Path("k").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(KeyFileTest, WrongPassphrase) {
  const std::string path = Path("k");
  ASSERT_TRUE(
      WriteKeyFile(path, name_, SigningKey::Generate(), passphrase_, kKeyFileTestParams).ok());
  for (const std::string& wrong :
       {std::string(""), std::string("correct horse battery stapl"), passphrase_ + " ",
        std::string("Correct horse battery staple")}) {
    absl::StatusOr<SigningKey> loaded = LoadKeyFile(path, wrong);
    ASSERT_FALSE(loaded.ok()) << wrong;
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(loaded.status().message(), "wrong passphrase or damaged key file");
  }
}

TEST_F(KeyFileTest, RefusesToOverwrite) {
  const std::string path = Path("k");
  ASSERT_TRUE(
      WriteKeyFile(path, name_, SigningKey::Generate(), passphrase_, kKeyFileTestParams).ok());
  const std::string before = ReadAll(path);
  absl::Status s = WriteKeyFile(path, name_, SigningKey::Generate(), "other", kKeyFileTestParams);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_EQ(ReadAll(path), before);
  // Not even through a dangling symlink.
  ASSERT_EQ(symlink(Path("nowhere").c_str(), Path("link").c_str()), 0);
  s = WriteKeyFile(Path("link"), name_, SigningKey::Generate(), "other", kKeyFileTestParams);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_EQ(Listing(), (std::set<std::string>{"k", "link"}));
}

TEST_F(KeyFileTest, RejectsBadArguments) {
  const SigningKey key = SigningKey::Generate();
  const std::vector<std::string> bad_names = {"",
                                              "has space",
                                              "a+b",
                                              "tab\tname",
                                              "caf\xC3\xA9",
                                              std::string(257, 'n'),
                                              std::string("nul\0x", 5)};
  for (const std::string& name : bad_names) {
    absl::Status s = WriteKeyFile(Path("k"), name, key, passphrase_, kKeyFileTestParams);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
  }
  EXPECT_TRUE(
      WriteKeyFile(Path("max"), std::string(256, 'n'), key, passphrase_, kKeyFileTestParams).ok());
  EXPECT_THAT(std::string(WriteKeyFile(Path("k"), name_, key, "", kKeyFileTestParams).message()),
              HasSubstr("empty passphrase"));
  const std::vector<KeyFileParams> bad_params = {
      {0, 8192}, {33, 8192}, {1, 8191}, {1, size_t{1} << 31}};
  for (const KeyFileParams& p : bad_params) {
    absl::Status s = WriteKeyFile(Path("k"), name_, key, passphrase_, p);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << p.opslimit << " " << p.memlimit;
  }
  EXPECT_EQ(Listing(), std::set<std::string>{"max"});
  EXPECT_EQ(
      WriteKeyFile(dir_ + "/no/such/dir/k", name_, key, passphrase_, kKeyFileTestParams).code(),
      absl::StatusCode::kNotFound);
}

TEST_F(KeyFileTest, MissingFileAndNonFiles) {
  EXPECT_EQ(ReadKeyFilePublicKey(Path("none")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadKeyFileName(Path("none")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadKeyFile(Path("none"), passphrase_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadKeyFile(dir_, passphrase_).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(mkfifo(Path("fifo").c_str(), 0600), 0);
  EXPECT_EQ(LoadKeyFile(Path("fifo"), passphrase_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(KeyFileTest, RejectsMalformedFiles) {
  const std::string path = Path("k");
  ASSERT_TRUE(
      WriteKeyFile(path, name_, SigningKey::Generate(), passphrase_, kKeyFileTestParams).ok());
  const std::string good = ReadAll(path);
  std::vector<std::string> lines = absl::StrSplit(good, '\n');  // 5 lines and ""
  const auto with_line = [&](size_t i, const std::string& line) {
    std::vector<std::string> copy = lines;
    copy[i] = line;
    return absl::StrJoin(copy, "\n");
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "does not end with a newline"},
      {good.substr(0, good.size() - 1), "does not end with a newline"},
      {good + "extra\n", "6 lines, expected 5"},
      {good.substr(0, good.find('\n') + 1), "1 lines, expected 5"},
      {with_line(0, "trialog-key-v2"), "line 1"},
      {with_line(1, "nome " + name_), "line 2 does not start with \"name \""},
      {with_line(1, "name  " + name_), "printable ASCII"},
      {with_line(2, lines[2] + " "), "public key is not canonical"},
      {with_line(2, "public " + SodiumBase64Encode(std::string(31, 'p'))), "31 bytes"},
      {with_line(3, "kdf argon2i13 1 8192 " + lines[3].substr(lines[3].rfind(' ') + 1)),
       "kdf argon2id13"},
      {with_line(3, "kdf argon2id13 01 8192 " + lines[3].substr(lines[3].rfind(' ') + 1)),
       "leading zeros"},
      {with_line(3, "kdf argon2id13 1 4294967296 " + lines[3].substr(lines[3].rfind(' ') + 1)),
       "memlimit 4294967296 is outside"},
      {with_line(3, "kdf argon2id13 100 8192 " + lines[3].substr(lines[3].rfind(' ') + 1)),
       "opslimit 100 is outside"},
      {with_line(3, "kdf argon2id13 1 8192 " + SodiumBase64Encode("short salt")), "salt is 10"},
      {with_line(4, "sealed " + SodiumBase64Encode("x")), "sealed is 1 bytes"},
      {absl::StrJoin(lines, "\r\n"), "line 1"},
      {std::string(5000, '\n'), "too large"},
  };
  for (const auto& [data, part] : cases) {
    std::filesystem::remove(path);
    WriteRaw(path, data);
    absl::StatusOr<SigningKey> loaded = LoadKeyFile(path, passphrase_);
    ASSERT_FALSE(loaded.ok()) << data;
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << loaded.status();
    EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(part)) << data;
    EXPECT_EQ(ReadKeyFilePublicKey(path).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST_F(KeyFileTest, EveryFlippedByteIsDetected) {
  const SigningKey key = SigningKey::Generate();
  const std::string path = Path("k");
  ASSERT_TRUE(WriteKeyFile(path, "example.com/log", key, passphrase_, kKeyFileTestParams).ok());
  const std::string good = ReadAll(path);
  // Line number (0-based) of every byte, its "\n" included.
  std::vector<int> line_of;
  int line = 0;
  for (char c : good) {
    line_of.push_back(line);
    if (c == '\n') ++line;
  }
  ASSERT_EQ(line, 5);
  std::map<std::pair<int, absl::StatusCode>, int> seen;  // (line, code) -> count
  const std::string mutant_path = Path("mutant");
  for (size_t i = 0; i < good.size(); ++i) {
    std::string mutant = good;
    mutant[i] = static_cast<char>(mutant[i] ^ 0x01);
    std::filesystem::remove(mutant_path);
    WriteRaw(mutant_path, mutant);
    absl::StatusOr<SigningKey> loaded = LoadKeyFile(mutant_path, passphrase_);
    ASSERT_FALSE(loaded.ok()) << "byte " << i << " of line " << line_of[i] + 1 << " flipped";
    ++seen[{line_of[i], loaded.status().code()}];
  }
  using C = absl::StatusCode;
  std::set<std::pair<int, C>> kinds;
  for (const auto& [k, n] : seen) kinds.insert(k);
  // Magic line: always malformed.
  EXPECT_FALSE(kinds.count({0, C::kDataLoss}) || kinds.count({0, C::kPermissionDenied}));
  // Name: detected by the header hash inside the box.
  EXPECT_TRUE(kinds.count({1, C::kDataLoss}));
  EXPECT_FALSE(kinds.count({1, C::kPermissionDenied}));
  // Public key: does not belong to the sealed seed.
  EXPECT_TRUE(kinds.count({2, C::kDataLoss}));
  EXPECT_FALSE(kinds.count({2, C::kPermissionDenied}));
  // KDF: a different salt or ops count gives a different key; some memlimit
  // edits (8192 -> 9192) do not, and the header hash catches them.
  EXPECT_TRUE(kinds.count({3, C::kPermissionDenied}));
  EXPECT_TRUE(kinds.count({3, C::kDataLoss}));
  // Sealed: the Poly1305 tag fails.
  EXPECT_TRUE(kinds.count({4, C::kPermissionDenied}));
  EXPECT_FALSE(kinds.count({4, C::kDataLoss}));
  for (const auto& [k, n] : seen) {
    EXPECT_TRUE(k.second == C::kInvalidArgument || k.second == C::kDataLoss ||
                k.second == C::kPermissionDenied)
        << "line " << k.first + 1 << ": " << absl::StatusCodeToString(k.second);
  }
}

TEST_F(KeyFileTest, SwappedPublicKeyIsDataLoss) {
  // Another key's public line in place of ours.
  const std::string path = Path("k");
  ASSERT_TRUE(
      WriteKeyFile(path, name_, SigningKey::Generate(), passphrase_, kKeyFileTestParams).ok());
  std::vector<std::string> lines = absl::StrSplit(ReadAll(path), '\n');
  lines[2] = "public " + SodiumBase64Encode(SigningKey::Generate().public_key());
  std::filesystem::remove(path);
  WriteRaw(path, absl::StrJoin(lines, "\n"));
  absl::StatusOr<SigningKey> loaded = LoadKeyFile(path, passphrase_);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(loaded.status().message()),
              HasSubstr("public key does not belong to the sealed private key"));
}

TEST(WipeTest, ZeroesInPlace) {
  std::string secret = "hunter2";
  Wipe(&secret);
  EXPECT_EQ(secret, std::string(7, '\0'));
}

}  // namespace
}  // namespace trialog::crypto
