#include "core/note/checkpoint.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/crypto/crypto.h"
#include "core/note/note.h"
#include "core/note/text.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"

namespace trialog::note {
namespace {

// Parses a decimal uint64 with no sign, no leading zeros (except "0").
absl::StatusOr<uint64_t> ParseTreeSize(absl::string_view s) {
  if (s.empty()) return absl::InvalidArgumentError("checkpoint tree size (line 2) is empty");
  for (char c : s) {
    if (c < '0' || c > '9') {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint tree size ", QuoteForError(s), " is not a decimal number"));
    }
  }
  if (s.size() > 1 && s[0] == '0') {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint tree size ", QuoteForError(s), " has a leading zero"));
  }
  uint64_t value = 0;
  for (char c : s) {
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint tree size ", QuoteForError(s), " does not fit in 64 bits"));
    }
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace

std::string FormatCheckpoint(const Checkpoint& c) {
  std::string out = absl::StrCat(c.origin, "\n", c.size, "\n", Base64Encode(c.root_hash), "\n");
  for (const std::string& ext : c.extensions) absl::StrAppend(&out, ext, "\n");
  return out;
}

absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view text) {
  TRIALOG_RETURN_IF_ERROR(CheckNoteChars(text));
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("checkpoint text does not end with a newline");
  }
  text.remove_suffix(1);
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (lines.size() < 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint has ", lines.size(), " lines; needs origin, tree size and root hash"));
  }
  Checkpoint c;
  if (lines[0].empty()) return absl::InvalidArgumentError("checkpoint origin (line 1) is empty");
  c.origin = std::string(lines[0]);
  TRIALOG_ASSIGN_OR_RETURN(c.size, ParseTreeSize(lines[1]));
  absl::StatusOr<std::string> root = Base64Decode(lines[2]);
  if (!root.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint root hash (line 3) is not canonical standard base64: ",
                     QuoteForError(lines[2])));
  }
  if (root->size() != crypto::kSha256Size) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint root hash is ", root->size(),
                                                   " bytes; an RFC 6962 SHA-256 root is 32"));
  }
  c.root_hash = *std::move(root);
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint extension line ", i + 1, " is empty"));
    }
    c.extensions.emplace_back(lines[i]);
  }
  return c;
}

absl::Status CheckCheckpoint(const Checkpoint& c) {
  if (c.origin.find('\n') != std::string::npos) {
    return absl::InvalidArgumentError("checkpoint origin contains a newline");
  }
  for (size_t i = 0; i < c.extensions.size(); ++i) {
    if (c.extensions[i].find('\n') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint extension ", i, " contains a newline"));
    }
  }
  // With no newline inside a field, lines map one to one onto fields.
  return ParseCheckpoint(FormatCheckpoint(c)).status();
}

absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& c, const NoteSigner& signer) {
  TRIALOG_RETURN_IF_ERROR(CheckCheckpoint(c));
  const std::string text = FormatCheckpoint(c);
  if (signer.name() != c.origin) {
    return absl::InvalidArgumentError(absl::StrCat("signer ", QuoteForError(signer.name()),
                                                   " does not match checkpoint origin ",
                                                   QuoteForError(c.origin)));
  }
  return SignNote(text, {&signer});
}

absl::StatusOr<Checkpoint> OpenCheckpoint(absl::string_view note, const Verifier& ledger_key) {
  TRIALOG_ASSIGN_OR_RETURN(OpenedNote opened, OpenNote(note, {ledger_key}));
  TRIALOG_ASSIGN_OR_RETURN(Checkpoint c, ParseCheckpoint(opened.text));
  if (c.origin != ledger_key.name) {
    return absl::UnauthenticatedError(absl::StrCat("checkpoint origin ", QuoteForError(c.origin),
                                                   " is not the ledger key's name ",
                                                   QuoteForError(ledger_key.name)));
  }
  return c;
}

}  // namespace trialog::note
