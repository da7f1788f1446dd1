// The CLI commands of regulator exports:
//
//   trialog export bundle   a self-verifying bundle of the whole ledger
//   trialog export odm      CDISC ODM 1.3.2 XML
//   trialog export subject  one subject's entries with inclusion proofs
//   trialog report          the human-readable HTML report
//
// Each reads a ledger from a source (--server, --data or --bundle, as
// `trialog verify`), verifies it end to end under --key, and refuses to
// export a ledger that does not verify (exit code: the verification
// finding's, 2..7). With a witness policy (--witness KEY.. --min-witnesses
// K, tools/trialog/witness_flags.h) they export the newest checkpoint the
// witnesses cosigned, cosignature lines included (exit 8 if it lacks them).

#ifndef TRIALOG_TOOLS_EXPORT_EXPORT_COMMAND_H_
#define TRIALOG_TOOLS_EXPORT_EXPORT_COMMAND_H_

#include <ostream>
#include <string>

#include "CLI/CLI.hpp"

namespace trialog::exporter {

// Adds `export` (with subcommands bundle, odm, subject) and `report`.
void RegisterExport(CLI::App& app, int* exit_code);

// `trialog verify --bundle DIR` for a per-subject disclosure: verifies it
// (disclosure.h) under `ledger_vkey` and prints the report (text, or JSON
// with `json`) to `out`. `exporter_vkey` pins the exporter key ("" = take
// the bundle's). Returns the exit code (ledger::FindingExitCode; 64 for a
// malformed key).
int VerifyDisclosureCommand(const std::string& dir, const std::string& ledger_vkey,
                            const std::string& exporter_vkey, bool json, std::ostream& out);

}  // namespace trialog::exporter

#endif  // TRIALOG_TOOLS_EXPORT_EXPORT_COMMAND_H_
