// trialog verify: end-to-end verification of a ledger (core/ledger/ledger_audit.h).

#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/ledger/ledger_audit.h"
#include "core/note/keys.h"
#include "core/util/bytes.h"
#include "nlohmann/json.hpp"
#include "tools/trialog/cli_util.h"
#include "tools/trialog/commands.h"
#include "tools/trialog/domain.h"
#include "tools/trialog/sources.h"

namespace trialog::cli {

void RegisterVerify(CLI::App& app, int* exit_code) {
  struct Flags {
    SourceFlags source;
    std::string key, trusted, save_checkpoint;
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
      "Exit codes: 0 ok, 2 unreadable input, 3 hash/chain damage, 4 envelope signature,\n"
      "5 checkpoint signature, 6 rule violation, 7 inconsistent with the trusted checkpoint,\n"
      "64 usage.");
  AddSourceFlags(cmd, &flags->source);
  cmd->add_option("--key", flags->key,
                  "The ledger's verifier key (name+id+base64), or @FILE holding it")
      ->required();
  cmd->add_option("--trusted", flags->trusted,
                  "A checkpoint note trusted earlier, as @FILE: history must extend it");
  cmd->add_option("--save-checkpoint", flags->save_checkpoint,
                  "After a clean verification, write the verified checkpoint here (to pass as "
                  "--trusted next time)");
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
      absl::StatusOr<std::string> checkpoint = (*source)->CheckpointNote();
      absl::StatusOr<uint64_t> size = (*source)->Size();
      if (!checkpoint.ok() || !size.ok()) {
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

    *exit_code = ledger::FindingExitCode(report.finding);
    double rate = report.seconds > 0 ? report.entries_verified / report.seconds : 0;
    if (flags->json) {
      nlohmann::json j = {
          {"source", source_name},
          {"result", ledger::FindingName(report.finding)},
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
      if (report.finding == ledger::Finding::kOk) {
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
