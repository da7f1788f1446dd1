#include "core/ledger/ledger_audit.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/util/bytes.h"

namespace trialog::ledger {
namespace {

Finding FindingForStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnauthenticated:
      return Finding::kEnvelopeSignature;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kInvalidArgument:
      return Finding::kRuleViolation;
    default:
      return Finding::kChainDamage;
  }
}

// A reader error marked by the source as damage its own checksums found
// (kEntryDamagedPayload): reported as chain damage at that entry.
bool IsStoreDamage(const absl::Status& status) {
  return status.GetPayload(kEntryDamagedPayload).has_value();
}

}  // namespace

const char* FindingName(Finding f) {
  switch (f) {
    case Finding::kOk: return "ok";
    case Finding::kUnreadable: return "unreadable";
    case Finding::kChainDamage: return "chain_damage";
    case Finding::kEnvelopeSignature: return "envelope_signature";
    case Finding::kCheckpointSignature: return "checkpoint_signature";
    case Finding::kRuleViolation: return "rule_violation";
    case Finding::kInconsistent: return "inconsistent";
  }
  return "unknown";
}

int FindingExitCode(Finding f) {
  switch (f) {
    case Finding::kOk: return 0;
    case Finding::kUnreadable: return 2;
    case Finding::kChainDamage: return 3;
    case Finding::kEnvelopeSignature: return 4;
    case Finding::kCheckpointSignature: return 5;
    case Finding::kRuleViolation: return 6;
    case Finding::kInconsistent: return 7;
  }
  return 1;
}

AuditReport AuditLedger(const EntryReader& reader, uint64_t available_entries,
                        absl::string_view checkpoint_note, const note::Verifier& ledger_key,
                        const AuditOptions& options) {
  const absl::Time start = absl::Now();
  AuditReport report;
  auto finish = [&](Finding f, std::string message) {
    report.finding = f;
    report.message = std::move(message);
    report.seconds = absl::ToDoubleSeconds(absl::Now() - start);
    return report;
  };

  absl::StatusOr<note::Checkpoint> checkpoint = note::OpenCheckpoint(checkpoint_note, ledger_key);
  if (!checkpoint.ok()) {
    Finding f = checkpoint.status().code() == absl::StatusCode::kInvalidArgument
                    ? Finding::kUnreadable
                    : Finding::kCheckpointSignature;
    return finish(f, absl::StrCat("checkpoint: ", checkpoint.status().message()));
  }
  report.checkpoint = *checkpoint;

  std::optional<note::Checkpoint> trusted;
  if (options.trusted_checkpoint) {
    absl::StatusOr<note::Checkpoint> t = note::OpenCheckpoint(*options.trusted_checkpoint, ledger_key);
    if (!t.ok()) {
      return finish(t.status().code() == absl::StatusCode::kInvalidArgument
                        ? Finding::kUnreadable
                        : Finding::kCheckpointSignature,
                    absl::StrCat("trusted checkpoint: ", t.status().message()));
    }
    trusted = *t;
  }

  uint64_t verified = 0;  // entries that passed every check (a prefix)
  std::string root_at_checkpoint = checkpoint->size == 0 ? merkle::EmptyRoot() : "";
  std::string root_at_trusted = trusted && trusted->size == 0 ? merkle::EmptyRoot() : "";
  if (options.chain_only) {
    ChainScanOptions scan;
    scan.threads = options.chain_threads;
    scan.roots_at = {checkpoint->size};
    if (trusted) scan.roots_at.push_back(trusted->size);
    scan.progress = options.verify.progress;
    scan.expected_entries = available_entries;
    ChainScanResult result = ScanChain(reader, scan);
    if (!result.status.ok()) {
      report.entries_verified = result.first_bad_index;
      if (result.read_error && !IsStoreDamage(result.status)) {
        return finish(Finding::kUnreadable, absl::StrCat("reading entry ", result.first_bad_index,
                                                         ": ", result.status.message()));
      }
      report.first_bad_index = result.first_bad_index;
      if (result.read_error) {
        return finish(Finding::kChainDamage,
                      absl::StrCat("entry ", result.first_bad_index, " is damaged in the store: ",
                                   result.status.message()));
      }
      return finish(Finding::kChainDamage, std::string(result.status.message()));
    }
    verified = result.size;
    if (auto it = result.roots.find(checkpoint->size); it != result.roots.end()) {
      root_at_checkpoint = it->second;
    }
    if (trusted) {
      if (auto it = result.roots.find(trusted->size); it != result.roots.end()) {
        root_at_trusted = it->second;
      }
    }
  } else {
    // Roots of interesting prefixes are taken as the verifier passes them.
    ChainVerifier verifier(options.domain, /*check_signatures=*/false);
    EntryReader watching = [&](uint64_t from, const std::function<bool(absl::string_view)>& sink) {
      return reader(from, [&](absl::string_view bytes) {
        bool more = sink(bytes);
        // sink has folded the entry in (if it was good): check prefix roots.
        if (verifier.size() == checkpoint->size && root_at_checkpoint.empty()) {
          root_at_checkpoint = verifier.root();
        }
        if (trusted && verifier.size() == trusted->size && root_at_trusted.empty()) {
          root_at_trusted = verifier.root();
        }
        return more;
      });
    };
    ParallelVerifyOptions verify = options.verify;
    verify.expected_entries = available_entries;
    ParallelVerifyResult result = VerifyEntries(watching, verifier, verify);
    report.signatures_checked = result.signatures_checked;

    if (!result.status.ok()) {
      report.entries_verified = result.first_bad_index;
      if (result.read_error && !IsStoreDamage(result.status)) {
        return finish(Finding::kUnreadable,
                      absl::StrCat("reading entry ", result.first_bad_index, ": ",
                                   result.status.message()));
      }
      report.first_bad_index = result.first_bad_index;
      if (result.read_error) {
        return finish(Finding::kChainDamage,
                      absl::StrCat("entry ", result.first_bad_index, " is damaged in the store: ",
                                   result.status.message()));
      }
      return finish(FindingForStatus(result.status.code()), std::string(result.status.message()));
    }
    verified = verifier.size();
  }
  report.entries_verified = verified;

  if (verified < checkpoint->size) {
    report.first_bad_index = verified;
    return finish(Finding::kChainDamage,
                  absl::StrCat("the checkpoint covers ", checkpoint->size, " entries but only ",
                               verified, " are present: entries from ", verified,
                               " are missing"));
  }
  report.computed_root = root_at_checkpoint;
  if (root_at_checkpoint != checkpoint->root_hash) {
    return finish(Finding::kChainDamage,
                  absl::StrCat("Merkle root of the first ", checkpoint->size, " entries is ",
                               Base64Encode(root_at_checkpoint), " but the checkpoint says ",
                               Base64Encode(checkpoint->root_hash)));
  }
  if (trusted) {
    if (verified < trusted->size) {
      return finish(Finding::kInconsistent,
                    absl::StrCat("history was truncated: a trusted checkpoint covers ",
                                 trusted->size, " entries, the ledger now has ", verified));
    }
    if (root_at_trusted != trusted->root_hash) {
      return finish(Finding::kInconsistent,
                    absl::StrCat("history was rewritten or forked: the first ", trusted->size,
                                 " entries now have root ", Base64Encode(root_at_trusted),
                                 ", the trusted checkpoint says ",
                                 Base64Encode(trusted->root_hash)));
    }
  }
  return finish(Finding::kOk,
                absl::StrCat(verified, " entries verified; checkpoint size ",
                             checkpoint->size, " root ", Base64Encode(checkpoint->root_hash),
                             options.chain_only ? " (chain and Merkle checks only: no envelope signatures, registry or rules)" : ""));
}

}  // namespace trialog::ledger
