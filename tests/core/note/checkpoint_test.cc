#include "core/note/checkpoint.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/crypto/crypto.h"
#include "core/note/note.h"
#include "core/util/bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/note/test_vectors.h"

namespace trialog::note {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::KnownKeys;
using testing::LoadJson;
using testing::Unhex;

// A valid 32-byte root (the CT KAT root of size 8), base64.
constexpr char kRoot8B64[] = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=";

void ExpectInvalid(const std::string& text, const std::string& part) {
  absl::StatusOr<Checkpoint> c = ParseCheckpoint(text);
  ASSERT_FALSE(c.ok()) << absl::CHexEscape(text);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << c.status();
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(part)) << absl::CHexEscape(text);
}

TEST(CheckpointVectorsTest, Marshal) {
  nlohmann::json doc = LoadJson("note/checkpoint-body-parse-vectors.json");
  ASSERT_EQ(doc["marshal"].size(), 2u);
  for (const auto& m : doc["marshal"]) {
    Checkpoint c{m["origin"], m["size"], m["hashUtf8"], {}};
    EXPECT_EQ(FormatCheckpoint(c), m["want"].get<std::string>());
  }
}

TEST(CheckpointVectorsTest, Unmarshal) {
  nlohmann::json doc = LoadJson("note/checkpoint-body-parse-vectors.json");
  int invalid = 0, lenient_only = 0;
  for (const auto& u : doc["unmarshal"]) {
    const std::string desc = u["desc"];
    const std::string body = u["body"];
    absl::StatusOr<Checkpoint> c = ParseCheckpoint(body);
    if (u["wantErr"].get<bool>()) {
      ++invalid;
      EXPECT_FALSE(c.ok()) << desc;
      EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << desc;
      continue;
    }
    // formats accepts these, but none has a 32-byte root: a strict SHA-256
    // parser must refuse them for exactly that reason...
    ++lenient_only;
    ASSERT_FALSE(c.ok()) << desc;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << desc;
    EXPECT_THAT(std::string(c.status().message()), HasSubstr("an RFC 6962 SHA-256 root is 32"))
        << desc;
    // ...and, with a 32-byte root in its place, parse the rest as formats does.
    std::vector<std::string> lines = absl::StrSplit(body, '\n');
    ASSERT_EQ(lines[2], u["hashB64"].get<std::string>());
    lines[2] = kRoot8B64;
    const std::string fixed = absl::StrJoin(lines, "\n");
    const std::string rest = u["rest"];
    absl::StatusOr<Checkpoint> f = ParseCheckpoint(fixed);
    if (rest.find("\n\n") != std::string::npos || rest == "\n") {
      // Empty extension lines: C2SP says MUST be non-empty.
      EXPECT_FALSE(f.ok()) << desc;
      EXPECT_THAT(std::string(f.status().message()), HasSubstr("extension line 4 is empty"));
      continue;
    }
    ASSERT_TRUE(f.ok()) << desc << ": " << f.status();
    EXPECT_EQ(f->origin, u["origin"].get<std::string>());
    EXPECT_EQ(f->size, u["size"].get<uint64_t>());
    EXPECT_EQ(Base64Encode(f->root_hash), kRoot8B64);
    std::string joined;
    for (const std::string& ext : f->extensions) absl::StrAppend(&joined, ext, "\n");
    EXPECT_EQ(joined, rest) << desc;
    EXPECT_EQ(FormatCheckpoint(*f), fixed);
  }
  EXPECT_EQ(invalid, 7);
  EXPECT_EQ(lenient_only, 5);
}

TEST(CheckpointTest, StrictGrammar) {
  const std::string root = kRoot8B64;
  ASSERT_TRUE(ParseCheckpoint("log\n8\n" + root + "\n").ok());
  ExpectInvalid("", "does not end with a newline");
  ExpectInvalid("log\n8\n" + root, "does not end with a newline");
  ExpectInvalid("log\n8\n", "needs origin, tree size and root hash");
  ExpectInvalid("\n8\n" + root + "\n", "origin (line 1) is empty");
  ExpectInvalid("log\n\n" + root + "\n", "tree size (line 2) is empty");
  ExpectInvalid("log\n08\n" + root + "\n", "leading zero");
  ExpectInvalid("log\n00\n" + root + "\n", "leading zero");
  ExpectInvalid("log\n+8\n" + root + "\n", "not a decimal number");
  ExpectInvalid("log\n-0\n" + root + "\n", "not a decimal number");
  ExpectInvalid("log\n 8\n" + root + "\n", "not a decimal number");
  ExpectInvalid("log\n8 \n" + root + "\n", "not a decimal number");
  ExpectInvalid("log\n0x8\n" + root + "\n", "not a decimal number");
  ExpectInvalid("log\n18446744073709551616\n" + root + "\n", "does not fit in 64 bits");
  ExpectInvalid("log\n99999999999999999999\n" + root + "\n", "does not fit in 64 bits");
  ExpectInvalid("log\n8\n" + root.substr(0, 43) + "\n", "not canonical");
  // Unused low bits set in the last base64 character: non-canonical.
  ExpectInvalid("log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=\n", "not canonical");
  ExpectInvalid("log\n8\n" + Base64Encode(std::string(31, 'r')) + "\n", "is 31 bytes");
  ExpectInvalid("log\n8\n" + Base64Encode(std::string(33, 'r')) + "\n", "is 33 bytes");
  ExpectInvalid("log\n8\n" + root + "\n\n", "extension line 4 is empty");
  ExpectInvalid("log\n8\n" + root + "\next\n\n", "extension line 5 is empty");
  ExpectInvalid("log\r\n8\r\n" + root + "\r\n", "CRLF");
  ExpectInvalid("log\n8\n" + root + "\nbad\x01\n", "control character U+0001");
  ExpectInvalid("l\xFFg\n8\n" + root + "\n", "invalid UTF-8");

  absl::StatusOr<Checkpoint> max = ParseCheckpoint("log\n18446744073709551615\n" + root + "\n");
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ(max->size, UINT64_MAX);
  absl::StatusOr<Checkpoint> zero = ParseCheckpoint("log with spaces\n0\n" + root + "\na\nb b\n");
  ASSERT_TRUE(zero.ok()) << zero.status();
  EXPECT_EQ(zero->origin, "log with spaces");  // SHOULD, not MUST, be a key name
  EXPECT_EQ(zero->size, 0u);
  EXPECT_THAT(zero->extensions, ElementsAre("a", "b b"));
}

TEST(CheckpointTest, GeneratedVectorsAgreeWithMerkleKat) {
  // The generated checkpoints' roots are the CT KAT roots (merkle vectors),
  // an independent source for what OpenCheckpoint must return.
  nlohmann::json notes = LoadJson("note/note-vectors.json");
  nlohmann::json kat = LoadJson("merkle/ct-cpp-merkle-kat.json");
  int opened_count = 0;
  for (const auto& e : notes["generated"]) {
    if (e["expect"] != "verify" || !e.contains("treeSize")) continue;
    const std::vector<Verifier> known = KnownKeys(e);
    absl::StatusOr<Checkpoint> c = OpenCheckpoint(e["signedNote"].get<std::string>(), known[0]);
    ASSERT_TRUE(c.ok()) << e["id"] << ": " << c.status();
    const uint64_t size = e["treeSize"];
    EXPECT_EQ(c->origin, e["origin"].get<std::string>());
    EXPECT_EQ(c->size, size);
    const std::string want_root = size == 0
                                      ? kat["emptyTreeRoot"].get<std::string>()
                                      : kat["rootsBySize"][std::to_string(size)].get<std::string>();
    EXPECT_EQ(HexEncode(c->root_hash), want_root) << e["id"];
    EXPECT_EQ(HexEncode(c->root_hash), e["rootHashHex"].get<std::string>());
    if (e["id"] == "ledger-checkpoint-extension-line") {
      EXPECT_THAT(c->extensions,
                  ElementsAre("ledger-chain-head "
                              "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
    } else {
      EXPECT_TRUE(c->extensions.empty());
    }
    ++opened_count;
  }
  EXPECT_EQ(opened_count, 5);
}

TEST(CheckpointTest, OpenCheckpointNeedsTheLedgerSignature) {
  nlohmann::json doc = LoadJson("note/note-vectors.json");
  absl::StatusOr<Verifier> log =
      ParseVerifierKey(doc["generatedKeys"]["log"]["vkey"].get<std::string>());
  absl::StatusOr<Verifier> witness =
      ParseVerifierKey(doc["generatedKeys"]["witness"]["vkey"].get<std::string>());
  ASSERT_TRUE(log.ok() && witness.ok());
  for (const auto& e : doc["generated"]) {
    const std::string note = e["signedNote"];
    absl::StatusOr<Checkpoint> c = OpenCheckpoint(note, *log);
    EXPECT_EQ(c.ok(), e["expect"] == "verify") << e["id"] << ": " << c.status();
    // The witness signed some of them, but its name is not the origin.
    absl::StatusOr<Checkpoint> w = OpenCheckpoint(note, *witness);
    EXPECT_FALSE(w.ok()) << e["id"];
    if (e["id"] == "ledger-checkpoint-two-signers") {
      EXPECT_THAT(std::string(w.status().message()), HasSubstr("is not the ledger key's name"));
    }
  }
}

TEST(CheckpointTest, SignAndOpenWithFreshKeys) {
  NoteSigner ledger("trialog.example/ledger/IMT-ALK-01", crypto::SigningKey::Generate());
  NoteSigner witness("witness.example/w", crypto::SigningKey::Generate());
  const Checkpoint c{ledger.name(), 1234567, crypto::Sha256("root"), {"ext one", "ext-two"}};
  absl::StatusOr<std::string> note = SignCheckpoint(c, ledger);
  ASSERT_TRUE(note.ok()) << note.status();
  absl::StatusOr<Checkpoint> back = OpenCheckpoint(*note, ledger.verifier());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->origin, c.origin);
  EXPECT_EQ(back->size, c.size);
  EXPECT_EQ(back->root_hash, c.root_hash);
  EXPECT_EQ(back->extensions, c.extensions);

  // A witness's extra signature does not disturb the ledger's.
  absl::StatusOr<std::string> cosigned = SignNote(FormatCheckpoint(c), {&ledger, &witness});
  ASSERT_TRUE(cosigned.ok());
  EXPECT_TRUE(OpenCheckpoint(*cosigned, ledger.verifier()).ok());
  // Only the witness signed: the ledger's signature is missing.
  absl::StatusOr<std::string> witness_only = SignNote(FormatCheckpoint(c), {&witness});
  ASSERT_TRUE(witness_only.ok());
  EXPECT_EQ(OpenCheckpoint(*witness_only, ledger.verifier()).status().code(),
            absl::StatusCode::kUnauthenticated);
  // A different key under the ledger's name.
  NoteSigner other(ledger.name(), crypto::SigningKey::Generate());
  EXPECT_EQ(OpenCheckpoint(*note, other.verifier()).status().code(),
            absl::StatusCode::kUnauthenticated);
  // A signed note whose text is not a checkpoint.
  absl::StatusOr<std::string> not_cp = SignNote("hello\n", {&ledger});
  ASSERT_TRUE(not_cp.ok());
  EXPECT_EQ(OpenCheckpoint(*not_cp, ledger.verifier()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CheckpointTest, SignCheckpointValidates) {
  NoteSigner ledger("example.com/ledger", crypto::SigningKey::Generate());
  Checkpoint c{ledger.name(), 1, crypto::Sha256("x"), {}};
  ASSERT_TRUE(SignCheckpoint(c, ledger).ok());
  Checkpoint short_root = c;
  short_root.root_hash.pop_back();
  EXPECT_THAT(std::string(SignCheckpoint(short_root, ledger).status().message()),
              HasSubstr("is 31 bytes"));
  Checkpoint other_origin = c;
  other_origin.origin = "example.com/other";
  EXPECT_THAT(std::string(SignCheckpoint(other_origin, ledger).status().message()),
              HasSubstr("does not match checkpoint origin"));
  Checkpoint empty_ext = c;
  empty_ext.extensions = {""};
  EXPECT_EQ(SignCheckpoint(empty_ext, ledger).status().code(), absl::StatusCode::kInvalidArgument);
  Checkpoint newline_ext = c;
  newline_ext.extensions = {"a\nb"};
  // Would format as two extension lines: not the checkpoint the caller meant.
  EXPECT_THAT(std::string(SignCheckpoint(newline_ext, ledger).status().message()),
              HasSubstr("extension 0 contains a newline"));
  Checkpoint newline_origin = c;
  newline_origin.origin = "example.com/ledger\n1";
  EXPECT_THAT(std::string(CheckCheckpoint(newline_origin).message()),
              HasSubstr("origin contains a newline"));
  Checkpoint crlf = c;
  crlf.origin = "example.com/ledger\r";
  EXPECT_THAT(std::string(CheckCheckpoint(crlf).message()), HasSubstr("CRLF"));
}

}  // namespace
}  // namespace trialog::note
