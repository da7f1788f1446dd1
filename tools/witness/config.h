// Configuration of `trialog witness`: which logs it witnesses (from --log
// flags or a config file) and where its key's passphrase comes from.
//
// Config file (--config FILE): UTF-8 text, one "key = value" per line; blank
// lines and lines starting with '#' are ignored; white space around key and
// value is trimmed. Keys are the long flag names without "--":
//   listen, dir, key-file, passphrase-file, prefix    (at most once each)
//   log                                               (any number of times)
// A flag given on the command line overrides the file's value; --log values
// from both are used.
//
// Thread-safety: pure functions (ReadPassphrase reads the environment).

#ifndef TRIALOG_TOOLS_WITNESS_CONFIG_H_
#define TRIALOG_TOOLS_WITNESS_CONFIG_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/note/keys.h"
#include "tools/witness/witness.h"

namespace trialog::witness {

// Environment variable holding the witness key's passphrase when no
// --passphrase-file is given.
inline constexpr char kPassphraseEnv[] = "TRIALOG_WITNESS_PASSPHRASE";

// Parses one --log value: "VKEY" (the origin is the key's name, as for
// trialog ledgers) or "ORIGIN=VKEY", VKEY being a C2SP Ed25519 verifier key
// "name+hex8(id)+base64(0x01||pub)". An origin may itself contain '=': the
// split is at the first '=' after which a valid verifier key follows.
// INVALID_ARGUMENT saying why the key does not parse.
absl::StatusOr<std::pair<std::string, note::Verifier>> ParseLogSpec(absl::string_view spec);

// Parses every spec and groups keys by origin (a log may have several keys,
// e.g. during a key rotation), sorted by origin. INVALID_ARGUMENT for a bad
// spec or an empty list.
absl::StatusOr<std::vector<LogConfig>> LogsFromSpecs(const std::vector<std::string>& specs);

// A parsed config file: scalar keys and the list of log values.
struct ConfigFile {
  std::map<std::string, std::string> values;  // listen, dir, key-file, passphrase-file, prefix
  std::vector<std::string> logs;
};

// Parses config file text. INVALID_ARGUMENT naming the line for a line
// without '=', an unknown key, a repeated scalar key or an empty value.
absl::StatusOr<ConfigFile> ParseConfigFile(absl::string_view text);
// Reads and parses `path` (NOT_FOUND if missing).
absl::StatusOr<ConfigFile> ReadConfigFile(const std::string& path);

// The passphrase: the first line of `passphrase_file` (without its newline)
// if non-empty, else $TRIALOG_WITNESS_PASSPHRASE. INVALID_ARGUMENT if the
// result is empty; NOT_FOUND / errno codes if the file cannot be read;
// FAILED_PRECONDITION if neither source is set.
absl::StatusOr<std::string> ReadPassphrase(const std::string& passphrase_file);

}  // namespace trialog::witness

#endif  // TRIALOG_TOOLS_WITNESS_CONFIG_H_
