// `trialog import`: batch-signed bulk import (tools/trialog/import.cc).

#ifndef TRIALOG_TOOLS_TRIALOG_IMPORT_COMMAND_H_
#define TRIALOG_TOOLS_TRIALOG_IMPORT_COMMAND_H_

#include "CLI/CLI.hpp"

namespace trialog::cli {

void RegisterImport(CLI::App& app, int* exit_code);

}  // namespace trialog::cli

#endif  // TRIALOG_TOOLS_TRIALOG_IMPORT_COMMAND_H_
