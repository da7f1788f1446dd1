#include "tools/export/export_input.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace trialog::exporter {
namespace {

absl::StatusCode CodeFor(ledger::Finding f) {
  switch (f) {
    case ledger::Finding::kOk: return absl::StatusCode::kOk;
    case ledger::Finding::kUnreadable: return absl::StatusCode::kUnavailable;
    case ledger::Finding::kChainDamage: return absl::StatusCode::kDataLoss;
    case ledger::Finding::kEnvelopeSignature: return absl::StatusCode::kUnauthenticated;
    case ledger::Finding::kCheckpointSignature: return absl::StatusCode::kUnauthenticated;
    case ledger::Finding::kRuleViolation: return absl::StatusCode::kFailedPrecondition;
    case ledger::Finding::kInconsistent: return absl::StatusCode::kDataLoss;
  }
  return absl::StatusCode::kInternal;
}

}  // namespace

std::string SubjectOfStream(absl::string_view stream_id) {
  constexpr absl::string_view kPrefix = "subject/";
  if (!absl::StartsWith(stream_id, kPrefix)) return "";
  return std::string(stream_id.substr(kPrefix.size()));
}

bool IsAdministrative(const ledger::ParsedEntry& entry) {
  switch (entry.envelope.event().kind_case()) {
    case v1::Event::kGenesis:
    case v1::Event::kPrincipalRegistered:
    case v1::Event::kPrincipalRoleChanged:
    case v1::Event::kPrincipalKeyRotated:
    case v1::Event::kPrincipalRevoked:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<std::unique_ptr<ExportInput>> LoadExportInput(const ledger::EntryReader& reader,
                                                             uint64_t available_entries,
                                                             absl::string_view checkpoint_note,
                                                             absl::string_view ledger_vkey,
                                                             const LoadOptions& options,
                                                             ledger::AuditReport* audit) {
  absl::StatusOr<note::Verifier> key = note::ParseVerifierKey(ledger_vkey);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("ledger verifier key: ", key.status().message()));
  }
  auto input = std::make_unique<ExportInput>();
  input->state = std::make_unique<trial::TrialStateMachine>();
  input->ledger_vkey = std::string(ledger_vkey);
  input->ledger_key = *key;
  input->checkpoint_note = std::string(checkpoint_note);

  // The checkpoint's size bounds what is read: entries past it are not
  // covered by the signature and are not exported.
  uint64_t limit = available_entries;
  if (absl::StatusOr<note::Checkpoint> c = note::OpenCheckpoint(checkpoint_note, *key); c.ok()) {
    limit = std::min(limit, c->size);
  }
  std::vector<std::string> bytes;
  ledger::EntryReader bounded = [&](uint64_t from,
                                    const std::function<bool(absl::string_view)>& sink) {
    uint64_t next = from;
    return reader(from, [&](absl::string_view entry) {
      if (next >= limit) return false;
      if (bytes.size() == next) bytes.emplace_back(entry);
      ++next;
      return sink(entry) && next < limit;
    });
  };

  ledger::AuditOptions audit_options;
  audit_options.verify.threads = options.threads;
  audit_options.verify.progress = options.progress;
  audit_options.domain = {input->state.get()};
  ledger::AuditReport report =
      ledger::AuditLedger(bounded, limit, checkpoint_note, *key, audit_options);
  if (audit != nullptr) *audit = report;
  if (report.finding != ledger::Finding::kOk) {
    return absl::Status(CodeFor(report.finding),
                        absl::StrCat("the ledger does not verify (", ledger::FindingName(report.finding),
                                     "): ", report.message));
  }
  if (report.checkpoint.size == 0) {
    return absl::FailedPreconditionError(
        "the ledger does not verify (empty): the checkpoint covers no entries, nothing to export");
  }
  if (bytes.size() != report.checkpoint.size) {
    return absl::InternalError(absl::StrCat("read ", bytes.size(), " entries for a checkpoint of ",
                                            report.checkpoint.size));
  }
  input->checkpoint = report.checkpoint;
  input->verification.finding = ledger::FindingName(report.finding);
  input->verification.message = report.message;
  input->verification.entries_verified = report.entries_verified;
  input->verification.signatures_checked = report.signatures_checked;
  input->verification.seconds = report.seconds;

  input->entries.reserve(bytes.size());
  for (std::string& b : bytes) {
    absl::StatusOr<ledger::ParsedEntry> parsed = ledger::ParseEntry(b);
    if (!parsed.ok()) return parsed.status();  // cannot happen: the audit parsed it
    input->registry.Apply(*parsed);
    input->entries.push_back(*std::move(parsed));
  }
  const ledger::ParsedEntry& genesis = input->entries.front();
  input->trial_id = genesis.envelope.trial_id();
  input->trial_title = genesis.envelope.event().genesis().trial_title();
  return input;
}

}  // namespace trialog::exporter
