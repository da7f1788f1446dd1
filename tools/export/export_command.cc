#include "tools/export/export_command.h"

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/crypto/key_file.h"
#include "core/ledger/ledger_audit.h"
#include "core/note/keys.h"
#include "core/util/bytes.h"
#include "nlohmann/json.hpp"
#include "tools/export/bundle.h"
#include "tools/export/disclosure.h"
#include "tools/export/export_input.h"
#include "tools/export/odm.h"
#include "tools/export/report.h"
#include "tools/trialog/cli_util.h"
#include "tools/trialog/sources.h"
#include "tools/trialog/witness_flags.h"

namespace trialog::exporter {
namespace {

struct CommonFlags {
  cli::SourceFlags source;
  cli::WitnessFlags witness;  // with --witness: export the witness-cosigned checkpoint
  std::string key, out;
  int threads = 0;
  bool json = false;
};

void AddCommon(CLI::App* cmd, CommonFlags* f, const char* out_help) {
  cli::AddSourceFlags(cmd, &f->source);
  cmd->add_option("--key", f->key, "The ledger's verifier key (name+id+base64), or @FILE holding it")->required();
  cmd->add_option("--out", f->out, out_help)->required();
  cli::AddWitnessFlags(cmd, &f->witness);
  cmd->add_option("--threads", f->threads, "Signature-checking threads (default: all cores)");
  cmd->add_flag("--json", f->json, "Print the result as JSON on stdout");
}

struct ExporterKeyFlags {
  std::string key_file, passphrase_file;
};

void AddExporterKey(CLI::App* cmd, ExporterKeyFlags* f) {
  cmd->add_option("--exporter-key-file", f->key_file,
                  "The exporter's passphrase-sealed key file (trialog keygen); it signs the manifest")
      ->required();
  cmd->add_option("--passphrase-file", f->passphrase_file,
                  "File holding the key file's passphrase (else $TRIALOG_PASSPHRASE, else the terminal)");
}

absl::StatusOr<note::NoteSigner> LoadExporter(const ExporterKeyFlags& f) {
  absl::StatusOr<std::string> name = crypto::ReadKeyFileName(f.key_file);
  if (!name.ok()) return name.status();
  absl::StatusOr<std::string> passphrase = cli::ReadPassphrase(f.passphrase_file, "Exporter key passphrase: ", false);
  if (!passphrase.ok()) return passphrase.status();
  absl::StatusOr<crypto::SigningKey> key = crypto::LoadKeyFile(f.key_file, *passphrase);
  crypto::Wipe(&*passphrase);
  if (!key.ok()) return key.status();
  return note::NoteSigner(*name, *key);
}

// Reads and verifies the ledger; on failure prints why and sets the exit
// code (usage 64, the verification finding's 2..7, 8 for a checkpoint
// lacking the cosignatures of the --witness policy, or 1).
std::unique_ptr<ExportInput> Load(const char* command, const CommonFlags& f, std::string* source_name,
                                  int* exit_code) {
  auto fail = [&](int code, absl::string_view message) -> std::unique_ptr<ExportInput> {
    std::cerr << "trialog " << command << ": " << message << "\n";
    *exit_code = code;
    return nullptr;
  };
  absl::StatusOr<std::string> vkey = cli::ValueOrFile(f.key);
  if (!vkey.ok()) return fail(cli::kExitUsage, vkey.status().message());
  absl::StatusOr<note::Verifier> parsed = note::ParseVerifierKey(*vkey);
  if (!parsed.ok()) return fail(cli::kExitUsage, absl::StrCat("--key: ", parsed.status().message()));
  absl::StatusOr<witness::WitnessPolicy> policy = cli::PolicyFromFlags(f.witness);
  if (!policy.ok()) return fail(cli::kExitUsage, policy.status().message());
  absl::StatusOr<std::unique_ptr<cli::LedgerSource>> source = cli::OpenSource(f.source);
  if (!source.ok()) {
    return fail(source.status().code() == absl::StatusCode::kInvalidArgument
                    ? cli::kExitUsage
                    : ledger::FindingExitCode(ledger::Finding::kUnreadable),
                source.status().message());
  }
  *source_name = (*source)->Describe();
  // With a witness policy: the newest checkpoint the witnesses cosigned,
  // which the export then carries with its cosignature lines.
  absl::StatusOr<cli::PolicyCheckpoint> checkpoint = cli::CheckpointUnderPolicy(**source, *parsed, *policy);
  absl::StatusOr<uint64_t> size = (*source)->Size();
  if (!checkpoint.ok() && !policy->witnesses.empty()) {
    switch (checkpoint.status().code()) {
      case absl::StatusCode::kFailedPrecondition:
        return fail(cli::kExitWitnessPolicy,
                    absl::StrCat("witness policy not met: ", checkpoint.status().message(), "; nothing exported"));
      case absl::StatusCode::kUnauthenticated:
        return fail(ledger::FindingExitCode(ledger::Finding::kCheckpointSignature),
                    absl::StrCat("cosigned checkpoint: ", checkpoint.status().message(), "; nothing exported"));
      default:
        break;
    }
  }
  if (!checkpoint.ok() || !size.ok()) {
    return fail(ledger::FindingExitCode(ledger::Finding::kUnreadable),
                (!checkpoint.ok() ? checkpoint.status() : size.status()).message());
  }
  cli::ProgressBar bar("verifying");
  LoadOptions options;
  options.threads = f.threads;
  options.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  ledger::AuditReport audit;
  absl::StatusOr<std::unique_ptr<ExportInput>> in =
      LoadExportInput((*source)->Reader(), *size, checkpoint->note, *vkey, options, &audit);
  bar.Finish();
  if (!in.ok()) {
    const int code = audit.finding != ledger::Finding::kOk ? ledger::FindingExitCode(audit.finding) : cli::kExitError;
    return fail(code, absl::StrCat(in.status().message(), "; nothing exported"));
  }
  return *std::move(in);
}

void Report(const CommonFlags& f, const ExportInput& in, const std::string& what, const std::string& source,
            nlohmann::json extra) {
  if (f.json) {
    nlohmann::json j = {{"result", "ok"},
                        {"wrote", f.out},
                        {"what", what},
                        {"source", source},
                        {"entries", in.entries.size()},
                        {"checkpoint", {{"origin", in.checkpoint.origin},
                                        {"size", in.checkpoint.size},
                                        {"root", Base64Encode(in.checkpoint.root_hash)}}}};
    j.update(extra);
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "wrote " << what << " " << f.out << "\n    from " << source << ": " << in.entries.size()
              << " entries verified, checkpoint size " << in.checkpoint.size << " root "
              << Base64Encode(in.checkpoint.root_hash) << "\n";
    for (auto it = extra.begin(); it != extra.end(); ++it) {
      std::cout << "    " << it.key() << ": " << (it->is_string() ? it->get<std::string>() : it->dump()) << "\n";
    }
  }
}

void RegisterBundle(CLI::App* parent, int* exit_code) {
  struct Flags {
    CommonFlags common;
    ExporterKeyFlags exporter;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = parent->add_subcommand(
      "bundle",
      "Export the whole ledger as a self-verifying bundle: the entries' exact bytes, the signed checkpoint,\n"
      "the ledger's verifier key, events.jsonl (every event, readable) and a manifest of file hashes and\n"
      "counts signed by the exporter key. Anyone can check it offline with `trialog verify --bundle DIR`.\n"
      "Example:\n"
      "  trialog export bundle --data /var/lib/trialog --trial imt-01 --key @ledger.vkey \\\n"
      "      --exporter-key-file exporter.key --out imt-01-bundle");
  AddCommon(cmd, &flags->common, "Directory to create (must not exist, or be empty)");
  AddExporterKey(cmd, &flags->exporter);
  cmd->callback([flags, exit_code] {
    absl::StatusOr<note::NoteSigner> exporter = LoadExporter(flags->exporter);
    if (!exporter.ok()) {
      std::cerr << "trialog export bundle: exporter key: " << exporter.status().message() << "\n";
      *exit_code = cli::kExitUsage;
      return;
    }
    std::string source;
    std::unique_ptr<ExportInput> in = Load("export bundle", flags->common, &source, exit_code);
    if (in == nullptr) return;
    if (absl::Status s = WriteLedgerBundle(*in, *exporter, flags->common.out); !s.ok()) {
      std::cerr << "trialog export bundle: " << s.message() << "\n";
      *exit_code = cli::kExitError;
      return;
    }
    *exit_code = cli::kExitOk;
    Report(flags->common, *in, "ledger bundle", source,
           {{"exporter_key", exporter->verifier_key()}, {"ledger_key", in->ledger_vkey}});
  });
}

void RegisterSubject(CLI::App* parent, int* exit_code) {
  struct Flags {
    CommonFlags common;
    ExporterKeyFlags exporter;
    std::string subject;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = parent->add_subcommand(
      "subject",
      "Export one subject's entries only, each with its inclusion proof under the signed checkpoint (plus\n"
      "the trial-level and administrative entries needed to check signatures), for an ethics committee or\n"
      "the subject's physician. `trialog verify --bundle DIR` checks it; it says what it cannot check.\n"
      "Example:\n"
      "  trialog export subject --bundle imt-01-bundle --key @ledger.vkey --subject RU-01-0007 \\\n"
      "      --exporter-key-file exporter.key --out RU-01-0007");
  AddCommon(cmd, &flags->common, "Directory to create (must not exist, or be empty)");
  AddExporterKey(cmd, &flags->exporter);
  cmd->add_option("--subject", flags->subject, "Subject id (the stream is subject/<id>)")->required();
  cmd->callback([flags, exit_code] {
    absl::StatusOr<note::NoteSigner> exporter = LoadExporter(flags->exporter);
    if (!exporter.ok()) {
      std::cerr << "trialog export subject: exporter key: " << exporter.status().message() << "\n";
      *exit_code = cli::kExitUsage;
      return;
    }
    std::string source;
    std::unique_ptr<ExportInput> in = Load("export subject", flags->common, &source, exit_code);
    if (in == nullptr) return;
    if (absl::Status s = WriteSubjectDisclosure(*in, flags->subject, *exporter, flags->common.out); !s.ok()) {
      std::cerr << "trialog export subject: " << s.message() << "\n";
      *exit_code = s.code() == absl::StatusCode::kNotFound ? cli::kExitUsage : cli::kExitError;
      return;
    }
    *exit_code = cli::kExitOk;
    Report(flags->common, *in, "subject disclosure", source,
           {{"subject", flags->subject}, {"exporter_key", exporter->verifier_key()}});
  });
}

void RegisterOdm(CLI::App* parent, int* exit_code) {
  struct Flags {
    CommonFlags common;
    std::string subject, version = "1.3.2";
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = parent->add_subcommand(
      "odm",
      "Export CDISC ODM 1.3.2 XML (Transactional, Archival; or 2.0 with --odm-version 2.0): every value and\n"
      "change with its audit record\n"
      "(user, site, time with the site's UTC offset, reason, ledger entry and leaf hash), every e-signature,\n"
      "the users, sites and signature definitions, and the metadata of the items used.\n"
      "Example:\n"
      "  trialog export odm --bundle imt-01-bundle --key @ledger.vkey --out imt-01.xml\n"
      "  xmllint --noout --schema ODM1-3-2.xsd imt-01.xml");
  AddCommon(cmd, &flags->common, "XML file to write");
  cmd->add_option("--subject", flags->subject, "Only this subject (Granularity SingleSubject)");
  cmd->add_option("--odm-version", flags->version,
                  "1.3.2 (default: Transactional, Archival) or 2.0 (Context Archive)")
      ->check(CLI::IsMember({"1.3.2", "2.0"}));
  cmd->callback([flags, exit_code] {
    std::string source;
    std::unique_ptr<ExportInput> in = Load("export odm", flags->common, &source, exit_code);
    if (in == nullptr) return;
    OdmOptions options;
    options.subject_id = flags->subject;
    absl::StatusOr<std::string> xml =
        flags->version == "2.0" ? WriteOdm20(*in, options) : WriteOdm132(*in, options);
    if (!xml.ok()) {
      std::cerr << "trialog export odm: " << xml.status().message() << "\n";
      *exit_code = xml.status().code() == absl::StatusCode::kInvalidArgument ? cli::kExitUsage : cli::kExitError;
      return;
    }
    if (absl::Status s = cli::WriteFile(flags->common.out, *xml); !s.ok()) {
      std::cerr << "trialog export odm: " << s.message() << "\n";
      *exit_code = cli::kExitError;
      return;
    }
    *exit_code = cli::kExitOk;
    Report(flags->common, *in, absl::StrCat("ODM ", flags->version), source, {{"bytes", xml->size()}});
  });
}

void RegisterReport(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<CommonFlags>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Write the human-readable trial report: one self-contained HTML file (no scripts, no network) with\n"
      "the verification result and checkpoint, the trial summary with ORR and its exact 95% CI, swimmer\n"
      "and waterfall plots, adverse events by grade and term, dosing, e-signature manifestations and the\n"
      "audit trail with corrections highlighted.\n"
      "Example:\n"
      "  trialog report --bundle imt-01-bundle --key @ledger.vkey --out imt-01-report.html");
  AddCommon(cmd, flags.get(), "HTML file to write");
  cmd->callback([flags, exit_code] {
    std::string source;
    std::unique_ptr<ExportInput> in = Load("report", *flags, &source, exit_code);
    if (in == nullptr) return;
    ReportOptions options;
    options.source = source;
    absl::StatusOr<std::string> html = WriteHtmlReport(*in, options);
    if (!html.ok()) {
      std::cerr << "trialog report: " << html.status().message() << "\n";
      *exit_code = cli::kExitError;
      return;
    }
    if (absl::Status s = cli::WriteFile(flags->out, *html); !s.ok()) {
      std::cerr << "trialog report: " << s.message() << "\n";
      *exit_code = cli::kExitError;
      return;
    }
    *exit_code = cli::kExitOk;
    Report(*flags, *in, "report", source, {{"bytes", html->size()}});
  });
}

}  // namespace

void RegisterExport(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "export", "Regulator exports of a verified ledger: bundle, odm, subject (see `trialog export CMD --help`).");
  cmd->require_subcommand(1);
  RegisterBundle(cmd, exit_code);
  RegisterOdm(cmd, exit_code);
  RegisterSubject(cmd, exit_code);
  RegisterReport(app, exit_code);
}

int VerifyDisclosureCommand(const std::string& dir, const std::string& ledger_vkey, const std::string& exporter_vkey,
                            bool json, std::ostream& out) {
  BundleTrust trust;
  if (!exporter_vkey.empty()) {
    absl::StatusOr<std::string> pinned = cli::ValueOrFile(exporter_vkey);
    if (!pinned.ok() || !note::ParseVerifierKey(*pinned).ok()) {
      std::cerr << "trialog verify: --exporter-key is not a verifier key\n";
      return cli::kExitUsage;
    }
    trust.exporter_vkey = *pinned;
  }
  DisclosureVerification v = VerifySubjectDisclosure(dir, ledger_vkey, trust);
  if (json) {
    nlohmann::json j = {{"source", absl::StrCat("subject disclosure ", dir)},
                        {"form", "subject-disclosure"},
                        {"subject", v.subject_id},
                        {"result", ledger::FindingName(v.finding)},
                        {"exit_code", ledger::FindingExitCode(v.finding)},
                        {"message", v.message},
                        {"entries", v.entries},
                        {"subject_entries", v.subject_entries},
                        {"signatures_checked", v.signatures_checked},
                        {"subject_rules_replayed", v.subject_rules_replayed},
                        {"trial_rules_replayed", false},
                        {"exporter_key", v.exporter_key_name},
                        {"exporter_key_pinned", v.exporter_key_pinned},
                        {"checkpoint", {{"origin", v.checkpoint.origin},
                                        {"size", v.checkpoint.size},
                                        {"root", Base64Encode(v.checkpoint.root_hash)}}},
                        {"not_verified", v.limitations}};
    j["first_bad_index"] = v.first_bad_index ? nlohmann::json(*v.first_bad_index) : nlohmann::json();
    out << j.dump(2) << "\n";
  } else {
    out << FormatDisclosureReport(v);
  }
  return ledger::FindingExitCode(v.finding);
}

}  // namespace trialog::exporter
