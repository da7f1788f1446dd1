// trialog audit-trail: the ledger's audit trail, filtered, after the ledger
// verified end to end (tools/audit/trail.h).

#include <iostream>

#include "absl/strings/str_cat.h"
#include "core/ledger/ledger_audit.h"
#include "core/note/keys.h"
#include "tools/audit/trail.h"
#include "tools/trialog/audit_commands.h"
#include "tools/trialog/cli_util.h"
#include "tools/trialog/domain.h"
#include "tools/trialog/sources.h"

namespace trialog::cli {

void RegisterAuditTrail(CLI::App& app, int* exit_code) {
  struct Flags {
    SourceFlags source;
    std::string key, trusted, subject, user, role, site, from, to, time = "recorded";
    std::vector<std::string> types;
    bool json = false, csv = false, progress = false;
    int threads = 0;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "audit-trail",
      "The audit trail: who (principal, printed name, role, site), what (event type and its key\n"
      "fields), when (server time in UTC and at the site's UTC offset), why (reason), old -> new\n"
      "values of corrections, voids, and e-signature manifestations (printed name, time, meaning).\n"
      "The ledger is verified end to end first (as `trialog verify`); nothing is printed unless it\n"
      "verifies. Output: an aligned table (default), --json (JSON Lines: one object per entry) or\n"
      "--csv (RFC 4180, CRLF line ends, header record).\n"
      "Examples:\n"
      "  trialog audit-trail --data /var/lib/trialog --trial imt-01 --key @ledger.vkey --subject RU-01-0001\n"
      "  trialog audit-trail --bundle export/ --key @ledger.vkey --type data_corrected --csv\n"
      "  trialog audit-trail --server 127.0.0.1:7443 --plaintext --trial imt-01 --key @ledger.vkey \\\n"
      "      --role investigator --from 2025-03-01T00:00:00Z --to 2025-04-01T00:00:00+03:00\n"
      "Exit codes: 0 ok, 2-7 as `trialog verify` when the ledger does not verify, 64 usage.");
  AddSourceFlags(cmd, &flags->source);
  cmd->add_option("--key", flags->key, "The ledger's verifier key, or @FILE")->required();
  cmd->add_option("--trusted", flags->trusted, "A checkpoint note trusted earlier (@FILE): history must extend it");
  cmd->add_option("--subject", flags->subject, "Only this subject (id, or stream id subject/<id>)")->group("Filter");
  cmd->add_option("--user", flags->user, "Only this principal (id or exact printed name)")->group("Filter");
  cmd->add_option("--role", flags->role, "Only this role (investigator, pharmacist, ...)")->group("Filter");
  cmd->add_option("--site", flags->site, "Only this site id")->group("Filter");
  cmd->add_option("--type", flags->types,
                  "Only these event types (repeatable): dose_administered, data_corrected, e_signature, "
                  "principal_registered, ...")
      ->group("Filter");
  cmd->add_option("--from", flags->from, "Only entries at or after this RFC 3339 instant")->group("Filter");
  cmd->add_option("--to", flags->to, "Only entries at or before this RFC 3339 instant")->group("Filter");
  cmd->add_option("--time", flags->time,
                  "Which time --from/--to apply to: recorded (server, default) or observed (clinical)")
      ->check(CLI::IsMember({"recorded", "observed"}))
      ->group("Filter");
  auto* json = cmd->add_flag("--json", flags->json, "JSON Lines, one object per entry")->group("Output");
  cmd->add_flag("--csv", flags->csv, "RFC 4180 CSV")->group("Output")->excludes(json);
  cmd->add_flag("--progress", flags->progress, "Show verification progress on stderr even when not a terminal");
  cmd->add_option("--threads", flags->threads, "Signature-checking threads (default: all cores)");
  cmd->callback([flags, exit_code] {
    auto fail = [&](int code, absl::string_view message) {
      std::cerr << "trialog audit-trail: " << message << "\n";
      *exit_code = code;
    };
    audit::TrailFilter filter;
    filter.subject = flags->subject;
    filter.user = flags->user;
    filter.role = flags->role;
    filter.site = flags->site;
    filter.event_types = flags->types;
    filter.by_observed_time = flags->time == "observed";
    for (auto [text, bound] : {std::pair{&flags->from, &filter.from}, std::pair{&flags->to, &filter.to}}) {
      if (text->empty()) continue;
      absl::StatusOr<int64_t> t = audit::ParseRfc3339(*text);
      if (!t.ok()) return fail(kExitUsage, t.status().message());
      *bound = *t;
    }
    absl::StatusOr<std::string> vkey_text = ValueOrFile(flags->key);
    if (!vkey_text.ok()) return fail(kExitUsage, vkey_text.status().message());
    absl::StatusOr<note::Verifier> vkey = note::ParseVerifierKey(*vkey_text);
    if (!vkey.ok()) return fail(kExitUsage, vkey.status().message());
    ledger::AuditOptions options;
    if (!flags->trusted.empty()) {
      // As verify: @FILE is read verbatim (a note ends with "\n").
      absl::StatusOr<std::string> trusted = flags->trusted[0] == '@'
                                                ? ReadFile(flags->trusted.substr(1))
                                                : absl::StatusOr<std::string>(flags->trusted);
      if (!trusted.ok()) return fail(kExitUsage, trusted.status().message());
      options.trusted_checkpoint = *trusted;
    }
    absl::StatusOr<std::unique_ptr<LedgerSource>> source = OpenSource(flags->source);
    if (!source.ok()) {
      return fail(source.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage : 2,
                  source.status().message());
    }
    absl::StatusOr<std::string> checkpoint = (*source)->CheckpointNote();
    if (!checkpoint.ok()) return fail(2, checkpoint.status().message());
    absl::StatusOr<uint64_t> size = (*source)->Size();
    if (!size.ok()) return fail(2, size.status().message());

    // Rows are built while the entries are verified (one read).
    audit::TrailBuilder builder;
    std::vector<audit::TrailRow> rows;
    ledger::EntryReader inner = (*source)->Reader();
    ledger::EntryReader reader = [&](uint64_t from, const std::function<bool(absl::string_view)>& sink) {
      return inner(from, [&](absl::string_view bytes) {
        if (absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry(bytes); e.ok()) {
          audit::TrailRow row = builder.Add(*e);
          if (filter.Matches(row)) rows.push_back(std::move(row));
        }
        return sink(bytes);
      });
    };
    std::unique_ptr<DomainRules> domain = NewDomainRules();
    options.domain = domain->machines();
    options.verify.threads = flags->threads;
    ProgressBar bar("verifying", flags->progress);
    options.verify.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
    ledger::AuditReport report = ledger::AuditLedger(reader, *size, *checkpoint, *vkey, options);
    bar.Finish();
    if (report.finding != ledger::Finding::kOk) {
      return fail(ledger::FindingExitCode(report.finding),
                  absl::StrCat("the ledger does not verify (", ledger::FindingName(report.finding), "): ",
                               report.message,
                               report.first_bad_index ? absl::StrCat(" [first bad entry ", *report.first_bad_index, "]")
                                                      : "",
                               "; run `trialog verify` for details. No audit trail printed."));
    }
    if (flags->json) {
      audit::WriteJsonLines(rows, std::cout);
    } else if (flags->csv) {
      audit::WriteCsv(rows, std::cout);
    } else {
      audit::WriteTable(rows, std::cout);
      std::cerr << rows.size() << " of " << report.entries_verified << " entries (ledger verified: "
                << report.message << ")\n";
    }
    *exit_code = kExitOk;
  });
}

}  // namespace trialog::cli
