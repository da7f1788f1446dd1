// trialog verify: end-to-end verification of a ledger (core/ledger/ledger_audit.h).

#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/ledger/ledger_audit.h"
#include "core/note/keys.h"
#include "core/util/bytes.h"
#include "nlohmann/json.hpp"
#include "witness/policy.h"
#include "tools/trialog/cli_util.h"
#include "tools/trialog/commands.h"
#include "tools/trialog/domain.h"
#include "tools/trialog/sources.h"
#include "tools/export/disclosure.h"
#include "tools/export/export_command.h"

namespace trialog::cli {

// A checkpoint without the cosignatures the --witness policy requires (or
// no cosigned checkpoint at all).
constexpr int kExitWitnessPolicy = 8;

void RegisterVerify(CLI::App& app, int* exit_code) {
  struct Flags {
    SourceFlags source;
    std::string key, trusted, save_checkpoint;
    std::vector<std::string> witnesses;
    size_t witness_quorum = 0;
    bool json = false, no_signatures = false, no_rules = false;
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
      "verified against is the newest one the server's witnesses cosigned, and it must carry\n"
      "valid cosignatures from --witness-quorum of the listed witnesses (default: all):\n"
      "  trialog verify --server ... --key @ledger.vkey --witness @w1.vkey --witness @w2.vkey \\\n"
      "      --witness @w3.vkey --witness-quorum 2\n"
      "Exit codes: 0 ok, 2 unreadable input, 3 hash/chain damage, 4 envelope signature,\n"
      "5 checkpoint signature (or a forged cosignature), 6 rule violation, 7 inconsistent with\n"
      "the trusted checkpoint, 8 too few witness cosignatures, 64 usage.");
  AddSourceFlags(cmd, &flags->source);
  cmd->add_option("--key", flags->key,
                  "The ledger's verifier key (name+id+base64), or @FILE holding it")
      ->required();
  cmd->add_option("--trusted", flags->trusted,
                  "A checkpoint note trusted earlier, as @FILE: history must extend it");
  cmd->add_option("--save-checkpoint", flags->save_checkpoint,
                  "After a clean verification, write the verified checkpoint here (to pass as "
                  "--trusted next time)");
  cmd->add_option("--witness", flags->witnesses,
                  "A witness's cosigner key (name+id+base64, as `trialog witness --print-key` "
                  "prints it), or @FILE. Repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--witness-quorum", flags->witness_quorum,
                  "How many of the --witness witnesses must have cosigned (default: all)");
  cmd->add_option("--threads", flags->threads, "Signature-checking threads (default: all cores)");
  cmd->add_flag("--json", flags->json, "Print the report as JSON on stdout");
  cmd->add_flag("--no-signatures", flags->no_signatures,
                "Skip envelope signatures (chain, tree and rules only)");
  cmd->add_flag("--no-rules", flags->no_rules, "Skip the trial's protocol rules");
  cmd->callback([flags, exit_code] {
    auto fail_usage = [&](const absl::Status& s) {
      std::cerr << "trialog verify: " << s.message() << "\n";
      *exit_code = kExitUsage;
    };
    absl::StatusOr<std::string> vkey_text = ValueOrFile(flags->key);
    if (!vkey_text.ok()) return fail_usage(vkey_text.status());
    absl::StatusOr<note::Verifier> vkey = note::ParseVerifierKey(*vkey_text);
    if (!vkey.ok()) return fail_usage(vkey.status());

    // A per-subject disclosure is not a whole ledger: its own verifier.
    if (!flags->source.bundle.empty() && exporter::LooksLikeSubjectDisclosure(flags->source.bundle)) {
      *exit_code = exporter::VerifyDisclosureCommand(flags->source.bundle, *vkey_text, flags->source.exporter_key,
                                                     flags->json, std::cout);
      return;
    }

    witness::WitnessPolicy policy;
    if (!flags->witnesses.empty() || flags->witness_quorum > 0) {
      std::vector<std::string> keys;
      for (const std::string& w : flags->witnesses) {
        absl::StatusOr<std::string> text = ValueOrFile(w);
        if (!text.ok()) return fail_usage(text.status());
        keys.push_back(*text);
      }
      absl::StatusOr<witness::WitnessPolicy> made = witness::MakeWitnessPolicy(
          keys, flags->witness_quorum == 0 ? keys.size() : flags->witness_quorum);
      if (!made.ok()) return fail_usage(made.status());
      policy = *std::move(made);
    }
    const bool witnessed = !policy.witnesses.empty();
    std::vector<std::string> cosigned_by;
    bool policy_failed = false;

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
    std::unique_ptr<DomainRules> domain = flags->no_rules ? nullptr : NewDomainRules();
    absl::StatusOr<std::unique_ptr<LedgerSource>> source = OpenSource(flags->source);
    if (!source.ok()) {
      if (source.status().code() == absl::StatusCode::kInvalidArgument) {
        return fail_usage(source.status());
      }
      report.finding = ledger::Finding::kUnreadable;
      report.message = std::string(source.status().message());
    } else {
      source_name = (*source)->Describe();
      absl::StatusOr<std::string> checkpoint =
          witnessed ? (*source)->CosignedCheckpointNote() : (*source)->CheckpointNote();
      absl::StatusOr<uint64_t> size = (*source)->Size();
      absl::Status witness_check = absl::OkStatus();
      if (witnessed && checkpoint.ok()) {
        absl::StatusOr<witness::CosignedCheckpoint> cosigned =
            witness::OpenCosignedCheckpoint(*checkpoint, *vkey, policy);
        if (cosigned.ok()) {
          for (const note::Cosignature& c : cosigned->cosignatures) cosigned_by.push_back(c.name);
        } else {
          witness_check = cosigned.status();
        }
      }
      const absl::Status& witness_problem = !checkpoint.ok() ? checkpoint.status() : witness_check;
      if (witnessed && !witness_problem.ok() &&
          witness_problem.code() == absl::StatusCode::kFailedPrecondition) {
        // No cosigned checkpoint, or one with too few valid cosignatures.
        policy_failed = true;
        report.message = absl::StrCat("witness policy not met: ", witness_problem.message());
      } else if (!witness_check.ok()) {
        report.finding = ledger::Finding::kCheckpointSignature;
        report.message = absl::StrCat("cosigned checkpoint: ", witness_check.message());
      } else if (!checkpoint.ok() || !size.ok()) {
        report.finding = ledger::Finding::kUnreadable;
        report.message = std::string(
            (!checkpoint.ok() ? checkpoint.status() : size.status()).message());
      } else {
        ProgressBar bar("verifying");
        options.verify.threads = flags->threads;
        options.verify.check_signatures = !flags->no_signatures;
        options.verify.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
        if (domain) options.domain = domain->machines();
        report = ledger::AuditLedger((*source)->Reader(), *size, *checkpoint, *vkey, options);
        bar.Finish();
        if (report.finding == ledger::Finding::kOk && !flags->save_checkpoint.empty()) {
          if (absl::Status s = WriteFile(flags->save_checkpoint, *checkpoint); !s.ok()) {
            std::cerr << "trialog verify: " << s.message() << "\n";
          }
        }
      }
    }

    *exit_code = policy_failed ? kExitWitnessPolicy : ledger::FindingExitCode(report.finding);
    if (witnessed && report.finding == ledger::Finding::kOk && !policy_failed) {
      absl::StrAppend(&report.message, "; cosigned by ", cosigned_by.size(), " of ",
                      policy.witnesses.size(), " witnesses (quorum ", policy.quorum, ")");
    }
    double rate = report.seconds > 0 ? report.entries_verified / report.seconds : 0;
    if (flags->json) {
      nlohmann::json j = {
          {"source", source_name},
          {"result", policy_failed ? "witness_policy" : ledger::FindingName(report.finding)},
          {"cosigned_by", cosigned_by},
          {"exit_code", *exit_code},
          {"message", report.message},
          {"entries_verified", report.entries_verified},
          {"signatures_checked", report.signatures_checked},
          {"rules_checked", domain != nullptr},
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
