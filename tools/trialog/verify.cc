// trialog verify: end-to-end verification of a ledger (core/ledger/ledger_audit.h).

#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/ledger/ledger_audit.h"
#include "core/note/checkpoint.h"
#include "core/note/keys.h"
#include "core/util/bytes.h"
#include "nlohmann/json.hpp"
#include "witness/policy.h"
#include "tools/trialog/cli_util.h"
#include "tools/trialog/commands.h"
#include "tools/trialog/domain.h"
#include "tools/trialog/sources.h"
#include "tools/trialog/witness_flags.h"
#include "tools/export/disclosure.h"
#include "tools/export/export_command.h"

namespace trialog::cli {
namespace {

// The size of the source's newest checkpoint signed by the ledger key, or 0
// if it cannot be read (only used to report entries not yet witnessed).
uint64_t NewestCheckpointSize(LedgerSource& source, const note::Verifier& ledger_key) {
  absl::StatusOr<std::string> note = source.CheckpointNote();
  if (!note.ok()) return 0;
  absl::StatusOr<note::Checkpoint> checkpoint = note::OpenCheckpoint(*note, ledger_key);
  return checkpoint.ok() ? checkpoint->size : 0;
}

// A subject disclosure's checkpoint.note against the witness policy. On
// failure prints the finding (text or JSON) and returns the exit code (8
// missing cosignatures, 5 a bad signature, 2 unreadable); on success sets
// *cosigners to a description of them and returns 0.
int CheckDisclosurePolicy(const std::string& dir, const note::Verifier& ledger_key,
                          const witness::WitnessPolicy& policy, bool json, std::string* cosigners) {
  absl::StatusOr<std::string> note = ReadFile(dir + "/checkpoint.note");
  absl::Status checked = note.status();
  if (note.ok()) {
    absl::StatusOr<witness::CosignedCheckpoint> opened =
        witness::OpenCosignedCheckpoint(*note, ledger_key, policy);
    checked = opened.status();
    if (opened.ok()) {
      PolicyCheckpoint pc;
      for (const note::Cosignature& c : opened->cosignatures) pc.cosigned_by.push_back(c.name);
      *cosigners = DescribeCosigners(pc, policy);
      return kExitOk;
    }
  }
  const bool missing = checked.code() == absl::StatusCode::kFailedPrecondition;
  const bool forged = checked.code() == absl::StatusCode::kUnauthenticated;
  const int code = missing ? kExitWitnessPolicy
                           : ledger::FindingExitCode(forged ? ledger::Finding::kCheckpointSignature
                                                            : ledger::Finding::kUnreadable);
  const std::string result = missing ? "witness_policy" : forged ? "checkpoint_signature" : "unreadable";
  const std::string message =
      absl::StrCat(missing ? "witness policy not met: " : "cosigned checkpoint: ", checked.message());
  if (json) {
    std::cout << nlohmann::json({{"source", absl::StrCat("subject disclosure ", dir)},
                                 {"result", result},
                                 {"exit_code", code},
                                 {"message", message}})
                     .dump(2)
              << "\n";
  } else {
    std::cout << "FAILED (" << result << ")  subject disclosure " << dir << "\n    " << message << "\n";
  }
  return code;
}

}  // namespace

void RegisterVerify(CLI::App& app, int* exit_code) {
  struct Flags {
    SourceFlags source;
    std::string key, trusted, save_checkpoint;
    WitnessFlags witness;
    bool json = false, no_signatures = false, no_rules = false, witness_latest = false,
         progress = false, chain_only = false;
    int threads = 0;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "verify",
      "Verify a ledger end to end, trusting only the ledger's verifier key: every entry's bytes,\n"
      "chain link and envelope signature (against the ledger's own principal registry as of that\n"
      "entry), every protocol rule, the Merkle root against the signed checkpoint and, with\n"
      "--trusted, that history extends a checkpoint you trusted before.\n"
      "Examples:\n"
      "  trialog verify --server 127.0.0.1:7443 --plaintext --trial imt-01 --key @ledger.vkey\n"
      "  trialog verify --data /var/lib/trialog --trial imt-01 --key @ledger.vkey --trusted @last.cp\n"
      "With --witness (repeat per witness) the ledger key is not trusted alone: the checkpoint\n"
      "verified against is the newest one the server's witnesses cosigned (a bundle's\n"
      "checkpoint.note), and it must carry valid cosignatures from --min-witnesses of the\n"
      "listed witnesses (default: all):\n"
      "  trialog verify --server ... --key @ledger.vkey --witness @w1.vkey --witness @w2.vkey \\\n"
      "      --witness @w3.vkey --min-witnesses 2\n"
      "Exit codes: 0 ok, 2 unreadable input, 3 hash/chain damage, 4 envelope signature,\n"
      "5 checkpoint signature (or a forged cosignature), 6 rule violation, 7 inconsistent with\n"
      "the trusted checkpoint, 8 too few witness cosignatures (or, with --witness-latest, the\n"
      "newest checkpoint not cosigned yet), 64 usage.");
  AddSourceFlags(cmd, &flags->source);
  cmd->add_option("--key", flags->key,
                  "The ledger's verifier key (name+id+base64), or @FILE holding it")
      ->required();
  cmd->add_option("--trusted", flags->trusted,
                  "A checkpoint note trusted earlier, as @FILE: history must extend it");
  cmd->add_option("--save-checkpoint", flags->save_checkpoint,
                  "After a clean verification, write the verified checkpoint here (to pass as "
                  "--trusted next time)");
  AddWitnessFlags(cmd, &flags->witness);
  cmd->add_flag("--witness-latest", flags->witness_latest,
                "With --witness: fail (exit 8) unless the ledger's newest checkpoint itself is the "
                "cosigned one (by default entries after the newest cosigned checkpoint are reported "
                "as not yet witnessed, and not verified)");
  cmd->add_option("--threads", flags->threads, "Signature-checking threads (hashing threads with --chain-only; default: all cores)");
  cmd->add_flag("--json", flags->json, "Print the report as JSON on stdout");
  cmd->add_flag("--progress", flags->progress,
                "Show progress on stderr even when it is not a terminal (it is shown on a terminal)");
  cmd->add_flag("--no-signatures", flags->no_signatures,
                "Skip envelope signatures (chain, tree and rules only)");
  cmd->add_flag("--no-rules", flags->no_rules, "Skip the trial's protocol rules");
  cmd->add_flag("--chain-only", flags->chain_only,
                "Fast integrity scan on every core: checkpoint signature, each entry's index, chain\n"
                "link and leaf hash, the Merkle root against the checkpoint (and --trusted); no\n"
                "envelope signatures, registry or rules, so an entry past the checkpoint is not\n"
                "authenticated and damage inside an entry is found at the next entry's link");
  cmd->callback([flags, exit_code] {
    auto fail_usage = [&](const absl::Status& s) {
      std::cerr << "trialog verify: " << s.message() << "\n";
      *exit_code = kExitUsage;
    };
    absl::StatusOr<std::string> vkey_text = ValueOrFile(flags->key);
    if (!vkey_text.ok()) return fail_usage(vkey_text.status());
    absl::StatusOr<note::Verifier> vkey = note::ParseVerifierKey(*vkey_text);
    if (!vkey.ok()) return fail_usage(vkey.status());

    absl::StatusOr<witness::WitnessPolicy> policy_or = PolicyFromFlags(flags->witness);
    if (!policy_or.ok()) return fail_usage(policy_or.status());
    const witness::WitnessPolicy& policy = *policy_or;
    const bool witnessed = !policy.witnesses.empty();

    // A per-subject disclosure is not a whole ledger: its own verifier.
    // With a witness policy its checkpoint.note (the exporter copies the
    // cosigned checkpoint it worked from) must satisfy the policy first.
    if (!flags->source.bundle.empty() && exporter::LooksLikeSubjectDisclosure(flags->source.bundle)) {
      std::string cosigners;
      if (witnessed) {
        *exit_code = CheckDisclosurePolicy(flags->source.bundle, *vkey, policy, flags->json, &cosigners);
        if (*exit_code != kExitOk) return;
      }
      *exit_code = exporter::VerifyDisclosureCommand(flags->source.bundle, *vkey_text, flags->source.exporter_key,
                                                     flags->json, std::cout);
      if (witnessed && *exit_code == 0 && !flags->json) std::cout << "    witness policy: " << cosigners << "\n";
      return;
    }
    PolicyCheckpoint cp;
    bool policy_failed = false;
    uint64_t newest_size = 0;  // with a policy: the ledger's newest signed checkpoint's size

    ledger::AuditOptions options;
    if (!flags->trusted.empty()) {
      absl::StatusOr<std::string> trusted =
          flags->trusted[0] == '@' ? ReadFile(flags->trusted.substr(1))
                                   : absl::StatusOr<std::string>(flags->trusted);
      if (!trusted.ok()) return fail_usage(trusted.status());
      options.trusted_checkpoint = *trusted;
    }

    ledger::AuditReport report;
    std::string source_name;
    std::unique_ptr<DomainRules> domain =
        flags->no_rules || flags->chain_only ? nullptr : NewDomainRules();
    absl::StatusOr<std::unique_ptr<LedgerSource>> source = OpenSource(flags->source);
    if (!source.ok()) {
      if (source.status().code() == absl::StatusCode::kInvalidArgument) {
        return fail_usage(source.status());
      }
      report.finding = ledger::Finding::kUnreadable;
      report.message = std::string(source.status().message());
    } else {
      source_name = (*source)->Describe();
      absl::StatusOr<PolicyCheckpoint> checkpoint = CheckpointUnderPolicy(**source, *vkey, policy);
      absl::StatusOr<uint64_t> size = (*source)->Size();
      if (checkpoint.ok()) cp = *checkpoint;
      const absl::StatusCode code = checkpoint.status().code();
      if (witnessed && code == absl::StatusCode::kFailedPrecondition) {
        // No cosigned checkpoint, or one with too few valid cosignatures.
        policy_failed = true;
        report.message = absl::StrCat("witness policy not met: ", checkpoint.status().message());
      } else if (witnessed && code == absl::StatusCode::kUnauthenticated) {
        report.finding = ledger::Finding::kCheckpointSignature;
        report.message = absl::StrCat("cosigned checkpoint: ", checkpoint.status().message());
      } else if (!checkpoint.ok() || !size.ok()) {
        report.finding = ledger::Finding::kUnreadable;
        report.message = std::string(
            (!checkpoint.ok() ? checkpoint.status() : size.status()).message());
      } else {
        ProgressBar bar("verifying", flags->progress);
        options.verify.threads = flags->threads;
        options.verify.check_signatures = !flags->no_signatures;
        options.chain_only = flags->chain_only;
        options.chain_threads = flags->threads;
        options.verify.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
        if (domain) options.domain = domain->machines();
        report = ledger::AuditLedger((*source)->Reader(), *size, cp.note, *vkey, options);
        bar.Finish();
        if (witnessed && report.finding == ledger::Finding::kOk) {
          newest_size = NewestCheckpointSize(**source, *vkey);
          if (newest_size > report.checkpoint.size && flags->witness_latest) {
            policy_failed = true;
            report.message = absl::StrCat(
                "witness policy not met: the ledger's newest checkpoint, size ", newest_size,
                ", lacks the required cosignatures; the newest cosigned one is size ",
                report.checkpoint.size, " (", DescribeCosigners(cp, policy), ")");
          }
        }
        if (report.finding == ledger::Finding::kOk && !flags->save_checkpoint.empty()) {
          if (absl::Status s = WriteFile(flags->save_checkpoint, cp.note); !s.ok()) {
            std::cerr << "trialog verify: " << s.message() << "\n";
          }
        }
      }
    }

    *exit_code = policy_failed ? kExitWitnessPolicy : ledger::FindingExitCode(report.finding);
    if (witnessed && report.finding == ledger::Finding::kOk && !policy_failed) {
      absl::StrAppend(&report.message, "; ", DescribeCosigners(cp, policy));
      if (newest_size > report.checkpoint.size) {
        absl::StrAppend(&report.message, "\n    NOT YET WITNESSED: the ledger's newest checkpoint, size ",
                        newest_size, ", lacks the required cosignatures; entries ",
                        report.checkpoint.size, "..", newest_size - 1, " were not verified");
      }
    }
    double rate = report.seconds > 0 ? report.entries_verified / report.seconds : 0;
    if (flags->json) {
      nlohmann::json j = {
          {"source", source_name},
          {"result", policy_failed ? "witness_policy" : ledger::FindingName(report.finding)},
          {"cosigned_by", cp.cosigned_by},
          {"newest_checkpoint_size", newest_size},
          {"exit_code", *exit_code},
          {"message", report.message},
          {"entries_verified", report.entries_verified},
          {"signatures_checked", report.signatures_checked},
          {"rules_checked", domain != nullptr},
          {"mode", flags->chain_only ? "chain_only" : "full"},
          {"checkpoint", {{"origin", report.checkpoint.origin},
                          {"size", report.checkpoint.size},
                          {"root", Base64Encode(report.checkpoint.root_hash)}}},
          {"seconds", report.seconds},
          {"entries_per_second", rate},
      };
      j["first_bad_index"] =
          report.first_bad_index ? nlohmann::json(*report.first_bad_index) : nlohmann::json();
      std::cout << j.dump(2) << "\n";
    } else {
      if (policy_failed) {
        std::cout << "FAILED (witness_policy)  " << source_name << "\n    " << report.message
                  << "\n";
      } else if (report.finding == ledger::Finding::kOk) {
        std::cout << "OK  " << source_name << "\n    " << report.message << "\n"
                  << absl::StrFormat("    %llu signatures checked, %.2f s (%.0f entries/s)\n",
                                     static_cast<unsigned long long>(report.signatures_checked),
                                     report.seconds, rate);
      } else {
        std::cout << "FAILED (" << ledger::FindingName(report.finding) << ")  " << source_name
                  << "\n    " << report.message << "\n";
        if (report.first_bad_index) {
          std::cout << "    first bad entry: " << *report.first_bad_index << "\n";
        }
        std::cout << "    entries verified before it: " << report.entries_verified << "\n";
      }
    }
  });
}

}  // namespace trialog::cli
