// trialog backup: ask a running trialogd for a consistent online backup.
// trialog restore: put one trial's backup into a data directory and verify
// it end to end before keeping it.

#include <filesystem>
#include <iostream>
#include <memory>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/ledger/ledger_audit.h"
#include "core/note/checkpoint.h"
#include "core/note/keys.h"
#include "core/util/bytes.h"
#include "grpcpp/client_context.h"
#include "nlohmann/json.hpp"
#include "tools/trialog/cli_util.h"
#include "tools/trialog/commands.h"
#include "tools/trialog/domain.h"
#include "tools/trialog/sources.h"
#include "trialog/v1/admin.grpc.pb.h"

namespace trialog::cli {
namespace {

namespace fs = std::filesystem;

// Exit code when the server refused or failed the backup.
constexpr int kExitBackupFailed = 1;

// Copies the tree at `from` into `to` (which must not exist) through a
// temporary sibling, so a failed copy leaves nothing at `to`.
absl::Status CopyTree(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::path tmp = to;
  tmp += ".restoring";
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp.parent_path(), ec);
  fs::copy(from, tmp, fs::copy_options::recursive, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    return absl::UnavailableError(absl::StrCat("copying ", from.string(), ": ", ec.message()));
  }
  fs::rename(tmp, to, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    return absl::UnavailableError(absl::StrCat("renaming into ", to.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterBackup(CLI::App& app, int* exit_code) {
  struct Flags {
    SourceFlags source;
    std::string name, key;
    std::vector<std::string> trials;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "backup",
      "Ask a running trialogd for a consistent online backup (appends go on meanwhile). The\n"
      "server writes it on its own machine under its --backup_dir, as NAME/trials/<trial>/,\n"
      "and answers with the signed checkpoint each copy holds. Restore with `trialog restore`.\n"
      "Examples:\n"
      "  trialog backup --server 127.0.0.1:7443 --plaintext --name nightly-2026-11-28\n"
      "  trialog backup --server ledger:7443 --ca ca.pem --name pre-lock --trial imt-01 \\\n"
      "                 --key @imt-01.vkey --json\n"
      "Exit codes: 0 backed up, 1 the server refused or failed (nothing kept), 5 a copy's\n"
      "checkpoint does not verify under --key, 64 usage.");
  cmd->add_option("--server", flags->source.server, "trialogd address, HOST:PORT")->required();
  cmd->add_flag("--plaintext", flags->source.plaintext, "No TLS (loopback servers only)");
  cmd->add_option("--ca", flags->source.ca_file, "PEM CA certificate that signed the server's");
  cmd->add_option("--cert", flags->source.cert_file, "PEM client certificate, for mutual TLS");
  cmd->add_option("--client-key", flags->source.client_key_file, "PEM client private key");
  cmd->add_option("--server-name", flags->source.server_name, "Expected name in the certificate");
  cmd->add_option("--name", flags->name,
                  "Backup name: 1..64 of [A-Za-z0-9._-]; never reused")
      ->required();
  cmd->add_option("--trial", flags->trials, "Trial to back up (repeatable; default: all)");
  cmd->add_option("--key", flags->key,
                  "With one --trial: its verifier key (or @FILE); the copy's checkpoint must "
                  "verify under it");
  cmd->add_flag("--json", flags->json, "Print the server's answer as JSON");
  cmd->callback([flags, exit_code] {
    auto fail = [&](int code, absl::string_view message) {
      std::cerr << "trialog backup: " << message << "\n";
      *exit_code = code;
    };
    std::optional<note::Verifier> verifier;
    if (!flags->key.empty()) {
      if (flags->trials.size() != 1) {
        return fail(kExitUsage, "--key needs exactly one --trial (each trial has its own key)");
      }
      absl::StatusOr<std::string> text = ValueOrFile(flags->key);
      if (!text.ok()) return fail(kExitUsage, text.status().message());
      absl::StatusOr<note::Verifier> v = note::ParseVerifierKey(*text);
      if (!v.ok()) return fail(kExitUsage, v.status().message());
      verifier = *std::move(v);
    }
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = OpenServerChannel(flags->source);
    if (!channel.ok()) return fail(kExitUsage, channel.status().message());
    std::unique_ptr<v1::AdminService::Stub> stub = v1::AdminService::NewStub(*channel);
    v1::CreateBackupRequest request;
    request.set_name(flags->name);
    for (const std::string& t : flags->trials) request.add_trial_ids(t);
    v1::CreateBackupResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(30));
    grpc::Status status = stub->CreateBackup(&context, request, &response);
    if (!status.ok()) {
      return fail(kExitBackupFailed,
                  absl::StrCat("the server refused the backup (", status.error_code(), "): ",
                               status.error_message()));
    }
    nlohmann::json trials = nlohmann::json::array();
    for (const v1::TrialBackup& t : response.trials()) {
      nlohmann::json j = {{"trial", t.trial_id()},
                          {"directory", t.directory()},
                          {"entries", t.entries()},
                          {"checkpoint_note", t.checkpoint_note()}};
      if (verifier) {
        absl::StatusOr<note::Checkpoint> cp = note::OpenCheckpoint(t.checkpoint_note(), *verifier);
        if (!cp.ok()) {
          fail(ledger::FindingExitCode(ledger::Finding::kCheckpointSignature),
               absl::StrCat("trial ", t.trial_id(), ": the copy's checkpoint does not verify: ",
                            cp.status().message()));
          j["verified"] = false;
        } else {
          j["verified"] = true;
          j["size"] = cp->size;
          j["root"] = Base64Encode(cp->root_hash);
        }
      }
      trials.push_back(std::move(j));
    }
    if (flags->json) {
      std::cout << nlohmann::json{{"directory", response.directory()}, {"trials", trials}}.dump(2)
                << "\n";
      return;
    }
    std::cout << "backup written on the server to " << response.directory() << "\n";
    for (const nlohmann::json& t : trials) {
      std::cout << "  " << t["trial"].get<std::string>() << ": "
                << t["entries"].get<uint64_t>() << " entries";
      if (t.contains("root")) {
        std::cout << ", checkpoint verified, root " << t["root"].get<std::string>();
      }
      std::cout << "\n";
    }
  });
}

void RegisterRestore(CLI::App& app, int* exit_code) {
  struct Flags {
    std::string from, data, trial, key;
    int threads = 0;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "restore",
      "Restore one trial from a backup (`trialog backup`) into a data directory, then verify\n"
      "the restored ledger end to end (as `trialog verify --data`) before keeping it. The\n"
      "target trial must not exist; on any failure nothing is left behind. Start trialogd on\n"
      "the data directory afterwards.\n"
      "Example:\n"
      "  trialog restore --from /backups/nightly-2026-11-28 --data /var/lib/trialog \\\n"
      "                  --trial imt-01 --key @imt-01.vkey\n"
      "Exit codes: as `trialog verify` (0 restored and verified; 2 unreadable or missing\n"
      "backup, or target exists; 3-6 the backup is damaged: nothing restored), 64 usage.");
  cmd->add_option("--from", flags->from, "The backup's directory (holding trials/<trial>/)")
      ->required();
  cmd->add_option("--data", flags->data, "trialogd data directory to restore into")->required();
  cmd->add_option("--trial", flags->trial, "Trial to restore")->required();
  cmd->add_option("--key", flags->key, "The trial's verifier key, or @FILE")->required();
  cmd->add_option("--threads", flags->threads, "Signature-checking threads (default: all cores)");
  cmd->add_flag("--json", flags->json, "Print the result as JSON");
  cmd->callback([flags, exit_code] {
    auto report_and_exit = [&](ledger::Finding finding, const std::string& message,
                               const ledger::AuditReport* report) {
      *exit_code = ledger::FindingExitCode(finding);
      if (flags->json) {
        nlohmann::json j = {{"result", ledger::FindingName(finding)},
                            {"exit_code", *exit_code},
                            {"message", message},
                            {"trial", flags->trial}};
        if (report != nullptr) {
          j["entries_verified"] = report->entries_verified;
          j["checkpoint"] = {{"size", report->checkpoint.size},
                             {"root", Base64Encode(report->checkpoint.root_hash)}};
          j["first_bad_index"] = report->first_bad_index
                                     ? nlohmann::json(*report->first_bad_index)
                                     : nlohmann::json();
        }
        std::cout << j.dump(2) << "\n";
      } else if (finding == ledger::Finding::kOk) {
        std::cout << "restored " << flags->trial << " into " << flags->data << "\n    " << message
                  << "\n";
      } else {
        std::cerr << "trialog restore: " << message << "\n";
      }
    };
    absl::StatusOr<std::string> vkey_text = ValueOrFile(flags->key);
    if (!vkey_text.ok()) {
      std::cerr << "trialog restore: " << vkey_text.status().message() << "\n";
      *exit_code = kExitUsage;
      return;
    }
    absl::StatusOr<note::Verifier> vkey = note::ParseVerifierKey(*vkey_text);
    if (!vkey.ok()) {
      std::cerr << "trialog restore: " << vkey.status().message() << "\n";
      *exit_code = kExitUsage;
      return;
    }
    const fs::path from = fs::path(flags->from) / "trials" / flags->trial;
    const fs::path to = fs::path(flags->data) / "trials" / flags->trial;
    std::error_code ec;
    if (!fs::is_directory(from, ec)) {
      return report_and_exit(ledger::Finding::kUnreadable,
                             absl::StrCat("no backup of trial ", flags->trial, " at ", from.string()),
                             nullptr);
    }
    if (fs::exists(to, ec)) {
      return report_and_exit(
          ledger::Finding::kUnreadable,
          absl::StrCat(to.string(), " already exists: restore never overwrites a ledger"), nullptr);
    }
    if (absl::Status s = CopyTree(from, to); !s.ok()) {
      return report_and_exit(ledger::Finding::kUnreadable, std::string(s.message()), nullptr);
    }

    // Verify what now sits in the data directory, as `trialog verify --data`.
    SourceFlags source_flags;
    source_flags.data = flags->data;
    source_flags.trial = flags->trial;
    ledger::AuditReport report;
    absl::StatusOr<std::unique_ptr<LedgerSource>> source = OpenSource(source_flags);
    absl::StatusOr<std::string> checkpoint =
        source.ok() ? (*source)->CheckpointNote() : source.status();
    absl::StatusOr<uint64_t> size = source.ok() ? (*source)->Size() : source.status();
    if (!checkpoint.ok() || !size.ok()) {
      report.finding = ledger::Finding::kUnreadable;
      report.message = std::string((!checkpoint.ok() ? checkpoint.status() : size.status()).message());
    } else {
      std::unique_ptr<DomainRules> domain = NewDomainRules();
      ledger::AuditOptions options;
      options.domain = domain->machines();
      options.verify.threads = flags->threads;
      ProgressBar bar("verifying the restored ledger");
      options.verify.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
      report = ledger::AuditLedger((*source)->Reader(), *size, *checkpoint, *vkey, options);
      bar.Finish();
    }
    source = absl::UnknownError("closed");  // release RocksDB before removing files
    if (report.finding != ledger::Finding::kOk) {
      fs::remove_all(to, ec);
      return report_and_exit(
          report.finding,
          absl::StrCat("the backup does not verify, nothing restored: ", report.message), &report);
    }
    report_and_exit(ledger::Finding::kOk, report.message, &report);
  });
}

}  // namespace trialog::cli
