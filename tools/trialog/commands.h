// The trialog CLI's subcommands. Each Register* adds one subcommand to the
// app; its callback sets *exit_code.

#ifndef TRIALOG_TOOLS_TRIALOG_COMMANDS_H_
#define TRIALOG_TOOLS_TRIALOG_COMMANDS_H_

#include "CLI/CLI.hpp"

namespace trialog::cli {

void RegisterKeygen(CLI::App& app, int* exit_code);
void RegisterVerify(CLI::App& app, int* exit_code);
void RegisterCheckpoint(CLI::App& app, int* exit_code);
void RegisterDemo(CLI::App& app, int* exit_code);
void RegisterBackup(CLI::App& app, int* exit_code);
void RegisterRestore(CLI::App& app, int* exit_code);

}  // namespace trialog::cli

#endif  // TRIALOG_TOOLS_TRIALOG_COMMANDS_H_
