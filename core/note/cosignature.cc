#include "core/note/cosignature.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/note/checkpoint.h"
#include "core/note/keys_internal.h"
#include "core/note/text.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"

namespace trialog::note {
namespace {

constexpr uint64_t kMaxTimestamp = (uint64_t{1} << 63) - 1;
constexpr size_t kTimestampSize = 8;
constexpr size_t kCosignatureSize = kTimestampSize + crypto::kSignatureSize;  // 72

}  // namespace

absl::StatusOr<Cosigner> ParseCosignerKey(absl::string_view vkey) {
  TRIALOG_ASSIGN_OR_RETURN(Verifier v, internal::ParseVkeyOfType(vkey, kAlgCosignatureV1));
  return Cosigner{std::move(v.name), v.key_id, std::move(v.public_key)};
}

std::string FormatCosignerKey(absl::string_view name, absl::string_view public_key) {
  return internal::FormatVkeyOfType(name, kAlgCosignatureV1, public_key);
}

std::string CosignatureMessage(absl::string_view checkpoint_text, uint64_t timestamp) {
  return absl::StrCat("cosignature/v1\ntime ", timestamp, "\n", checkpoint_text);
}

absl::StatusOr<std::string> CosignCheckpoint(absl::string_view checkpoint_text,
                                             absl::string_view name, const crypto::SigningKey& key,
                                             uint64_t timestamp) {
  TRIALOG_RETURN_IF_ERROR(ParseCheckpoint(checkpoint_text).status());
  TRIALOG_RETURN_IF_ERROR(CheckKeyName(name));
  if (timestamp > kMaxTimestamp) {
    return absl::InvalidArgumentError(
        absl::StrCat("cosignature timestamp ", timestamp, " exceeds 2^63 - 1"));
  }
  const uint32_t id = KeyIdForType(name, kAlgCosignatureV1, key.public_key());
  const std::string payload =
      absl::StrCat(EncodeBigEndian64(id).substr(4), EncodeBigEndian64(timestamp),
                   key.Sign(CosignatureMessage(checkpoint_text, timestamp)));
  return absl::StrCat("\xE2\x80\x94 ", name, " ", Base64Encode(payload), "\n");
}

absl::StatusOr<std::vector<Cosignature>> VerifyCosignatures(
    const OpenedNote& note, const std::vector<Cosigner>& cosigners) {
  std::map<std::pair<std::string, uint32_t>, const Cosigner*> by_id;
  for (size_t i = 0; i < cosigners.size(); ++i) {
    const Cosigner& c = cosigners[i];
    if (absl::Status s = CheckKeyName(c.name); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("cosigner ", i, ": ", s.message()));
    }
    if (c.public_key.size() != crypto::kPublicKeySize ||
        KeyIdForType(c.name, kAlgCosignatureV1, c.public_key) != c.key_id) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cosigner ", i, " (", c.name, "): key is not 32 bytes or its id does not match"));
    }
    auto [it, inserted] = by_id.emplace(std::make_pair(c.name, c.key_id), &c);
    if (!inserted && it->second->public_key != c.public_key) {
      return absl::InvalidArgumentError(
          absl::StrFormat("ambiguous cosigners: two keys are named %s+%08x", c.name, c.key_id));
    }
  }
  std::vector<Cosignature> out;
  std::set<std::pair<std::string, uint32_t>> seen;
  for (const NoteSignature& sig : note.unverified) {
    auto it = by_id.find(std::make_pair(sig.name, sig.key_id));
    if (it == by_id.end()) continue;
    const std::string label = absl::StrFormat("%s+%08x", sig.name, sig.key_id);
    if (sig.signature.size() != kCosignatureSize) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cosignature by ", label, " is ", sig.signature.size(), " bytes; expected 8 + 64"));
    }
    const uint64_t timestamp = DecodeBigEndian64(sig.signature.substr(0, kTimestampSize));
    if (timestamp > kMaxTimestamp) {
      return absl::InvalidArgumentError(
          absl::StrCat("cosignature by ", label, " has timestamp ", timestamp, " > 2^63 - 1"));
    }
    if (!crypto::Verify(it->second->public_key, CosignatureMessage(note.text, timestamp),
                        sig.signature.substr(kTimestampSize))) {
      return absl::UnauthenticatedError(absl::StrCat("cosignature by ", label, " does not verify"));
    }
    if (seen.insert(it->first).second) out.push_back(Cosignature{sig.name, sig.key_id, timestamp});
  }
  return out;
}

}  // namespace trialog::note
