// Helpers shared by the export tests: the loaded synthetic ledger, the
// exporter key (through an encrypted key file, as the CLI loads it), and
// running external checkers (xmllint, python3, chromium).

#ifndef TRIALOG_TESTS_EXPORT_TEST_UTIL_H_
#define TRIALOG_TESTS_EXPORT_TEST_UTIL_H_

#include <memory>
#include <string>

#include "core/note/keys.h"
#include "tools/export/export_input.h"

namespace trialog::export_test {

// LoadExportInput over SharedLedger() / SharedLedgerWithVoid(), once per process.
const exporter::ExportInput& SharedInput();
const exporter::ExportInput& SharedInputWithVoid();

// The exporter's signing key, written to and loaded from a passphrase-
// sealed key file (core/crypto/key_file.h) named "exports.example/sponsor".
const note::NoteSigner& Exporter();

struct CommandResult {
  int exit_code = -1;  // -1: did not run or was killed
  std::string output;  // stdout and stderr
};
// Runs `command` with /bin/sh, capturing its output.
CommandResult RunCommand(const std::string& command);

// Single-quoted for /bin/sh.
std::string ShellQuote(const std::string& s);

// Where the shared vectors and test scripts are.
std::string VectorsDir();
std::string ScriptPath(const std::string& name);  // tests/export/<name>

// The system Python with Debian's modules (not a pyenv one on PATH).
inline constexpr char kPython[] = "/usr/bin/python3";

}  // namespace trialog::export_test

#endif  // TRIALOG_TESTS_EXPORT_TEST_UTIL_H_
