// Shared helpers of the trialog CLI: passphrases, files, progress bars,
// JSON output, exit codes.

#ifndef TRIALOG_TOOLS_TRIALOG_CLI_UTIL_H_
#define TRIALOG_TOOLS_TRIALOG_CLI_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace trialog::cli {

// Exit codes shared by every command (verify adds its finding codes 2-7,
// see core/ledger/ledger_audit.h).
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;   // the command could not do its job
inline constexpr int kExitUsage = 64;  // bad flags or arguments (sysexits EX_USAGE)

// The passphrase for a key file: from `passphrase_file` if set, else the
// TRIALOG_PASSPHRASE environment variable, else asked on the terminal
// (twice when `confirm`). FAILED_PRECONDITION when none is available.
absl::StatusOr<std::string> ReadPassphrase(const std::string& passphrase_file,
                                           absl::string_view prompt, bool confirm);

absl::StatusOr<std::string> ReadFile(const std::string& path);
// Writes atomically (temporary file + rename) with the given mode.
absl::Status WriteFile(const std::string& path, absl::string_view contents, int mode = 0644);

// "@path" reads the value from a file (trailing newline dropped); anything
// else is the value itself. For verifier keys and checkpoints.
absl::StatusOr<std::string> ValueOrFile(const std::string& value);

// A progress bar on stderr, drawn when stderr is a terminal or when
// `force` (--progress) is set; when stderr is not a terminal each redraw is
// its own line (at most one per second), so logs stay readable.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label, bool force = false);
  ~ProgressBar();
  // Redraws at most every 100 ms. `total` 0 = unknown.
  void Update(uint64_t done, uint64_t total);
  // Erases the bar's line on a terminal, so that a message can be printed
  // on a clean line; the next Update draws the bar again below it.
  void Clear();
  // Ends the bar (its last state stays on screen); later Updates draw nothing.
  void Finish();

 private:
  std::string label_;
  bool enabled_;
  bool tty_;
  bool finished_ = false;
  absl::Time start_;
  absl::Time last_draw_ = absl::InfinitePast();
};

}  // namespace trialog::cli

#endif  // TRIALOG_TOOLS_TRIALOG_CLI_UTIL_H_
