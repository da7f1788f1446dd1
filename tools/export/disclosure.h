// Per-subject disclosure: one subject's entries only, each with its RFC
// 6962 inclusion proof under one signed checkpoint, so that an ethics
// committee or the subject's physician can verify them without seeing other
// subjects. It is a bundle (bundle.h) of kind "subject-disclosure" holding
//
//   * every entry of the stream "subject/<id>",
//   * every trial-level entry (stream "trial": protocol versions, site
//     activations, database locks), and
//   * every ledger-administration entry (genesis and the principal
//     registry), which the verifier needs to know each signer's key,
//
// in index order, with proofs.bin holding one inclusion proof per entry.
// No other subject's entry is included.
//
// What verifying it shows, and what it cannot (the report says both):
// every entry is in the ledger the checkpoint commits to; its signature
// verifies under the key the (disclosed) registry held for its signer;
// no entry of the disclosed streams is missing up to the last one
// disclosed (stream versions are contiguous); the subject's own protocol
// rules hold when replayed over these entries. It cannot show that rules
// spanning the whole trial hold, nor that the subject has no entries after
// the last disclosed one: only a full ledger bundle can.
//
// Thread-safety: functions are safe to call concurrently on different
// directories.

#ifndef TRIALOG_TOOLS_EXPORT_DISCLOSURE_H_
#define TRIALOG_TOOLS_EXPORT_DISCLOSURE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/ledger/ledger_audit.h"
#include "core/note/checkpoint.h"
#include "tools/export/bundle.h"
#include "tools/export/export_input.h"
#include "trialog/v1/trial.pb.h"

namespace trialog::exporter {

// Writes the disclosure of `subject_id` to `dir` (which must not exist or
// be empty). NOT_FOUND if the ledger has no such subject; otherwise as
// WriteLedgerBundle.
absl::Status WriteSubjectDisclosure(const ExportInput& input, absl::string_view subject_id,
                                    const note::NoteSigner& exporter, const std::string& dir,
                                    const BundleWriteOptions& options = {});

struct DisclosureVerification {
  ledger::Finding finding = ledger::Finding::kOk;
  std::string message;
  std::optional<uint64_t> first_bad_index;
  std::string subject_id;
  note::Checkpoint checkpoint;
  uint64_t entries = 0;          // disclosed entries
  uint64_t subject_entries = 0;  // of those, the subject's own
  uint64_t trial_entries = 0;
  uint64_t admin_entries = 0;
  uint64_t signatures_checked = 0;
  uint64_t last_subject_index = 0;
  bool subject_rules_replayed = false;
  std::optional<v1::SubjectState> subject_state;  // replayed, when the rules held
  std::string exporter_key_name;
  bool exporter_key_pinned = false;
  // What this form cannot show, one sentence each (always filled in).
  std::vector<std::string> limitations;
};

// Verifies a disclosure offline, trusting only `ledger_vkey` (and the
// pinned exporter key, if any). The finding is the first problem, with the
// exit codes of ledger::FindingExitCode: kUnreadable (the bundle's own
// files, or not a disclosure), kCheckpointSignature, kChainDamage (an
// inclusion proof, a chain link between adjacent entries, a gap in a
// disclosed stream's versions, order), kEnvelopeSignature, kRuleViolation.
DisclosureVerification VerifySubjectDisclosure(const std::string& dir, absl::string_view ledger_vkey,
                                               const BundleTrust& trust = {});

// The human-readable report of a verification (several lines, ends with
// "\n"), including the limitations.
std::string FormatDisclosureReport(const DisclosureVerification& v);

// Whether `dir` holds a bundle whose manifest says it is a subject
// disclosure (reads the manifest's text without verifying it; for choosing
// the verifier, not for trusting anything).
bool LooksLikeSubjectDisclosure(const std::string& dir);

}  // namespace trialog::exporter

#endif  // TRIALOG_TOOLS_EXPORT_DISCLOSURE_H_
