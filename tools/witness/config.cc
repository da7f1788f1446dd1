#include "tools/witness/config.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/key_file.h"
#include "core/note/text.h"

namespace trialog::witness {

absl::StatusOr<std::pair<std::string, note::Verifier>> ParseLogSpec(absl::string_view spec) {
  absl::StatusOr<note::Verifier> whole = note::ParseVerifierKey(spec);
  if (whole.ok()) return std::make_pair(whole->name, *std::move(whole));
  for (size_t eq = spec.find('='); eq != absl::string_view::npos; eq = spec.find('=', eq + 1)) {
    if (eq == 0) continue;
    absl::StatusOr<note::Verifier> key = note::ParseVerifierKey(spec.substr(eq + 1));
    if (key.ok()) return std::make_pair(std::string(spec.substr(0, eq)), *std::move(key));
  }
  const size_t eq = spec.find('=');
  const absl::Status why = eq == absl::string_view::npos
                               ? whole.status()
                               : note::ParseVerifierKey(spec.substr(eq + 1)).status();
  return absl::InvalidArgumentError(
      absl::StrCat("log ", note::QuoteForError(spec, 120),
                   " is not VKEY or ORIGIN=VKEY with VKEY a C2SP Ed25519 verifier key "
                   "name+hex8(id)+base64(0x01||key): ",
                   why.message()));
}

absl::StatusOr<std::vector<LogConfig>> LogsFromSpecs(const std::vector<std::string>& specs) {
  if (specs.empty()) {
    return absl::InvalidArgumentError("no log to witness: give --log ORIGIN=VKEY (or log = ... "
                                      "in the config file)");
  }
  std::map<std::string, LogConfig> by_origin;
  for (const std::string& spec : specs) {
    absl::StatusOr<std::pair<std::string, note::Verifier>> parsed = ParseLogSpec(spec);
    if (!parsed.ok()) return parsed.status();
    LogConfig& log = by_origin[parsed->first];
    log.origin = parsed->first;
    bool duplicate = false;
    for (const note::Verifier& v : log.keys) {
      duplicate |= v.name == parsed->second.name && v.public_key == parsed->second.public_key;
    }
    if (!duplicate) log.keys.push_back(std::move(parsed->second));
  }
  std::vector<LogConfig> out;
  for (auto& [origin, log] : by_origin) out.push_back(std::move(log));
  return out;
}

absl::StatusOr<ConfigFile> ParseConfigFile(absl::string_view text) {
  static const char* const kScalars[] = {"listen", "dir", "key-file", "passphrase-file", "prefix"};
  ConfigFile config;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    absl::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == absl::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("config line ", line_no, ": expected \"key = value\", got ",
                       note::QuoteForError(line)));
    }
    const std::string key(absl::StripAsciiWhitespace(line.substr(0, eq)));
    const std::string value(absl::StripAsciiWhitespace(line.substr(eq + 1)));
    if (value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("config line ", line_no, ": ", key,
                                                     " has an empty value"));
    }
    if (key == "log") {
      config.logs.push_back(value);
      continue;
    }
    bool known = false;
    for (const char* scalar : kScalars) known |= key == scalar;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config line ", line_no, ": unknown key ", note::QuoteForError(key),
          " (known: listen, dir, key-file, passphrase-file, prefix, log)"));
    }
    if (!config.values.emplace(key, value).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("config line ", line_no, ": ", key, " is given twice"));
    }
  }
  return config;
}

namespace {

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot open ", what, " ", path));
  }
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", what, " ", path));
  return data;
}

}  // namespace

absl::StatusOr<ConfigFile> ReadConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path, "config file");
  if (!text.ok()) return text.status();
  absl::StatusOr<ConfigFile> config = ParseConfigFile(*text);
  if (!config.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

absl::StatusOr<std::string> ReadPassphrase(const std::string& passphrase_file) {
  std::string passphrase;
  if (!passphrase_file.empty()) {
    absl::StatusOr<std::string> text = ReadSmallFile(passphrase_file, "passphrase file");
    if (!text.ok()) return text.status();
    passphrase = text->substr(0, text->find('\n'));
    crypto::Wipe(&*text);
    if (!passphrase.empty() && passphrase.back() == '\r') passphrase.pop_back();
    if (passphrase.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("passphrase file ", passphrase_file, " has an empty first line"));
    }
    return passphrase;
  }
  const char* env = std::getenv(kPassphraseEnv);
  if (env == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no passphrase for the witness key: give --passphrase-file or set $", kPassphraseEnv));
  }
  passphrase = env;
  if (passphrase.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("$", kPassphraseEnv, " is empty"));
  }
  return passphrase;
}

}  // namespace trialog::witness
