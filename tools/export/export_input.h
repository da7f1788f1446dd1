// What every exporter works from: a ledger that has just been verified end
// to end. LoadExportInput takes the entries' exact bytes (from any reader:
// a server, a data directory, a bundle, or memory in tests), a signed
// checkpoint and the ledger's verifier key; it audits them with
// ledger::AuditLedger and the trial's rules (trial::TrialStateMachine), and
// keeps exactly the entries the checkpoint covers, with the replayed trial
// state and principal registry. Exporters never see unverified input.
//
// Thread-safety: an ExportInput is immutable after loading; const access
// from several threads is safe.

#ifndef TRIALOG_TOOLS_EXPORT_EXPORT_INPUT_H_
#define TRIALOG_TOOLS_EXPORT_EXPORT_INPUT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/ledger/entry.h"
#include "core/ledger/ledger_audit.h"
#include "core/ledger/parallel_verifier.h"
#include "core/ledger/registry.h"
#include "core/note/checkpoint.h"
#include "core/note/keys.h"
#include "core/trial/state_machine.h"

namespace trialog::exporter {

// The outcome of the audit the input was loaded under (shown in reports).
struct VerificationSummary {
  std::string finding;            // ledger::FindingName: "ok"
  std::string message;            // AuditLedger's one-line summary
  uint64_t entries_verified = 0;
  uint64_t signatures_checked = 0;
  bool rules_replayed = true;     // the trial's protocol rules were replayed
  double seconds = 0;
};

struct ExportInput {
  std::string trial_id;            // envelope trial_id of the genesis entry
  std::string trial_title;         // Genesis.trial_title
  std::vector<ledger::ParsedEntry> entries;  // indexes 0 .. checkpoint.size - 1
  std::string checkpoint_note;     // as signed, byte for byte
  note::Checkpoint checkpoint;
  std::string ledger_vkey;         // verifier key text (name+id+base64)
  note::Verifier ledger_key;
  // Trial state replayed over `entries` (rules checked on the way).
  std::unique_ptr<trial::TrialStateMachine> state;
  // The principal registry after `entries`.
  ledger::PrincipalRegistry registry;
  VerificationSummary verification;
};

struct LoadOptions {
  int threads = 0;  // signature workers; 0 = all cores
  std::function<void(uint64_t, uint64_t)> progress;
};

// Audits and loads. `available_entries` is how many entries `reader` can
// yield (it may exceed the checkpoint; entries past checkpoint.size are not
// read). Errors:
//   INVALID_ARGUMENT     `ledger_vkey` is not a verifier key;
//   UNAUTHENTICATED      the checkpoint or an envelope signature does not
//                        verify under the ledger key / the ledger's registry;
//   DATA_LOSS            damaged or missing entries, wrong Merkle root;
//   FAILED_PRECONDITION  an entry breaks a protocol rule, or the checkpoint
//                        is empty (nothing to export);
//   the reader's error   (UNAVAILABLE, NOT_FOUND, ...) when input is unreadable.
// Every message starts with "the ledger does not verify (<finding>): ".
// `audit`, when not null, receives the full audit report either way.
absl::StatusOr<std::unique_ptr<ExportInput>> LoadExportInput(const ledger::EntryReader& reader,
                                                             uint64_t available_entries,
                                                             absl::string_view checkpoint_note,
                                                             absl::string_view ledger_vkey,
                                                             const LoadOptions& options = {},
                                                             ledger::AuditReport* audit = nullptr);

// The subject id of a "subject/<id>" stream, or "" for other streams.
std::string SubjectOfStream(absl::string_view stream_id);

// Whether an entry carries a ledger-administration event (genesis or a
// principal registry change) rather than a trial event.
bool IsAdministrative(const ledger::ParsedEntry& entry);

}  // namespace trialog::exporter

#endif  // TRIALOG_TOOLS_EXPORT_EXPORT_INPUT_H_
