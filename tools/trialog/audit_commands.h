// The auditor's review commands (issue 5): audit-trail and inspect.

#ifndef TRIALOG_TOOLS_TRIALOG_AUDIT_COMMANDS_H_
#define TRIALOG_TOOLS_TRIALOG_AUDIT_COMMANDS_H_

#include "CLI/CLI.hpp"

namespace trialog::cli {

void RegisterAuditTrail(CLI::App& app, int* exit_code);
void RegisterInspect(CLI::App& app, int* exit_code);

}  // namespace trialog::cli

#endif  // TRIALOG_TOOLS_TRIALOG_AUDIT_COMMANDS_H_
