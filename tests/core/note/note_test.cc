#include "core/note/note.h"

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/crypto/crypto.h"
#include "core/note/checkpoint.h"
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
using testing::ReadVectorFile;

constexpr char kEmDash[] = "\xE2\x80\x94";

// The note text as the spec defines it: up to and including the newline
// before the last blank line.
std::string SpecText(const std::string& note) { return note.substr(0, note.rfind("\n\n") + 1); }

// Signature lines (without "\n") after the last blank line.
std::vector<std::string> SpecSigLines(const std::string& note) {
  std::string sigs = note.substr(note.rfind("\n\n") + 2);
  std::vector<std::string> lines = absl::StrSplit(sigs, '\n');
  lines.pop_back();  // after the final "\n"
  return lines;
}

std::vector<std::string> Names(const std::vector<NoteSignature>& sigs) {
  std::vector<std::string> out;
  for (const auto& s : sigs) out.push_back(s.name);
  return out;
}

struct Rejection {
  absl::StatusCode code;
  std::string message;
};

// What OpenNote must say about each negative vector of note-vectors.json.
const std::map<std::string, Rejection>& ExpectedRejections() {
  static const auto* table = new std::map<std::string, Rejection>{
      {"neg-tampered-size", {absl::StatusCode::kUnauthenticated, "does not verify"}},
      {"neg-tampered-root", {absl::StatusCode::kUnauthenticated, "does not verify"}},
      {"neg-only-unknown-signer",
       {absl::StatusCode::kUnauthenticated, "no signature by a known key (1 by unknown keys)"}},
      {"neg-wrong-key-name-in-sigline",
       {absl::StatusCode::kUnauthenticated, "no signature by a known key"}},
      {"neg-wrong-key-id", {absl::StatusCode::kUnauthenticated, "no signature by a known key"}},
      {"neg-corrupted-signature",
       {absl::StatusCode::kUnauthenticated,
        "signature by example.com/audit-ledger+8593ba3b does not verify"}},
      {"neg-missing-blank-line",
       {absl::StatusCode::kInvalidArgument, "no blank line before signatures"}},
      {"neg-crlf", {absl::StatusCode::kInvalidArgument, "CR (U+000D) at byte 24: CRLF"}},
      {"neg-hyphen-instead-of-emdash",
       {absl::StatusCode::kInvalidArgument, "signature line 1 does not start with U+2014"}},
      {"neg-trailing-text-after-sigs",
       {absl::StatusCode::kInvalidArgument, "signature line 2 does not start with U+2014"}},
      {"neg-no-final-newline",
       {absl::StatusCode::kInvalidArgument, "note does not end with a newline"}},
      {"neg-short-signature",
       {absl::StatusCode::kInvalidArgument, "is 36 bytes; Ed25519 signatures are 64"}},
  };
  return *table;
}

// Checks OpenNote against one vector entry's `expect`; returns true if it
// was a "verify" entry.
bool CheckVectorEntry(const nlohmann::json& e) {
  const std::string id = e["id"];
  const std::string note = e["signedNote"];
  const std::vector<Verifier> known = KnownKeys(e);
  absl::StatusOr<OpenedNote> opened = OpenNote(note, known);
  if (e["expect"] == "verify") {
    EXPECT_TRUE(opened.ok()) << id << ": " << opened.status();
    if (!opened.ok()) return true;
    EXPECT_EQ(opened->text, SpecText(note)) << id;
    // Every signature line is accounted for, and every verified one is by a known key.
    EXPECT_EQ(opened->verified.size() + opened->unverified.size(), SpecSigLines(note).size()) << id;
    std::set<std::string> known_names;
    for (const Verifier& v : known) known_names.insert(v.name);
    for (const NoteSignature& s : opened->verified) {
      EXPECT_TRUE(known_names.count(s.name)) << id << ": " << s.name;
      EXPECT_EQ(s.signature.size(), 64u);
    }
    for (const NoteSignature& s : opened->unverified) {
      EXPECT_FALSE(known_names.count(s.name)) << id << ": " << s.name;
    }
    return true;
  }
  EXPECT_EQ(e["expect"], "reject") << id;
  EXPECT_FALSE(opened.ok()) << id;
  auto it = ExpectedRejections().find(id);
  EXPECT_NE(it, ExpectedRejections().end()) << "no expected rejection listed for " << id;
  if (!opened.ok() && it != ExpectedRejections().end()) {
    EXPECT_EQ(opened.status().code(), it->second.code) << id << ": " << opened.status();
    EXPECT_THAT(std::string(opened.status().message()), HasSubstr(it->second.message)) << id;
  }
  return false;
}

TEST(NoteVectorsTest, UpstreamEntries) {
  nlohmann::json doc = LoadJson("note/note-vectors.json");
  int verified = 0;
  for (const auto& e : doc["upstream"]) verified += CheckVectorEntry(e);
  EXPECT_EQ(verified, 4);
}

TEST(NoteVectorsTest, GeneratedEntries) {
  nlohmann::json doc = LoadJson("note/note-vectors.json");
  int verified = 0, rejected = 0;
  for (const auto& e : doc["generated"]) {
    if (CheckVectorEntry(e)) {
      ++verified;
    } else {
      ++rejected;
    }
    // The Go reference agreed with every expectation.
    EXPECT_EQ(e["goReferenceResult"] == "verified", e["expect"] == "verify") << e["id"];
  }
  EXPECT_EQ(verified, 6);
  EXPECT_EQ(rejected, 12);
  EXPECT_EQ(ExpectedRejections().size(), 12u);
}

TEST(NoteVectorsTest, RealWorldSumdbCheckpoints) {
  nlohmann::json doc = LoadJson("note/note-vectors.json");
  std::vector<nlohmann::json> entries(doc["realWorldSumdb"].begin(), doc["realWorldSumdb"].end());
  entries.push_back(doc["upstream"][3]);  // sumdb-real-6476701
  ASSERT_EQ(entries.size(), 6u);
  absl::StatusOr<Verifier> sumdb =
      ParseVerifierKey("sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8");
  ASSERT_TRUE(sumdb.ok());
  for (const auto& e : entries) {
    const std::string note = e["signedNote"];
    EXPECT_TRUE(CheckVectorEntry(e)) << e["id"];
    absl::StatusOr<OpenedNote> opened = OpenNote(note, {*sumdb});
    ASSERT_TRUE(opened.ok()) << e["id"] << ": " << opened.status();
    EXPECT_THAT(Names(opened->verified), ElementsAre("sum.golang.org"));
    absl::StatusOr<Checkpoint> c = ParseCheckpoint(opened->text);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->origin, e["origin"].get<std::string>());
    EXPECT_EQ(c->size, e["treeSize"].get<uint64_t>());
    // sum.golang.org's origin is not its key name, so OpenCheckpoint refuses it.
    absl::StatusOr<Checkpoint> strict = OpenCheckpoint(note, *sumdb);
    EXPECT_EQ(strict.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(std::string(strict.status().message()), HasSubstr("is not the ledger key's name"));
  }
}

TEST(NoteVectorsTest, GoKnownKeySignatureIsReproducedByteForByte) {
  nlohmann::json doc = LoadJson("note/note-vectors.json");
  const auto& e = doc["upstream"][1];
  ASSERT_EQ(e["id"], "go-xmod-peterneumann");
  absl::StatusOr<NoteSigner> signer = ParseGoPrivateKey(e["signerKey"].get<std::string>());
  ASSERT_TRUE(signer.ok()) << signer.status();
  const std::string text = e["text"];
  EXPECT_EQ(text, ReadVectorFile("note/files/go-xmod-peterneumann.text"));
  absl::StatusOr<std::string> note = SignNote(text, {&*signer});
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_EQ(*note, e["signedNote"].get<std::string>());
}

TEST(NoteVectorsTest, GeneratedNotesAreReproducedByteForByte) {
  // Ed25519 is deterministic: re-signing each positive generated checkpoint's
  // text with the vector's TEST keys must give the same signature lines.
  nlohmann::json doc = LoadJson("note/note-vectors.json");
  std::map<std::string, NoteSigner> signers;
  for (const auto& [role, k] : doc["generatedKeys"].items()) {
    absl::StatusOr<NoteSigner> s = ParseGoPrivateKey(k["skey"].get<std::string>());
    ASSERT_TRUE(s.ok());
    signers.emplace(s->name(), *s);
  }
  int reproduced = 0;
  for (const auto& e : doc["generated"]) {
    if (e["expect"] != "verify") continue;
    const std::string note = e["signedNote"];
    std::vector<const NoteSigner*> order;
    for (const std::string& line : SpecSigLines(note)) {
      const std::string name = line.substr(4, line.rfind(' ') - 4);  // after "— "
      ASSERT_TRUE(signers.count(name)) << name;
      order.push_back(&signers.at(name));
    }
    absl::StatusOr<std::string> again = SignNote(SpecText(note), order);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, note) << e["id"];
    ++reproduced;
  }
  EXPECT_EQ(reproduced, 6);
}

TEST(NoteVectorsTest, TwoSignaturesAndPartialKnowledge) {
  nlohmann::json doc = LoadJson("note/note-vectors.json");
  const auto& e = doc["upstream"][2];
  ASSERT_EQ(e["id"], "go-xmod-peterneumann-enochroot");
  const std::string note = e["signedNote"];
  const std::vector<Verifier> both = KnownKeys(e);
  ASSERT_EQ(both.size(), 2u);

  absl::StatusOr<OpenedNote> all = OpenNote(note, both);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Names(all->verified), ElementsAre("PeterNeumann", "EnochRoot"));
  EXPECT_TRUE(all->unverified.empty());

  absl::StatusOr<OpenedNote> peter = OpenNote(note, {both[0]});
  ASSERT_TRUE(peter.ok()) << peter.status();
  EXPECT_THAT(Names(peter->verified), ElementsAre("PeterNeumann"));
  ASSERT_THAT(Names(peter->unverified), ElementsAre("EnochRoot"));
  EXPECT_EQ(peter->unverified[0].key_id, 0xaf0cfe78u);
  EXPECT_EQ(peter->unverified[0].signature.size(), 64u);

  absl::StatusOr<OpenedNote> enoch = OpenNote(note, {both[1]});
  ASSERT_TRUE(enoch.ok()) << enoch.status();
  EXPECT_THAT(Names(enoch->verified), ElementsAre("EnochRoot"));

  absl::StatusOr<OpenedNote> none = OpenNote(note, {});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(NoteVectorsTest, FilesMatchJson) {
  nlohmann::json doc = LoadJson("note/note-vectors.json");
  std::map<std::string, std::string> by_id;
  for (const char* section : {"upstream", "generated", "realWorldSumdb"}) {
    for (const auto& e : doc[section]) by_id[e["id"]] = e["signedNote"];
  }
  ASSERT_EQ(by_id.size(), 27u);
  int notes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::VectorPath("note/files"))) {
    const std::filesystem::path& path = entry.path();
    if (path.extension() != ".note") continue;
    const std::string id = path.stem().string();
    ASSERT_TRUE(by_id.count(id)) << "file without JSON entry: " << path;
    EXPECT_EQ(ReadVectorFile("note/files/" + path.filename().string()), by_id[id]) << id;
    ++notes;
  }
  EXPECT_EQ(notes, 27);
}

// --- Round trips with fresh keys --------------------------------------------

TEST(SignNoteTest, RoundTripsWithFreshKeys) {
  const std::vector<std::string> texts = {
      "\n",
      "single line\n",
      "a\n\n\nb\n",                  // blank lines inside the text
      "ends with a blank line\n\n",  // text's last line is empty
      "— looks.like/a-signature AAAAAAA=\n",
      "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \xC3\xA8 subito "
      "sera.\n",
      std::string(100000, 'x') + "\n",
  };
  NoteSigner a("example.com/a", crypto::SigningKey::Generate());
  NoteSigner b("example.com/b", crypto::SigningKey::Generate());
  NoteSigner c("other.example/c\xC3\xA9", crypto::SigningKey::Generate());
  for (const std::string& text : texts) {
    absl::StatusOr<std::string> note = SignNote(text, {&a, &b, &c});
    ASSERT_TRUE(note.ok()) << note.status();
    EXPECT_EQ(note->substr(0, text.size() + 1), text + "\n");
    EXPECT_EQ(SpecSigLines(*note).size(), 3u);

    absl::StatusOr<OpenedNote> all = OpenNote(*note, {a.verifier(), b.verifier(), c.verifier()});
    ASSERT_TRUE(all.ok()) << all.status();
    EXPECT_EQ(all->text, text);
    EXPECT_THAT(Names(all->verified), ElementsAre(a.name(), b.name(), c.name()));
    EXPECT_EQ(all->verified[1].key_id, b.key_id());
    EXPECT_TRUE(crypto::Verify(b.key().public_key(), text, all->verified[1].signature));

    absl::StatusOr<OpenedNote> only_b = OpenNote(*note, {b.verifier()});
    ASSERT_TRUE(only_b.ok()) << only_b.status();
    EXPECT_THAT(Names(only_b->verified), ElementsAre(b.name()));
    EXPECT_THAT(Names(only_b->unverified), ElementsAre(a.name(), c.name()));

    // Same name, different key: the id differs, so the signature is unknown.
    NoteSigner impostor("example.com/a", crypto::SigningKey::Generate());
    EXPECT_EQ(OpenNote(*note, {impostor.verifier()}).status().code(),
              absl::StatusCode::kUnauthenticated);
  }
}

TEST(SignNoteTest, RejectsBadTextAndSigners) {
  NoteSigner a("example.com/a", crypto::SigningKey::Generate());
  NoteSigner spaced("bad name", crypto::SigningKey::Generate());
  NoteSigner plus("bad+name", crypto::SigningKey::Generate());
  const std::vector<std::pair<std::string, std::string>> bad_texts = {
      {"", "empty"},
      {"no newline", "does not end with a newline"},
      {"crlf\r\n", "CRLF"},
      {"bell\x07\n", "control character U+0007"},
      {"tab\there\n", "control character U+0009"},
      {std::string("nul\0x\n", 6), "control character U+0000"},
      {"bad\xFF\n", "invalid UTF-8 at byte 3"},
      {"overlong\xC0\x80\n", "invalid UTF-8"},
      {"surrogate\xED\xB0\x80\n", "invalid UTF-8"},
      {"above max\xF4\x90\x80\x80\n", "invalid UTF-8"},
      {"truncated\xE2\x80\n", "invalid UTF-8"},
  };
  for (const auto& [text, part] : bad_texts) {
    absl::StatusOr<std::string> note = SignNote(text, {&a});
    ASSERT_FALSE(note.ok()) << text;
    EXPECT_EQ(note.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(note.status().message()), HasSubstr(part));
  }
  EXPECT_THAT(std::string(SignNote("t\n", {}).status().message()), HasSubstr("no signers"));
  EXPECT_THAT(std::string(SignNote("t\n", {&a, nullptr}).status().message()),
              HasSubstr("null signer"));
  EXPECT_THAT(std::string(SignNote("t\n", {&spaced}).status().message()), HasSubstr("white space"));
  EXPECT_THAT(std::string(SignNote("t\n", {&plus}).status().message()), HasSubstr("'+'"));
}

// --- Strict parsing ------------------------------------------------------------

class OpenNoteTest : public ::testing::Test {
 protected:
  OpenNoteTest()
      : signer_("example.com/log", crypto::SigningKey::Generate()),
        note_(*SignNote("example.com/log\n3\nroot\n", {&signer_})) {}

  absl::Status Open(const std::string& note) const {
    return OpenNote(note, {signer_.verifier()}).status();
  }
  std::string SigLine() const { return note_.substr(note_.rfind("\n\n") + 2); }

  NoteSigner signer_;
  std::string note_;
};

TEST_F(OpenNoteTest, Accepts) { EXPECT_TRUE(Open(note_).ok()); }

TEST_F(OpenNoteTest, RejectsMalformedNotes) {
  const std::string text = "example.com/log\n3\nroot\n";
  const std::string line = SigLine();  // "— example.com/log <b64>\n"
  const std::string b64 = line.substr(line.rfind(' ') + 1, line.size() - line.rfind(' ') - 2);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty note"},
      {text, "no blank line before signatures"},
      {text + "\n", "no signature lines"},
      {text + "\n" + line + "\n", "no signature lines"},  // last blank line is at the end
      {text + "\n" + line + "x\n", "signature line 2 does not start with U+2014"},
      {text + "\n" + line + line.substr(0, line.size() - 1), "does not end with a newline"},
      {text + "\n" + absl::StrCat(kEmDash, "example.com/log ", b64, "\n"),
       "does not start with U+2014"},
      {text + "\n" + absl::StrCat(kEmDash, " example.com/log\n"), "no space between"},
      {text + "\n" + absl::StrCat(kEmDash, "  example.com/log ", b64, "\n"), "key name is empty"},
      {text + "\n" + absl::StrCat(kEmDash, " example.com/log  ", b64, "\n"),
       "not canonical standard base64"},
      {text + "\n" + absl::StrCat(kEmDash, " example.com/log ", b64, " \n"),
       "not canonical standard base64"},
      {text + "\n" + absl::StrCat(kEmDash, " example.com/log \n"), "signature is 0 bytes"},
      {text + "\n" + absl::StrCat(kEmDash, " example.com/log AAAAAA==\n"),
       "signature is 4 bytes; need a 4-byte key id"},
      {text + "\n" + absl::StrCat(kEmDash, " a+b ", b64, "\n"), "contains '+'"},
      {text + "\n" + absl::StrCat("\xE2\x80\x93 example.com/log ", b64, "\n"),  // en dash
       "does not start with U+2014"},
      {"bad\xC3\n\n" + line, "invalid UTF-8 at byte 3"},
      {text + "\n" + line.substr(0, line.size() - 1) + "\r\n", "CRLF"},
  };
  for (const auto& [note, part] : cases) {
    absl::Status s = Open(note);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << absl::CHexEscape(note) << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(part)) << absl::CHexEscape(note);
  }
}

TEST_F(OpenNoteTest, NonCanonicalBase64SignatureIsMalformed) {
  // 68 bytes encode to 92 characters ending in "=": the character before it
  // has two unused low bits. Setting one keeps Go's decoder happy, not ours.
  const std::string line = SigLine();
  const size_t last = line.size() - 3;  // before "=\n"
  ASSERT_EQ(line[last + 1], '=');
  std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bad = line;
  bad[last] = alphabet[alphabet.find(line[last]) | 1];
  if (bad == line) bad[last] = alphabet[alphabet.find(line[last]) | 2];
  absl::Status s = Open(note_.substr(0, note_.size() - line.size()) + bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("not canonical"));
}

TEST_F(OpenNoteTest, DuplicateAndUnknownSignatures) {
  const std::string line = SigLine();
  // A repeated valid signature counts once.
  absl::StatusOr<OpenedNote> twice = OpenNote(note_ + line, {signer_.verifier()});
  ASSERT_TRUE(twice.ok()) << twice.status();
  EXPECT_EQ(twice->verified.size(), 1u);
  // A second, bad signature by the same known key is verified and rejected.
  std::string forged = line;
  forged[forged.size() - 10] = forged[forged.size() - 10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(OpenNote(note_ + forged, {signer_.verifier()}).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Unknown signatures of any length (e.g. 72-byte cosignatures) are ignored;
  // identical unknown lines are kept once.
  const std::string cosig =
      absl::StrCat(kEmDash, " witness.example/w ", Base64Encode(std::string(76, 'w')), "\n");
  absl::StatusOr<OpenedNote> with_unknown = OpenNote(note_ + cosig + cosig, {signer_.verifier()});
  ASSERT_TRUE(with_unknown.ok()) << with_unknown.status();
  ASSERT_EQ(with_unknown->unverified.size(), 1u);
  EXPECT_EQ(with_unknown->unverified[0].signature, std::string(72, 'w'));
  EXPECT_EQ(with_unknown->unverified[0].key_id, 0x77777777u);
}

TEST_F(OpenNoteTest, SignatureCountLimit) {
  // At least 16 distinct signers must be accepted (spec); 100 lines are the limit.
  std::vector<NoteSigner> signers;
  std::vector<const NoteSigner*> ptrs;
  std::vector<Verifier> known;
  for (int i = 0; i < 16; ++i) {
    signers.emplace_back(absl::StrCat("example.com/s", i), crypto::SigningKey::Generate());
  }
  for (const NoteSigner& s : signers) {
    ptrs.push_back(&s);
    known.push_back(s.verifier());
  }
  absl::StatusOr<std::string> sixteen = SignNote("t\n", ptrs);
  ASSERT_TRUE(sixteen.ok());
  absl::StatusOr<OpenedNote> opened = OpenNote(*sixteen, known);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->verified.size(), 16u);

  std::string hundred = note_;
  for (int i = 1; i < 100; ++i) hundred += SigLine();
  EXPECT_TRUE(Open(hundred).ok());
  absl::Status s = Open(hundred + SigLine());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("more than 100 signature lines"));
  EXPECT_FALSE(SignNote("t\n", std::vector<const NoteSigner*>(101, &signer_)).ok());
}

TEST_F(OpenNoteTest, RejectsInvalidKnownVerifiers) {
  Verifier wrong_id = signer_.verifier();
  wrong_id.key_id ^= 1;
  absl::Status s = OpenNote(note_, {wrong_id}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("does not match its name and key"));
  Verifier short_key = signer_.verifier();
  short_key.public_key.pop_back();
  EXPECT_THAT(std::string(OpenNote(note_, {short_key}).status().message()),
              HasSubstr("public key is 31 bytes"));
  Verifier bad_name = signer_.verifier();
  bad_name.name = "";
  EXPECT_EQ(OpenNote(note_, {bad_name}).status().code(), absl::StatusCode::kInvalidArgument);
  // The same key listed twice is not ambiguous.
  EXPECT_TRUE(OpenNote(note_, {signer_.verifier(), signer_.verifier()}).ok());
}

// --- Mutations ---------------------------------------------------------------------

// Flips every bit of every byte of `note` in turn. Each mutant must fail to
// open unless the flipped byte lies in an ignored (unknown-signer) signature
// line, in which case the text and the verified signatures must not change.
void CheckAllBitFlips(const std::string& note, const std::vector<Verifier>& known,
                      size_t unknown_begin, size_t unknown_end) {
  absl::StatusOr<OpenedNote> original = OpenNote(note, known);
  ASSERT_TRUE(original.ok()) << original.status();
  int rejected = 0, tolerated = 0;
  for (size_t i = 0; i < note.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string mutant = note;
      mutant[i] = static_cast<char>(mutant[i] ^ (1 << bit));
      absl::StatusOr<OpenedNote> opened = OpenNote(mutant, known);
      const bool in_unknown = i >= unknown_begin && i < unknown_end;
      if (!opened.ok()) {
        ++rejected;
        EXPECT_TRUE(opened.status().code() == absl::StatusCode::kInvalidArgument ||
                    opened.status().code() == absl::StatusCode::kUnauthenticated)
            << opened.status();
        continue;
      }
      ASSERT_TRUE(in_unknown) << "mutant accepted: byte " << i << " bit " << bit;
      ++tolerated;
      EXPECT_EQ(opened->text, original->text);
      ASSERT_EQ(opened->verified.size(), original->verified.size());
      for (size_t k = 0; k < opened->verified.size(); ++k) {
        EXPECT_EQ(opened->verified[k].name, original->verified[k].name);
        EXPECT_EQ(opened->verified[k].key_id, original->verified[k].key_id);
        EXPECT_EQ(opened->verified[k].signature, original->verified[k].signature);
      }
    }
  }
  EXPECT_GT(rejected, 0);
  if (unknown_end > unknown_begin) {
    EXPECT_GT(tolerated, 0);
  }
}

TEST(NoteMutationTest, EveryBitFlipOfACheckpointWithAnUnknownCosigner) {
  nlohmann::json doc = LoadJson("note/note-vectors.json");
  for (const auto& e : doc["generated"]) {
    if (e["id"] != "ledger-checkpoint-unknown-extra-sig") continue;
    const std::string note = e["signedNote"];
    const size_t unknown = note.find(std::string(kEmDash) + " witness.example.com/w1 ");
    ASSERT_NE(unknown, std::string::npos);
    CheckAllBitFlips(note, KnownKeys(e), unknown, note.size());
    return;
  }
  FAIL() << "vector not found";
}

TEST(NoteMutationTest, EveryBitFlipWithTheUnknownSignatureFirst) {
  NoteSigner log("example.com/log", crypto::SigningKey::Generate());
  NoteSigner witness("example.com/witness", crypto::SigningKey::Generate());
  absl::StatusOr<std::string> note =
      SignNote("example.com/log\n42\nabc\n\nxyz\n", {&witness, &log});
  ASSERT_TRUE(note.ok());
  const size_t begin = note->rfind("\n\n") + 2;
  const size_t end = note->find('\n', begin) + 1;
  CheckAllBitFlips(*note, {log.verifier()}, begin, end);
}

TEST(NoteMutationTest, EveryBitFlipOfASingleSignatureNote) {
  nlohmann::json doc = LoadJson("note/note-vectors.json");
  const auto& e = doc["upstream"][0];  // the spec's example
  ASSERT_EQ(e["id"], "c2sp-signed-note-example");
  CheckAllBitFlips(e["signedNote"], KnownKeys(e), 0, 0);
}

}  // namespace
}  // namespace trialog::note
