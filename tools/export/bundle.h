// Self-verifying export bundles: a directory holding a ledger's entries
// (exact bytes), its signed checkpoint, its verifier key, a JSON Lines
// rendering of every event and a manifest (file sizes and SHA-256 hashes,
// counts, first and last index, head, root) signed as a C2SP note by an
// exporter key. docs/EXPORT.md documents every byte.
//
//   manifest.note    signed manifest (bundle_format.h grammar)
//   exporter.vkey    the exporter's verifier key (+ "\n"); trust in it comes
//                    from outside (pin it with BundleTrust)
//   checkpoint.note  the ledger's signed checkpoint, byte for byte
//   ledger.vkey      the ledger's verifier key (+ "\n")
//   entries.bin      the entries 0 .. checkpoint.size - 1
//   events.jsonl     one line per entry (event_json.h)
//   README.txt       how to verify, for people
//   proofs.bin       (subject disclosures only, see disclosure.h)
//
// Every file but manifest.note and exporter.vkey is covered by the
// manifest; those two are covered by the manifest's signature. Any other
// file in the directory makes verification fail, as does any changed byte.
//
// Thread-safety: functions are safe to call concurrently on different
// directories.

#ifndef TRIALOG_TOOLS_EXPORT_BUNDLE_H_
#define TRIALOG_TOOLS_EXPORT_BUNDLE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/ledger/entry.h"
#include "core/ledger/ledger_audit.h"
#include "core/note/keys.h"
#include "tools/export/bundle_format.h"
#include "tools/export/export_input.h"

namespace trialog::exporter {

struct BundleWriteOptions {
  // The manifest's "created" time; 0 = now.
  int64_t created_unix_micros = 0;
};

// Writes the bundle of `input` to `dir`, which must not exist (or be an
// empty directory). The files are written to a temporary sibling directory,
// fsynced, then renamed into place: `dir` is either absent or complete.
// ALREADY_EXISTS if `dir` holds anything; the errno's code for I/O errors.
absl::Status WriteLedgerBundle(const ExportInput& input, const note::NoteSigner& exporter,
                               const std::string& dir, const BundleWriteOptions& options = {});

// How a verifier trusts the exporter: pinned (the bundle's exporter.vkey
// must be this key) or not (the bundle's own exporter.vkey is used, which
// proves the bundle is intact as exported but not who exported it).
struct BundleTrust {
  std::optional<std::string> exporter_vkey;
};

// A bundle whose manifest verified and whose covered files (all but
// entries.bin, checked by CheckBundleContents once its entries verified)
// match the manifest.
struct OpenedBundle {
  std::string dir;
  Manifest manifest;
  std::string exporter_vkey;     // text, without the trailing "\n"
  note::Verifier exporter_key;
  bool exporter_key_pinned = false;
  std::map<std::string, std::string> files;  // covered file name -> contents
  const std::string& file(absl::string_view name) const;  // "" if absent
};

// Opens `dir`:
//   NOT_FOUND        no such directory, or manifest.note / exporter.vkey missing;
//   UNAUTHENTICATED  the manifest's signature does not verify, or the
//                    exporter key is not the pinned one;
//   DATA_LOSS        anything else: a malformed file, a file missing from or
//                    not listed in the manifest, a size or hash mismatch, a
//                    required file absent for the bundle's kind.
// Never INVALID_ARGUMENT (callers treat that as a usage error), except for
// a malformed pinned key in `trust`.
absl::StatusOr<OpenedBundle> OpenBundle(const std::string& dir, const BundleTrust& trust = {});

// The checks that need the entries, run after they verified: entries.bin
// matches the manifest, the manifest's counts, indexes and head describe
// `entries`, its origin, size and root are the checkpoint's, and every line
// of events.jsonl renders its entry. DATA_LOSS saying what differs.
// `entries` are the records of entries.bin, parsed, in file order.
absl::Status CheckBundleContents(const OpenedBundle& bundle,
                                 const std::vector<ledger::ParsedEntry>& entries,
                                 const note::Checkpoint& checkpoint);

struct BundleVerification {
  ledger::Finding finding = ledger::Finding::kOk;
  std::string message;
  std::optional<uint64_t> first_bad_index;
  ledger::AuditReport audit;
  Manifest manifest;              // when the manifest opened
  std::string exporter_key_name;
  bool exporter_key_pinned = false;
};

// Verifies a ledger bundle offline, trusting only `ledger_vkey` (and the
// pinned exporter key, if any): the manifest and files, then a full audit
// of the entries with the trial's rules (ledger::AuditLedger and
// trial::TrialStateMachine), then CheckBundleContents. The finding is the
// first problem: kUnreadable for the bundle's own files (manifest, hashes,
// rendering), else the audit's.
BundleVerification VerifyLedgerBundle(const std::string& dir, absl::string_view ledger_vkey,
                                      const BundleTrust& trust = {}, int threads = 0);

// --- shared with disclosures --------------------------------------------------

// Signs `manifest` (after filling in the files' sizes and hashes from
// `files`) and writes `files`, manifest.note and exporter.vkey to `dir`
// atomically as WriteLedgerBundle does.
absl::Status WriteBundleDirectory(const std::string& dir, Manifest manifest,
                                  const std::map<std::string, std::string>& files,
                                  const note::NoteSigner& exporter);

// The README.txt text of a bundle of `kind`.
std::string BundleReadme(const Manifest& manifest, absl::string_view ledger_vkey,
                         absl::string_view exporter_vkey);

}  // namespace trialog::exporter

#endif  // TRIALOG_TOOLS_EXPORT_BUNDLE_H_
