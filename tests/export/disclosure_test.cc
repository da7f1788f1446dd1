// Tests of per-subject disclosures: only one subject's entries (with the
// trial-level and administrative ones), each proven included under the
// checkpoint; the verifier accepts it, says what it cannot check, and
// refuses damaged, incomplete or padded disclosures.

#include "tools/export/disclosure.h"

#include <filesystem>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/merkle/merkle.h"
#include "gtest/gtest.h"
#include "tests/export/test_ledger.h"
#include "tests/export/test_util.h"
#include "tools/export/bundle_format.h"
#include "tools/export/event_json.h"

namespace trialog::exporter {
namespace {

using export_test::Exporter;
using export_test::ReadAll;
using export_test::SharedInput;
using export_test::WriteAll;

constexpr int64_t kCreated = 1767225600000000;

std::string Disclose(const std::string& subject, const std::string& name) {
  const std::string dir = export_test::NewTempDir(name) + "/disclosure";
  absl::Status s = WriteSubjectDisclosure(SharedInput(), subject, Exporter(), dir, {kCreated});
  EXPECT_TRUE(s.ok()) << s;
  return dir;
}

TEST(Disclosure, HoldsOnlyTheSubjectsEntriesEachProven) {
  const std::string dir = Disclose("RU-01-0001", "only");
  absl::StatusOr<std::vector<std::string>> entries = DecodeEntriesFile(ReadAll(dir + "/entries.bin"));
  absl::StatusOr<std::vector<IndexedProof>> proofs = DecodeProofsFile(ReadAll(dir + "/proofs.bin"));
  ASSERT_TRUE(entries.ok() && proofs.ok());
  ASSERT_EQ(entries->size(), proofs->size());
  const ExportInput& in = SharedInput();
  size_t own = 0;
  std::set<std::string> streams;
  for (size_t i = 0; i < entries->size(); ++i) {
    absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry((*entries)[i]);
    ASSERT_TRUE(e.ok());
    streams.insert(e->envelope.stream_id());
    own += e->envelope.stream_id() == "subject/RU-01-0001";
    // The exact bytes of the ledger's entry at that index, and a proof that
    // verifies against the checkpoint's root (core/merkle, checked against
    // the shared RFC 6962 vectors in its own tests).
    EXPECT_EQ((*entries)[i], in.entries[e->entry.index()].bytes);
    EXPECT_TRUE(merkle::VerifyInclusion((*proofs)[i].index, in.checkpoint.size,
                                        merkle::HashLeaf((*entries)[i]), (*proofs)[i].hashes,
                                        in.checkpoint.root_hash)
                    .ok());
  }
  EXPECT_EQ(streams, (std::set<std::string>{"principals", "trial", "subject/RU-01-0001"}));
  size_t want_own = 0;
  for (const ledger::ParsedEntry& e : in.entries) want_own += e.envelope.stream_id() == "subject/RU-01-0001";
  EXPECT_EQ(own, want_own);
  EXPECT_GT(own, 30u);
  EXPECT_EQ(ReadAll(dir + "/events.jsonl").find("RU-02-0002"), std::string::npos);
}

TEST(Disclosure, VerifierAcceptsItAndSaysWhatItCannotCheck) {
  const std::string dir = Disclose("RU-01-0001", "accept");
  DisclosureVerification v = VerifySubjectDisclosure(dir, SharedInput().ledger_vkey);
  ASSERT_EQ(v.finding, ledger::Finding::kOk) << v.message;
  EXPECT_EQ(v.subject_id, "RU-01-0001");
  EXPECT_TRUE(v.subject_rules_replayed);
  ASSERT_TRUE(v.subject_state.has_value());
  // The replay over the disclosed entries gives the subject the state the
  // full trial replay gives it.
  absl::StatusOr<v1::SubjectState> full = SharedInput().state->Subject("RU-01-0001");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(v.subject_state->SerializeAsString(), full->SerializeAsString());
  EXPECT_EQ(v.signatures_checked, v.entries);
  const std::string report = FormatDisclosureReport(v);
  EXPECT_TRUE(absl::StartsWith(report, "OK  per-subject disclosure of RU-01-0001")) << report;
  EXPECT_NE(report.find("cannot replay rules for the whole trial"), std::string::npos) << report;
  EXPECT_NE(report.find("NOT checked"), std::string::npos) << report;
  EXPECT_NE(report.find("RESPONSE_CR (confirmed)"), std::string::npos) << report;
  EXPECT_TRUE(LooksLikeSubjectDisclosure(dir));
}

TEST(Disclosure, EverySubjectsDisclosureVerifies) {
  for (const std::string& subject : SharedInput().state->SubjectIds()) {
    const std::string dir = Disclose(subject, "every-" + subject);
    DisclosureVerification v = VerifySubjectDisclosure(dir, SharedInput().ledger_vkey);
    EXPECT_EQ(v.finding, ledger::Finding::kOk) << subject << ": " << v.message;
    absl::StatusOr<v1::SubjectState> full = SharedInput().state->Subject(subject);
    ASSERT_TRUE(full.ok() && v.subject_state.has_value()) << subject;
    EXPECT_EQ(v.subject_state->SerializeAsString(), full->SerializeAsString()) << subject;
    std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
  }
}

TEST(Disclosure, RefusesUnknownSubjectsAndTheOtherKind) {
  EXPECT_EQ(WriteSubjectDisclosure(SharedInput(), "RU-09-0001", Exporter(),
                                   export_test::NewTempDir("unknown") + "/d", {kCreated})
                .code(),
            absl::StatusCode::kNotFound);
  const std::string bundle = export_test::NewTempDir("kind") + "/b";
  ASSERT_TRUE(WriteLedgerBundle(SharedInput(), Exporter(), bundle, {kCreated}).ok());
  DisclosureVerification v = VerifySubjectDisclosure(bundle, SharedInput().ledger_vkey);
  EXPECT_EQ(v.finding, ledger::Finding::kUnreadable);
  EXPECT_NE(v.message.find("not a subject disclosure"), std::string::npos) << v.message;
  EXPECT_FALSE(LooksLikeSubjectDisclosure(bundle));
  const std::string dir = Disclose("RU-02-0002", "kind2");
  BundleVerification b = VerifyLedgerBundle(dir, SharedInput().ledger_vkey);
  EXPECT_EQ(b.finding, ledger::Finding::kUnreadable);
  EXPECT_NE(b.message.find("not a ledger bundle"), std::string::npos) << b.message;
}

// Rewrites a disclosure with `edit` applied to its decoded entries and
// proofs, re-signed by the exporter: what a dishonest exporter could make.
std::string Resign(const std::string& dir, const std::string& name,
                   const std::function<void(std::vector<std::string>*, std::vector<IndexedProof>*)>& edit) {
  absl::StatusOr<OpenedBundle> b = OpenBundle(dir);
  EXPECT_TRUE(b.ok()) << b.status();
  std::vector<std::string> entries = *DecodeEntriesFile(b->file("entries.bin"));
  std::vector<IndexedProof> proofs = *DecodeProofsFile(b->file("proofs.bin"));
  edit(&entries, &proofs);
  std::map<std::string, std::string> files = b->files;
  files["entries.bin"] = *EncodeEntriesFile(entries);
  files["proofs.bin"] = *EncodeProofsFile(proofs);
  std::string jsonl;
  for (const std::string& bytes : entries) {
    absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry(bytes);
    absl::StrAppend(&jsonl, *EventJsonLine(*e), "\n");
  }
  files["events.jsonl"] = jsonl;
  Manifest m = b->manifest;
  m.entries = entries.size();
  m.first_index = proofs.front().index;
  m.last_index = proofs.back().index;
  m.head = merkle::HashLeaf(entries.back());
  const std::string out = export_test::NewTempDir(name) + "/d";
  absl::Status s = WriteBundleDirectory(out, m, files, Exporter());
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

// RFC 6962 audit path of leaf `index`, by the definition (RFC 9162
// 2.1.3.1 PATH), recursively over the leaf hashes.
std::vector<std::string> NaiveInclusionProof(const std::vector<std::string>& leaves, size_t index) {
  std::function<std::vector<std::string>(size_t, size_t, size_t)> path = [&](size_t lo, size_t hi, size_t m) {
    std::vector<std::string> out;
    if (hi - lo <= 1) return out;
    size_t k = 1;
    while (k * 2 < hi - lo) k *= 2;
    auto root = [&](size_t a, size_t b) {
      return merkle::RootFromLeafHashes(std::vector<std::string>(leaves.begin() + static_cast<long>(a),
                                                                 leaves.begin() + static_cast<long>(b)));
    };
    if (m < lo + k) {
      out = path(lo, lo + k, m);
      out.push_back(root(lo + k, hi));
    } else {
      out = path(lo + k, hi, m);
      out.push_back(root(lo, lo + k));
    }
    return out;
  };
  return path(0, leaves.size(), index);
}

TEST(Disclosure, RefusesIncompletePaddedOrUnprovenDisclosures) {
  const std::string dir = Disclose("RU-01-0005", "dishonest");
  const std::string vkey = SharedInput().ledger_vkey;
  ASSERT_EQ(VerifySubjectDisclosure(dir, vkey).finding, ledger::Finding::kOk);

  // The resigning path itself is sound: an unchanged copy verifies.
  std::string same = Resign(dir, "same", [](auto*, auto*) {});
  EXPECT_EQ(VerifySubjectDisclosure(same, vkey).finding, ledger::Finding::kOk);

  // One of the subject's entries left out (an adverse event, say).
  std::string dropped = Resign(dir, "dropped", [](std::vector<std::string>* e, std::vector<IndexedProof>* p) {
    for (size_t i = 0; i < e->size(); ++i) {
      if (ledger::ParseEntry((*e)[i])->envelope.stream_id() == "subject/RU-01-0005" && i + 3 < e->size()) {
        e->erase(e->begin() + static_cast<long>(i) + 2);
        p->erase(p->begin() + static_cast<long>(i) + 2);
        return;
      }
    }
  });
  DisclosureVerification v = VerifySubjectDisclosure(dropped, vkey);
  EXPECT_EQ(v.finding, ledger::Finding::kChainDamage) << v.message;
  EXPECT_NE(v.message.find("missing from the disclosure"), std::string::npos) << v.message;

  // Another subject's entry added, with its valid proof.
  const ExportInput& in = SharedInput();
  std::string padded = Resign(dir, "padded", [&](std::vector<std::string>* e, std::vector<IndexedProof>* p) {
    std::vector<std::string> leaves;
    for (const ledger::ParsedEntry& x : in.entries) leaves.push_back(x.leaf_hash);
    for (const ledger::ParsedEntry& other : in.entries) {
      if (other.envelope.stream_id() != "subject/RU-02-0002") continue;
      IndexedProof proof{other.entry.index(), in.checkpoint.size, NaiveInclusionProof(leaves, other.entry.index())};
      EXPECT_TRUE(merkle::VerifyInclusion(proof.index, proof.tree_size, other.leaf_hash, proof.hashes,
                                          in.checkpoint.root_hash)
                      .ok());
      size_t pos = 0;
      while (pos < p->size() && (*p)[pos].index < other.entry.index()) ++pos;
      e->insert(e->begin() + static_cast<long>(pos), other.bytes);
      p->insert(p->begin() + static_cast<long>(pos), proof);
      return;
    }
  });
  v = VerifySubjectDisclosure(padded, vkey);
  EXPECT_EQ(v.finding, ledger::Finding::kUnreadable) << v.message;
  EXPECT_NE(v.message.find("must not hold"), std::string::npos) << v.message;

  // A proof that does not lead to the root.
  std::string unproven = Resign(dir, "unproven", [](std::vector<std::string>*, std::vector<IndexedProof>* p) {
    (*p)[5].hashes[0][3] ^= 1;
  });
  v = VerifySubjectDisclosure(unproven, vkey);
  EXPECT_EQ(v.finding, ledger::Finding::kChainDamage) << v.message;
  EXPECT_EQ(v.first_bad_index.value_or(0), (*DecodeProofsFile(ReadAll(dir + "/proofs.bin")))[5].index);

  // Entries out of order.
  std::string swapped = Resign(dir, "swapped", [](std::vector<std::string>* e, std::vector<IndexedProof>* p) {
    std::swap((*e)[3], (*e)[4]);
    std::swap((*p)[3], (*p)[4]);
  });
  EXPECT_EQ(VerifySubjectDisclosure(swapped, vkey).finding, ledger::Finding::kChainDamage);
}

TEST(Disclosure, OneChangedByteAnywhereFailsVerification) {
  const std::string dir = Disclose("RU-02-0004", "flip");
  const std::string vkey = SharedInput().ledger_vkey;
  int flips = 0;
  for (const auto& de : std::filesystem::directory_iterator(dir)) {
    const std::string path = de.path().string();
    const std::string original = ReadAll(path);
    std::set<size_t> positions;
    for (size_t k = 0; k < 40; ++k) positions.insert(original.size() * k / 40);
    positions.insert(original.size() - 1);
    for (size_t pos : positions) {
      std::string damaged = original;
      damaged[pos] ^= 0x01;
      WriteAll(path, damaged);
      DisclosureVerification v = VerifySubjectDisclosure(dir, vkey);
      EXPECT_NE(v.finding, ledger::Finding::kOk) << de.path().filename() << " byte " << pos;
      ++flips;
    }
    WriteAll(path, original);
  }
  EXPECT_GT(flips, 250);
  EXPECT_EQ(VerifySubjectDisclosure(dir, vkey).finding, ledger::Finding::kOk);
}

}  // namespace
}  // namespace trialog::exporter
