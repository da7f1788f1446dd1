// `trialog witness`: run a tlog-witness v1.0.0 witness for trialog ledgers
// (or any C2SP checkpoint log). RegisterWitness adds the subcommand to the
// trialog CLI; ConfigureWitnessCommand sets up any CLI11 App as the witness
// command (the standalone `trialog-witness` binary uses it on its top-level
// App).
//
// Exit codes written to *exit_code (those of the trialog CLI): 0 after a
// clean shutdown (SIGINT or SIGTERM) or a completed --new-key / --print-key;
// 64 (EX_USAGE) for bad flags or configuration; 1 when the witness cannot
// start (key, passphrase, directory in use or damaged, address).

#ifndef TRIALOG_TOOLS_WITNESS_WITNESS_COMMAND_H_
#define TRIALOG_TOOLS_WITNESS_WITNESS_COMMAND_H_

#include "CLI/CLI.hpp"

namespace trialog::witness {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 64;

// Adds options, help text and the run callback to `cmd`. `exit_code` must
// outlive cmd's parse.
void ConfigureWitnessCommand(CLI::App* cmd, int* exit_code);

}  // namespace trialog::witness

// Registers the "witness" subcommand on the trialog CLI (see
// tools/trialog/commands.h).
void RegisterWitness(CLI::App& app, int* exit_code);

#endif  // TRIALOG_TOOLS_WITNESS_WITNESS_COMMAND_H_
