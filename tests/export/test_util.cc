#include "tests/export/test_util.h"

#include <sys/wait.h>

#include <cstdio>

#include "core/crypto/key_file.h"
#include "gtest/gtest.h"
#include "tests/export/test_ledger.h"

namespace trialog::export_test {

const exporter::ExportInput& SharedInput() {
  static const exporter::ExportInput* input = [] {
    const TestLedger& l = SharedLedger();
    absl::StatusOr<std::unique_ptr<exporter::ExportInput>> in =
        exporter::LoadExportInput(l.Reader(), l.entries.size(), l.checkpoint, l.ledger_vkey);
    if (!in.ok()) {
      ADD_FAILURE() << "loading the synthetic ledger: " << in.status();
      return new exporter::ExportInput();
    }
    return in->release();
  }();
  return *input;
}

const exporter::ExportInput& SharedInputWithVoid() {
  static const exporter::ExportInput* input = [] {
    const TestLedger& l = SharedLedgerWithVoid();
    absl::StatusOr<std::unique_ptr<exporter::ExportInput>> in =
        exporter::LoadExportInput(l.Reader(), l.entries.size(), l.checkpoint, l.ledger_vkey);
    if (!in.ok()) {
      ADD_FAILURE() << "loading the ledger with a void: " << in.status();
      return new exporter::ExportInput();
    }
    return in->release();
  }();
  return *input;
}

const note::NoteSigner& Exporter() {
  static const note::NoteSigner* signer = [] {
    const std::string path = NewTempDir("exporter-key") + "/exporter.key";
    absl::Status s = crypto::WriteKeyFile(path, "exports.example/sponsor", TestKey("exporter"),
                                          "correct horse", crypto::kKeyFileTestParams);
    EXPECT_TRUE(s.ok()) << s;
    absl::StatusOr<crypto::SigningKey> key = crypto::LoadKeyFile(path, "correct horse");
    absl::StatusOr<std::string> name = crypto::ReadKeyFileName(path);
    EXPECT_TRUE(key.ok() && name.ok());
    return new note::NoteSigner(name.ok() ? *name : "x", key.ok() ? *key : TestKey("x"));
  }();
  return *signer;
}

CommandResult RunCommand(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

std::string VectorsDir() { return TRIALOG_VECTORS_DIR; }
std::string ScriptPath(const std::string& name) {
  return std::string(TRIALOG_SOURCE_DIR) + "/tests/export/" + name;
}

}  // namespace trialog::export_test
