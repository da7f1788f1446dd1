// trialog-witness: the witness alone (the same as `trialog witness`), a small
// binary without gRPC or RocksDB for the machines regulators run witnesses on.

#include "CLI/CLI.hpp"
#include "tools/witness/witness_command.h"

int main(int argc, char** argv) {
  CLI::App app;
  app.name("trialog-witness");
  int exit_code = trialog::witness::kExitOk;
  trialog::witness::ConfigureWitnessCommand(&app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return trialog::witness::kExitUsage;
  }
  return exit_code;
}
