// Tests of export loading and ledger bundles: the verified input, the
// bundle's byte formats, writing, offline verification, and damage
// anywhere in a bundle (every file) making verification fail.

#include "tools/export/bundle.h"

#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/match.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/export/test_ledger.h"
#include "tests/export/test_util.h"
#include "tools/export/bundle_format.h"
#include "tools/export/event_json.h"
#include "tools/export/export_input.h"

namespace trialog::exporter {
namespace {

using export_test::ReadAll;
using export_test::SharedLedger;
using export_test::WriteAll;
using export_test::Exporter;

constexpr int64_t kCreated = 1767225600000000;  // 2026-01-01T00:00:00Z

std::unique_ptr<ExportInput> Load(const export_test::TestLedger& l) {
  absl::StatusOr<std::unique_ptr<ExportInput>> in =
      LoadExportInput(l.Reader(), l.entries.size(), l.checkpoint, l.ledger_vkey);
  EXPECT_TRUE(in.ok()) << in.status();
  return in.ok() ? *std::move(in) : nullptr;
}

std::string WriteBundle(const ExportInput& in, const std::string& name) {
  const std::string dir = export_test::NewTempDir(name) + "/bundle";
  absl::Status s = WriteLedgerBundle(in, Exporter(), dir, {kCreated});
  EXPECT_TRUE(s.ok()) << s;
  return dir;
}

TEST(LoadExportInput, VerifiesAndKeepsTheCheckpointsEntries) {
  const export_test::TestLedger& l = SharedLedger();
  ASSERT_GT(l.entries.size(), 600u);
  size_t planted = 0;
  for (const trial::SyntheticStep& s : l.plan.steps) planted += s.expect_refused;
  EXPECT_GE(planted, 1u);
  EXPECT_EQ(l.refused_steps, planted);  // the synthetic plan's planted violations only
  std::unique_ptr<ExportInput> in = Load(l);
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->entries.size(), l.entries.size());
  EXPECT_EQ(in->checkpoint.size, l.entries.size());
  for (size_t i = 0; i < l.entries.size(); ++i) ASSERT_EQ(in->entries[i].bytes, l.entries[i]);
  EXPECT_EQ(in->trial_id, "imt-crizotinib-ru-01");
  EXPECT_EQ(in->verification.finding, "ok");
  EXPECT_EQ(in->verification.entries_verified, l.entries.size());
  EXPECT_EQ(in->verification.signatures_checked, l.entries.size());
  EXPECT_EQ(in->state->SubjectIds().size(), 20u);
  EXPECT_EQ(in->registry.size(), l.plan.principals.size() + 1);
}

TEST(LoadExportInput, StopsAtTheCheckpointsSize) {
  const export_test::TestLedger& l = SharedLedger();
  const uint64_t size = 100;
  absl::StatusOr<std::unique_ptr<ExportInput>> in =
      LoadExportInput(l.Reader(), l.entries.size(), l.CheckpointAt(size), l.ledger_vkey);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ((*in)->entries.size(), size);
  EXPECT_EQ((*in)->state->last_index(), size - 1);
}

TEST(LoadExportInput, RefusesALedgerThatDoesNotVerify) {
  const export_test::TestLedger& l = SharedLedger();
  // A byte of entry 50's envelope changed: its signature no longer verifies.
  std::vector<std::string> damaged = l.entries;
  damaged[50][damaged[50].size() - 70] ^= 0x01;
  ledger::EntryReader reader = [&](uint64_t from, const std::function<bool(absl::string_view)>& sink) {
    for (uint64_t i = from; i < damaged.size(); ++i) {
      if (!sink(damaged[i])) break;
    }
    return absl::OkStatus();
  };
  ledger::AuditReport audit;
  absl::StatusOr<std::unique_ptr<ExportInput>> in =
      LoadExportInput(reader, damaged.size(), l.checkpoint, l.ledger_vkey, {}, &audit);
  ASSERT_FALSE(in.ok());
  EXPECT_EQ(in.status().code(), absl::StatusCode::kUnauthenticated) << in.status();
  EXPECT_TRUE(absl::StartsWith(in.status().message(), "the ledger does not verify (envelope_signature)"))
      << in.status();
  ASSERT_TRUE(audit.first_bad_index.has_value());
  EXPECT_EQ(*audit.first_bad_index, 50u);

  // Another ledger's key: the checkpoint does not verify.
  note::NoteSigner other("trialog.example/imt-crizotinib-ru-01", export_test::TestKey("other"));
  in = LoadExportInput(l.Reader(), l.entries.size(), l.checkpoint, other.verifier_key());
  EXPECT_EQ(in.status().code(), absl::StatusCode::kUnauthenticated) << in.status();
  in = LoadExportInput(l.Reader(), l.entries.size(), l.checkpoint, "not a key");
  EXPECT_EQ(in.status().code(), absl::StatusCode::kInvalidArgument) << in.status();
  // Fewer entries than the checkpoint covers.
  in = LoadExportInput(l.Reader(), 10, l.checkpoint, l.ledger_vkey);
  EXPECT_FALSE(in.ok());
}

TEST(BundleFormat, EntriesFileRoundTripsAndRejectsDamage) {
  std::vector<std::string> entries = {"a", std::string(300, 'b'), std::string(1, '\0')};
  absl::StatusOr<std::string> file = EncodeEntriesFile(entries);
  ASSERT_TRUE(file.ok());
  // Byte layout: magic, then 4-byte big-endian lengths.
  EXPECT_EQ(file->substr(0, 19), "TRIALOG-ENTRIES-V1\n");
  EXPECT_EQ(HexEncode(file->substr(19, 5)), "0000000161");
  EXPECT_EQ(HexEncode(file->substr(24, 4)), "0000012c");
  EXPECT_EQ(*DecodeEntriesFile(*file), entries);
  EXPECT_EQ(DecodeEntriesFile(file->substr(0, file->size() - 1)).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeEntriesFile(*file + std::string("\0\0", 2)).status().code(), absl::StatusCode::kDataLoss);
  std::string zero = *file;
  zero[19 + 3] = 0;  // length 0
  EXPECT_EQ(DecodeEntriesFile(zero).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeEntriesFile("TRIALOG-ENTRIES-V2\n").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(EncodeEntriesFile({""}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BundleFormat, ProofsFileRoundTrips) {
  std::vector<IndexedProof> proofs = {{3, 8, {std::string(32, 'x'), std::string(32, 'y')}}, {0, 1, {}}};
  absl::StatusOr<std::string> file = EncodeProofsFile(proofs);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->size(), 18 + 17 + 64 + 17);
  EXPECT_EQ(HexEncode(file->substr(18, 17)), "0000000000000003000000000000000802");
  absl::StatusOr<std::vector<IndexedProof>> back = DecodeProofsFile(*file);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].hashes, proofs[0].hashes);
  EXPECT_EQ((*back)[1].tree_size, 1u);
  EXPECT_EQ(DecodeProofsFile(file->substr(0, file->size() - 1)).status().code(), absl::StatusCode::kDataLoss);
  std::string big = *file;
  big[18 + 16] = 65;
  EXPECT_EQ(DecodeProofsFile(big).status().code(), absl::StatusCode::kDataLoss);
}

TEST(BundleFormat, ManifestRoundTripsAndIsStrict) {
  Manifest m;
  m.kind = "ledger-bundle";
  m.origin = "o.example/t";
  m.trial_id = "t";
  m.checkpoint_size = 7;
  m.checkpoint_root = std::string(32, '\x01');
  m.entries = 7;
  m.last_index = 6;
  m.head = std::string(32, '\x02');
  m.created = "2026-01-01T00:00:00.000000Z";
  m.files = {DescribeFile("a.bin", "x"), DescribeFile("b.txt", "")};
  absl::StatusOr<std::string> text = FormatManifest(m);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "trialog-export v1\nkind ledger-bundle\norigin o.example/t\ntrial t\ncheckpoint-size 7\n"
            "checkpoint-root AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\nentries 7\nfirst-index 0\n"
            "last-index 6\nhead 0202020202020202020202020202020202020202020202020202020202020202\n"
            "created 2026-01-01T00:00:00.000000Z\n"
            // SHA-256("x") and SHA-256("") (FIPS 180-4 known answer).
            "file a.bin 1 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881\n"
            "file b.txt 0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n");
  absl::StatusOr<Manifest> back = ParseManifest(*text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->files.size(), 2u);
  EXPECT_EQ(back->head, m.head);
  // Each line is required, in order; numbers have no leading zeros.
  std::vector<std::string> lines = absl::StrSplit(*text, '\n');
  for (size_t drop = 0; drop + 1 < lines.size(); ++drop) {
    std::vector<std::string> fewer = lines;
    fewer.erase(fewer.begin() + static_cast<long>(drop));
    std::string t = absl::StrJoin(fewer, "\n");
    if (absl::StartsWith(lines[drop], "file ")) continue;  // one of two file lines is still valid
    EXPECT_EQ(ParseManifest(t).status().code(), absl::StatusCode::kInvalidArgument) << "dropped line " << drop;
  }
  std::string zeros = *text;
  zeros.replace(zeros.find("entries 7"), 9, "entries 07");
  EXPECT_FALSE(ParseManifest(zeros).ok());
  std::string upper = *text;
  upper.replace(upper.find("head 02"), 7, "head 0A");
  EXPECT_FALSE(ParseManifest(upper).ok());
  // Bytes that are not note text (fuzz/regressions/bundle/manifest-invalid-utf8-origin):
  // the line grammar alone let these through.
  for (const char* bad : {"\xff", "\x01", "\xc3"}) {
    std::string odd = *text;
    odd.insert(odd.find("origin o.example") + 16, bad);
    EXPECT_EQ(ParseManifest(odd).status().code(), absl::StatusCode::kInvalidArgument)
        << absl::CHexEscape(bad);
  }
  m.files = {DescribeFile("b.txt", ""), DescribeFile("a.bin", "x")};
  EXPECT_FALSE(FormatManifest(m).ok());
}

TEST(EventJson, LinesRenderTheEntryAndCheckAgainstIt) {
  std::unique_ptr<ExportInput> in = Load(SharedLedger());
  ASSERT_NE(in, nullptr);
  int corrections = 0;
  for (const ledger::ParsedEntry& e : in->entries) {
    absl::StatusOr<std::string> line = EventJsonLine(e);
    ASSERT_TRUE(line.ok());
    ASSERT_EQ(line->find('\n'), std::string::npos);
    nlohmann::json j = nlohmann::json::parse(*line);
    // Independent recomputation of what the line states.
    EXPECT_EQ(j["index"].get<uint64_t>(), e.entry.index());
    EXPECT_EQ(j["leaf_hash"], HexEncode(crypto::Sha256(absl::StrCat(std::string(1, '\0'), e.bytes))));
    EXPECT_EQ(j["envelope"]["event_id"], Base64Encode(e.envelope.event_id()));
    EXPECT_EQ(j["envelope"]["actor"]["principal_id"], e.envelope.actor().principal_id());
    if (j["kind"] == "trial.data_corrected") {
      ++corrections;
      EXPECT_FALSE(j["envelope"]["event"]["trial"]["data_corrected"]["field_path"].get<std::string>().empty());
    }
    EXPECT_TRUE(CheckEventLine(*line, e).ok());
  }
  EXPECT_EQ(corrections, 3);
  // Local time carries the site's offset (Moscow, +03:00; R-07).
  nlohmann::json j = nlohmann::json::parse(*EventJsonLine(in->entries[30]));
  EXPECT_TRUE(absl::EndsWith(j["observed_at_local"].get<std::string>(), "+03:00"));
  EXPECT_TRUE(absl::EndsWith(j["recorded_at"].get<std::string>(), "Z"));

  const ledger::ParsedEntry& e = in->entries[40];
  std::string line = *EventJsonLine(e);
  nlohmann::ordered_json edited = nlohmann::ordered_json::parse(line);
  edited["envelope"]["actor"]["printed_name"] = "Someone Else";
  EXPECT_EQ(CheckEventLine(edited.dump(), e).code(), absl::StatusCode::kDataLoss);
  edited = nlohmann::ordered_json::parse(line);
  edited["note"] = "approved";
  EXPECT_EQ(CheckEventLine(edited.dump(), e).code(), absl::StatusCode::kDataLoss);
  edited = nlohmann::ordered_json::parse(line);
  edited["stream_version"] = e.entry.stream_version() + 1;
  EXPECT_EQ(CheckEventLine(edited.dump(), e).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(CheckEventLine("{", e).code(), absl::StatusCode::kDataLoss);
  // Whitespace and key order do not matter, values do.
  nlohmann::json reordered = nlohmann::json::parse(line);
  EXPECT_TRUE(CheckEventLine(reordered.dump(2), e).ok());
}

TEST(LedgerBundle, WritesAndVerifiesOffline) {
  std::unique_ptr<ExportInput> in = Load(SharedLedger());
  ASSERT_NE(in, nullptr);
  const std::string dir = WriteBundle(*in, "ok");
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"README.txt", "checkpoint.note", "entries.bin", "events.jsonl",
                                          "exporter.vkey", "ledger.vkey", "manifest.note"}));
  // The entries are the ledger's exact bytes; the checkpoint is the signed one.
  EXPECT_EQ(*DecodeEntriesFile(ReadAll(dir + "/entries.bin")), SharedLedger().entries);
  EXPECT_EQ(ReadAll(dir + "/checkpoint.note"), SharedLedger().checkpoint);
  EXPECT_EQ(ReadAll(dir + "/ledger.vkey"), SharedLedger().ledger_vkey + "\n");

  BundleVerification v = VerifyLedgerBundle(dir, SharedLedger().ledger_vkey);
  EXPECT_EQ(v.finding, ledger::Finding::kOk) << v.message;
  EXPECT_FALSE(v.exporter_key_pinned);
  EXPECT_EQ(v.audit.entries_verified, SharedLedger().entries.size());
  EXPECT_EQ(v.manifest.entries, SharedLedger().entries.size());
  EXPECT_EQ(v.manifest.created, "2026-01-01T00:00:00.000000Z");

  BundleTrust pinned{Exporter().verifier_key()};
  v = VerifyLedgerBundle(dir, SharedLedger().ledger_vkey, pinned);
  EXPECT_EQ(v.finding, ledger::Finding::kOk) << v.message;
  EXPECT_TRUE(v.exporter_key_pinned);

  BundleTrust wrong{note::NoteSigner("exports.example/sponsor", export_test::TestKey("x")).verifier_key()};
  v = VerifyLedgerBundle(dir, SharedLedger().ledger_vkey, wrong);
  EXPECT_EQ(v.finding, ledger::Finding::kUnreadable);
  EXPECT_NE(v.message.find("not the pinned exporter key"), std::string::npos) << v.message;

  // Writing over an existing bundle is refused.
  EXPECT_EQ(WriteLedgerBundle(*in, Exporter(), dir, {kCreated}).code(), absl::StatusCode::kAlreadyExists);
}

TEST(LedgerBundle, OneChangedByteAnywhereFailsVerification) {
  std::unique_ptr<ExportInput> in = Load(SharedLedger());
  ASSERT_NE(in, nullptr);
  const std::string dir = WriteBundle(*in, "flip");
  const std::string vkey = SharedLedger().ledger_vkey;
  int flips = 0;
  for (const auto& de : std::filesystem::directory_iterator(dir)) {
    const std::string path = de.path().string();
    const std::string name = de.path().filename().string();
    const std::string original = ReadAll(path);
    ASSERT_FALSE(original.empty()) << name;
    // Tiny files: every byte. Others: both ends and evenly spread
    // positions (bundle_damage_test sweeps far more).
    std::set<size_t> positions;
    if (original.size() <= 256) {
      for (size_t i = 0; i < original.size(); ++i) positions.insert(i);
    } else {
      const size_t spread = name == "entries.bin" ? 12 : 24;
      for (size_t i = 0; i < 6; ++i) positions.insert(i);
      for (size_t i = 1; i <= 6; ++i) positions.insert(original.size() - i);
      for (size_t k = 0; k < spread; ++k) positions.insert(original.size() * k / spread + k);
    }
    for (size_t pos : positions) {
      std::string damaged = original;
      damaged[pos] ^= 0x01;
      WriteAll(path, damaged);
      BundleVerification v = VerifyLedgerBundle(dir, vkey);
      EXPECT_NE(v.finding, ledger::Finding::kOk) << name << " byte " << pos << " flipped still verifies";
      ++flips;
    }
    WriteAll(path, original);
  }
  EXPECT_GT(flips, 300);
  EXPECT_EQ(VerifyLedgerBundle(dir, vkey).finding, ledger::Finding::kOk);
}

TEST(LedgerBundle, DamageIsReportedPrecisely) {
  std::unique_ptr<ExportInput> in = Load(SharedLedger());
  ASSERT_NE(in, nullptr);
  const std::string dir = WriteBundle(*in, "precise");
  const std::string vkey = SharedLedger().ledger_vkey;
  const std::string entries_path = dir + "/entries.bin";
  const std::string original = ReadAll(entries_path);

  // A byte inside entry 200's envelope: that entry's signature fails.
  size_t offset = kEntriesMagic.size();
  for (int i = 0; i < 200; ++i) offset += 4 + SharedLedger().entries[i].size();
  std::string damaged = original;
  damaged[offset + 4 + SharedLedger().entries[200].size() - 70] ^= 0x20;
  WriteAll(entries_path, damaged);
  BundleVerification v = VerifyLedgerBundle(dir, vkey);
  EXPECT_EQ(v.finding, ledger::Finding::kEnvelopeSignature) << v.message;
  ASSERT_TRUE(v.first_bad_index.has_value());
  EXPECT_EQ(*v.first_bad_index, 200u);

  // Entry 300 dropped: chain damage at 300.
  std::vector<std::string> entries = SharedLedger().entries;
  entries.erase(entries.begin() + 300);
  WriteAll(entries_path, *EncodeEntriesFile(entries));
  v = VerifyLedgerBundle(dir, vkey);
  EXPECT_EQ(v.finding, ledger::Finding::kChainDamage) << v.message;
  EXPECT_EQ(v.first_bad_index.value_or(0), 300u);
  WriteAll(entries_path, original);

  // An extra file, a missing file.
  WriteAll(dir + "/notes.txt", "hello");
  v = VerifyLedgerBundle(dir, vkey);
  EXPECT_EQ(v.finding, ledger::Finding::kUnreadable);
  EXPECT_NE(v.message.find("not covered by the manifest"), std::string::npos) << v.message;
  std::filesystem::remove(dir + "/notes.txt");
  const std::string readme = ReadAll(dir + "/README.txt");
  std::filesystem::remove(dir + "/README.txt");
  v = VerifyLedgerBundle(dir, vkey);
  EXPECT_NE(v.message.find("README.txt\" listed in the manifest is missing"), std::string::npos) << v.message;
  WriteAll(dir + "/README.txt", readme);
  EXPECT_EQ(VerifyLedgerBundle(dir, vkey).finding, ledger::Finding::kOk);
}

// An exporter who signs a manifest over a wrong rendering, or over entries
// that are not the checkpoint's, is caught too: the manifest is not taken
// on trust.
TEST(LedgerBundle, ASignedButFalseBundleFails) {
  std::unique_ptr<ExportInput> in = Load(SharedLedger());
  ASSERT_NE(in, nullptr);
  const std::string dir = WriteBundle(*in, "false");
  const std::string vkey = SharedLedger().ledger_vkey;
  absl::StatusOr<OpenedBundle> b = OpenBundle(dir);
  ASSERT_TRUE(b.ok()) << b.status();

  auto resign = [&](const std::string& target, std::map<std::string, std::string> files) {
    std::filesystem::remove_all(target);
    absl::Status s = WriteBundleDirectory(target, b->manifest, files, Exporter());
    EXPECT_TRUE(s.ok()) << s;
  };
  // events.jsonl says a different dose than the signed entry.
  std::map<std::string, std::string> files = b->files;
  std::string& jsonl = files["events.jsonl"];
  const size_t at = jsonl.find("\"dose_mg\":");
  ASSERT_NE(at, std::string::npos);
  jsonl.replace(at, 10, "\"dose_mg\":9");
  const std::string other = export_test::NewTempDir("false2") + "/b";
  resign(other, files);
  BundleVerification v = VerifyLedgerBundle(other, vkey);
  EXPECT_EQ(v.finding, ledger::Finding::kUnreadable);
  EXPECT_NE(v.message.find("events.jsonl"), std::string::npos) << v.message;

  // Entries past a smaller checkpoint: the bundle must hold exactly the
  // checkpoint's entries.
  files = b->files;
  files["checkpoint.note"] = SharedLedger().CheckpointAt(SharedLedger().entries.size() - 5);
  resign(other, files);
  v = VerifyLedgerBundle(other, vkey);
  EXPECT_NE(v.finding, ledger::Finding::kOk);
  EXPECT_NE(v.message.find("checkpoint"), std::string::npos) << v.message;
}

}  // namespace
}  // namespace trialog::exporter
