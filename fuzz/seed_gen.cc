// Writes the fuzzers' seed corpora that come from a real ledger: the
// synthetic IMT trial (core/trial) built and signed as in tests/export
// (tests/export/test_ledger.h), then exported. fuzz/make_seeds.py adds the
// seeds that come from ../shared/vectors. Usage: seed_gen OUT_DIR
//
// OUT_DIR/entry_chain/        entries.bin of ledger prefixes (1..100 entries)
// OUT_DIR/envelope_admission/ one SignedEnvelope per distinct event type
// OUT_DIR/note/               checkpoints signed by the note fuzzer's key
// OUT_DIR/bundle/             a real bundle's manifest text, entries.bin, and
//                             a disclosure's proofs.bin

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/ledger/entry.h"
#include "core/note/checkpoint.h"
#include "core/note/keys.h"
#include "tests/export/test_ledger.h"
#include "tools/export/bundle.h"
#include "tools/export/bundle_format.h"
#include "tools/export/disclosure.h"
#include "tools/export/export_input.h"

namespace {

namespace fs = std::filesystem;

bool Write(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  return static_cast<bool>(out);
}

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The text of a signed note (everything before the blank line).
std::string NoteText(const std::string& note) {
  size_t end = note.find("\n\n");
  return end == std::string::npos ? note : note.substr(0, end + 1);
}

int Fail(absl::string_view what, const absl::Status& s) {
  std::cerr << "seed_gen: " << what << ": " << s << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: seed_gen OUT_DIR\n";
    return 64;
  }
  const fs::path out = argv[1];
  for (const char* d : {"entry_chain", "envelope_admission", "note", "bundle"}) {
    fs::create_directories(out / d);
  }
  absl::StatusOr<trialog::export_test::TestLedger> l =
      trialog::export_test::BuildSyntheticLedger(42, 13);
  if (!l.ok()) return Fail("building the synthetic ledger", l.status());

  for (size_t n : {1, 3, 10, 30, 100}) {
    std::vector<std::string> prefix(l->entries.begin(),
                                    l->entries.begin() + std::min(n, l->entries.size()));
    absl::StatusOr<std::string> file = trialog::exporter::EncodeEntriesFile(prefix);
    if (!file.ok()) return Fail("encoding entries", file.status());
    Write(out / "entry_chain" / absl::StrCat("prefix-", n), *file);
  }

  std::set<int> seen_types;
  for (const std::string& bytes : l->entries) {
    absl::StatusOr<trialog::ledger::ParsedEntry> e = trialog::ledger::ParseEntry(bytes);
    if (!e.ok()) return Fail("parsing an entry", e.status());
    const int type = static_cast<int>(e->envelope.event().kind_case());
    if (!seen_types.insert(type).second) continue;
    Write(out / "envelope_admission" / absl::StrCat("type-", type),
          e->entry.signed_envelope().SerializeAsString());
  }

  // Checkpoints of this ledger's roots, re-signed by the key the note
  // fuzzer pins (seed 0x07 x 32, origin fuzz.example/ledger).
  trialog::crypto::SigningKey key = *trialog::crypto::SigningKey::FromSeed(std::string(32, '\x07'));
  trialog::note::NoteSigner signer("fuzz.example/ledger", key);
  for (uint64_t size : {uint64_t{1}, uint64_t{10}, static_cast<uint64_t>(l->entries.size())}) {
    absl::StatusOr<trialog::note::Checkpoint> cp =
        trialog::note::ParseCheckpoint(NoteText(l->CheckpointAt(size)));
    if (!cp.ok()) return Fail("parsing the ledger's checkpoint", cp.status());
    cp->origin = signer.name();
    absl::StatusOr<std::string> note = trialog::note::SignCheckpoint(*cp, signer);
    if (!note.ok()) return Fail("signing a checkpoint", note.status());
    Write(out / "note" / absl::StrCat("checkpoint-", size), *note);
  }
  Write(out / "note" / "ledger-checkpoint", l->checkpoint);
  Write(out / "note" / "ledger-vkey", l->ledger_vkey);

  absl::StatusOr<std::unique_ptr<trialog::exporter::ExportInput>> input =
      trialog::exporter::LoadExportInput(l->Reader(), l->entries.size(), l->checkpoint,
                                         l->ledger_vkey);
  if (!input.ok()) return Fail("loading the export input", input.status());
  const fs::path tmp = out / "tmp";
  fs::remove_all(tmp);
  absl::Status s = trialog::exporter::WriteLedgerBundle(**input, signer, (tmp / "bundle").string());
  if (!s.ok()) return Fail("writing a bundle", s);
  s = trialog::exporter::WriteSubjectDisclosure(**input, "RU-01-0001", signer,
                                                (tmp / "subject").string());
  if (!s.ok()) return Fail("writing a disclosure", s);
  Write(out / "bundle" / "manifest-ledger", NoteText(Slurp(tmp / "bundle" / "manifest.note")));
  Write(out / "bundle" / "manifest-subject", NoteText(Slurp(tmp / "subject" / "manifest.note")));
  Write(out / "bundle" / "entries-subject", Slurp(tmp / "subject" / "entries.bin"));
  Write(out / "bundle" / "proofs-subject", Slurp(tmp / "subject" / "proofs.bin"));
  Write(out / "entry_chain" / "subject-disclosure", Slurp(tmp / "subject" / "entries.bin"));
  fs::remove_all(tmp);
  std::cout << "seed_gen: wrote seeds from a " << l->entries.size() << "-entry ledger to " << out
            << "\n";
  return 0;
}
