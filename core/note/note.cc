#include "core/note/note.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/crypto/crypto.h"
#include "core/note/text.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"

namespace trialog::note {
namespace {

// U+2014 EM DASH in UTF-8, then a space.
constexpr absl::string_view kSigPrefix = "\xE2\x80\x94 ";
constexpr size_t kKeyIdSize = 4;

struct ParsedLine {
  absl::string_view line;  // after the prefix, for duplicate detection
  NoteSignature sig;
};

std::string KeyLabel(absl::string_view name, uint32_t id) {
  return absl::StrFormat("%s+%08x", name, id);
}

// Parses one signature line (without its "\n"); `number` is 1-based.
absl::StatusOr<ParsedLine> ParseSignatureLine(absl::string_view line, size_t number) {
  if (line.substr(0, kSigPrefix.size()) != kSigPrefix) {
    return absl::InvalidArgumentError(absl::StrCat(
        "signature line ", number,
        " does not start with U+2014 (em dash) and a space: ", QuoteForError(line, 32)));
  }
  line.remove_prefix(kSigPrefix.size());
  const size_t space = line.find(' ');
  if (space == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("signature line ", number, " has no space between key name and signature"));
  }
  const absl::string_view name = line.substr(0, space);
  const absl::string_view b64 = line.substr(space + 1);
  if (absl::Status s = CheckKeyName(name); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("signature line ", number, ": ", s.message()));
  }
  absl::StatusOr<std::string> raw = Base64Decode(b64);
  if (!raw.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("signature line ", number, ": signature is not canonical standard base64"));
  }
  if (raw->size() <= kKeyIdSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("signature line ", number, ": signature is ", raw->size(),
                     " bytes; need a 4-byte key id and at least 1 signature byte"));
  }
  uint32_t id = 0;
  for (size_t i = 0; i < kKeyIdSize; ++i) id = (id << 8) | static_cast<uint8_t>((*raw)[i]);
  return ParsedLine{line, NoteSignature{std::string(name), id, raw->substr(kKeyIdSize)}};
}

using KnownMap = std::map<std::pair<std::string, uint32_t>, const Verifier*>;

absl::StatusOr<KnownMap> IndexKnown(const std::vector<Verifier>& known) {
  KnownMap map;
  for (size_t i = 0; i < known.size(); ++i) {
    const Verifier& v = known[i];
    if (absl::Status s = CheckKeyName(v.name); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("known verifier ", i, ": ", s.message()));
    }
    if (v.public_key.size() != crypto::kPublicKeySize) {
      return absl::InvalidArgumentError(absl::StrCat("known verifier ", i, " (", v.name,
                                                     "): public key is ", v.public_key.size(),
                                                     " bytes, Ed25519 needs 32"));
    }
    if (KeyId(v.name, v.public_key) != v.key_id) {
      return absl::InvalidArgumentError(
          absl::StrFormat("known verifier %d (%s): key id %08x does not match its name and key", i,
                          v.name, v.key_id));
    }
    auto [it, inserted] = map.emplace(std::make_pair(v.name, v.key_id), &v);
    if (!inserted && it->second->public_key != v.public_key) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ambiguous known verifiers: two different keys are named ", KeyLabel(v.name, v.key_id)));
    }
  }
  return map;
}

}  // namespace

absl::Status CheckNoteText(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("note text is empty");
  if (text.back() != '\n')
    return absl::InvalidArgumentError("note text does not end with a newline");
  return CheckNoteChars(text);
}

absl::StatusOr<std::string> SignNote(absl::string_view text,
                                     const std::vector<const NoteSigner*>& signers) {
  TRIALOG_RETURN_IF_ERROR(CheckNoteText(text));
  if (signers.empty()) return absl::InvalidArgumentError("no signers");
  if (signers.size() > kMaxSignatures) {
    return absl::InvalidArgumentError(
        absl::StrCat(signers.size(), " signers; a note holds at most ", kMaxSignatures));
  }
  std::string out(text);
  out.push_back('\n');
  for (const NoteSigner* signer : signers) {
    if (signer == nullptr) return absl::InvalidArgumentError("null signer");
    TRIALOG_RETURN_IF_ERROR(CheckKeyName(signer->name()));
    const std::string id = EncodeBigEndian64(signer->key_id()).substr(4);
    absl::StrAppend(&out, kSigPrefix, signer->name(), " ",
                    Base64Encode(absl::StrCat(id, signer->key().Sign(text))), "\n");
  }
  return out;
}

absl::StatusOr<OpenedNote> OpenNote(absl::string_view note, const std::vector<Verifier>& known) {
  TRIALOG_ASSIGN_OR_RETURN(const KnownMap known_map, IndexKnown(known));
  if (note.empty()) return absl::InvalidArgumentError("empty note");
  TRIALOG_RETURN_IF_ERROR(CheckNoteChars(note));
  if (note.back() != '\n') return absl::InvalidArgumentError("note does not end with a newline");
  const size_t split = note.rfind("\n\n");
  if (split == absl::string_view::npos) {
    return absl::InvalidArgumentError("no blank line before signatures");
  }
  const absl::string_view text = note.substr(0, split + 1);
  absl::string_view sigs = note.substr(split + 2);
  if (sigs.empty()) return absl::InvalidArgumentError("no signature lines after the blank line");

  // Parse every line before verifying anything, so that a malformed note is
  // always INVALID_ARGUMENT whatever its signatures.
  std::vector<ParsedLine> lines;
  while (!sigs.empty()) {
    if (lines.size() == kMaxSignatures) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than ", kMaxSignatures, " signature lines"));
    }
    const size_t eol = sigs.find('\n');  // found: sigs ends with '\n'
    TRIALOG_ASSIGN_OR_RETURN(ParsedLine parsed,
                             ParseSignatureLine(sigs.substr(0, eol), lines.size() + 1));
    lines.push_back(std::move(parsed));
    sigs.remove_prefix(eol + 1);
  }

  OpenedNote opened;
  std::set<std::pair<std::string, uint32_t>> seen_known;
  std::set<absl::string_view> seen_unknown;
  for (ParsedLine& p : lines) {
    const NoteSignature& sig = p.sig;
    auto it = known_map.find(std::make_pair(sig.name, sig.key_id));
    if (it == known_map.end()) {
      if (seen_unknown.insert(p.line).second) opened.unverified.push_back(std::move(p.sig));
      continue;
    }
    const std::string label = KeyLabel(sig.name, sig.key_id);
    if (sig.signature.size() != crypto::kSignatureSize) {
      return absl::InvalidArgumentError(absl::StrCat("signature by ", label, " is ",
                                                     sig.signature.size(),
                                                     " bytes; Ed25519 signatures are 64"));
    }
    if (!crypto::Verify(it->second->public_key, text, sig.signature)) {
      return absl::UnauthenticatedError(absl::StrCat("signature by ", label, " does not verify"));
    }
    if (seen_known.insert(it->first).second) opened.verified.push_back(std::move(p.sig));
  }
  if (opened.verified.empty()) {
    return absl::UnauthenticatedError(absl::StrCat("no signature by a known key (",
                                                   opened.unverified.size(), " by unknown keys)"));
  }
  opened.text = std::string(text);
  return opened;
}

}  // namespace trialog::note
