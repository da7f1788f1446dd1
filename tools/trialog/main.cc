// trialog: the auditor's and operator's command line.

#include <iostream>

#include "CLI/CLI.hpp"
#include "core/util/mutex_debug.h"
#include "tools/trialog/audit_commands.h"
#include "tools/trialog/cli_util.h"
#include "tools/trialog/commands.h"
#include "tools/trialog/import_command.h"
#include "tools/export/export_command.h"
#include "tools/witness/witness_command.h"

int main(int argc, char** argv) {
  trialog::DisableMutexDeadlockDetectionUnlessAsked();
  CLI::App app{
      "trialog — audit ledger for clinical trials.\n"
      "Verify a ledger end to end, keep and check checkpoints, make keys, export,\n"
      "bulk-import batch-signed events,\n"
      "run a witness that cosigns checkpoints.\n"
      "Run `trialog COMMAND --help` for each command's flags and examples."};
  app.require_subcommand(1);
  int exit_code = trialog::cli::kExitOk;
  trialog::cli::RegisterKeygen(app, &exit_code);
  trialog::cli::RegisterVerify(app, &exit_code);
  trialog::cli::RegisterCheckpoint(app, &exit_code);
  trialog::cli::RegisterDemo(app, &exit_code);
  trialog::cli::RegisterBackup(app, &exit_code);
  trialog::cli::RegisterRestore(app, &exit_code);
  trialog::exporter::RegisterExport(app, &exit_code);
  trialog::cli::RegisterAuditTrail(app, &exit_code);
  trialog::cli::RegisterInspect(app, &exit_code);
  trialog::cli::RegisterImport(app, &exit_code);
  RegisterWitness(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return trialog::cli::kExitUsage;
  }
  return exit_code;
}
