#include "witness/policy.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/crypto/crypto.h"
#include "core/note/text.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"

namespace trialog::witness {

absl::Status CheckWitnessPolicy(const WitnessPolicy& policy) {
  if (policy.quorum > policy.witnesses.size()) {
    return absl::InvalidArgumentError(absl::StrCat("witness quorum ", policy.quorum,
                                                   " is larger than the ",
                                                   policy.witnesses.size(), " witnesses listed"));
  }
  std::map<std::string, std::string> names_by_key;
  for (const note::Cosigner& w : policy.witnesses) {
    if (absl::Status s = note::CheckKeyName(w.name); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("witness name: ", s.message()));
    }
    if (w.public_key.size() != crypto::kPublicKeySize) {
      return absl::InvalidArgumentError(absl::StrCat("witness ", w.name, ": key is not 32 bytes"));
    }
    if (w.key_id != note::KeyIdForType(w.name, note::kAlgCosignatureV1, w.public_key)) {
      return absl::InvalidArgumentError(absl::StrCat("witness ", w.name, ": wrong key id"));
    }
    auto [it, fresh] = names_by_key.emplace(w.public_key, w.name);
    if (!fresh) {
      return absl::InvalidArgumentError(absl::StrCat("witness key of ", w.name,
                                                     " is listed twice (also as ", it->second,
                                                     "): a witness counts once"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<WitnessPolicy> MakeWitnessPolicy(const std::vector<std::string>& cosigner_keys,
                                                size_t quorum) {
  WitnessPolicy policy;
  policy.quorum = quorum;
  for (const std::string& vkey : cosigner_keys) {
    absl::StatusOr<note::Cosigner> w = note::ParseCosignerKey(vkey);
    if (!w.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "witness key ", note::QuoteForError(vkey, 120),
          " is not a cosigner key name+hex8(id)+base64(0x04||key): ", w.status().message()));
    }
    policy.witnesses.push_back(*std::move(w));
  }
  TRIALOG_RETURN_IF_ERROR(CheckWitnessPolicy(policy));
  return policy;
}

absl::StatusOr<CosignedCheckpoint> OpenCosignedCheckpoint(absl::string_view note,
                                                          const note::Verifier& ledger_key,
                                                          const WitnessPolicy& policy) {
  TRIALOG_RETURN_IF_ERROR(CheckWitnessPolicy(policy));
  CosignedCheckpoint out;
  TRIALOG_ASSIGN_OR_RETURN(out.checkpoint, note::OpenCheckpoint(note, ledger_key));
  TRIALOG_ASSIGN_OR_RETURN(note::OpenedNote opened, note::OpenNote(note, {ledger_key}));
  out.text = opened.text;
  TRIALOG_ASSIGN_OR_RETURN(out.cosignatures, note::VerifyCosignatures(opened, policy.witnesses));
  if (out.cosignatures.size() < policy.quorum) {
    std::vector<std::string> names;
    for (const note::Cosignature& c : out.cosignatures) names.push_back(c.name);
    return absl::FailedPreconditionError(absl::StrCat(
        "checkpoint ", out.checkpoint.origin, " size ", out.checkpoint.size,
        " is cosigned by ", out.cosignatures.size(), " of ", policy.witnesses.size(),
        " policy witnesses", names.empty() ? "" : absl::StrCat(" (", absl::StrJoin(names, ", "), ")"),
        "; the policy needs ", policy.quorum));
  }
  return out;
}

std::vector<std::string> CosignatureLinesBy(absl::string_view note, const note::Cosigner& w) {
  std::vector<std::string> lines;
  const size_t cut = note.rfind("\n\n");
  if (cut == absl::string_view::npos) return lines;
  absl::string_view sigs = note.substr(cut + 2);
  const std::string prefix = absl::StrCat("\xE2\x80\x94 ", w.name, " ");
  while (!sigs.empty()) {
    const size_t nl = sigs.find('\n');
    if (nl == absl::string_view::npos) break;
    const absl::string_view line = sigs.substr(0, nl + 1);
    sigs.remove_prefix(nl + 1);
    if (line.substr(0, prefix.size()) != prefix) continue;
    absl::StatusOr<std::string> raw =
        Base64Decode(line.substr(prefix.size(), line.size() - prefix.size() - 1));
    if (!raw.ok() || raw->size() < 4) continue;
    if (DecodeBigEndian64(std::string(4, '\0') + raw->substr(0, 4)) != w.key_id) continue;
    lines.emplace_back(line);
  }
  return lines;
}

}  // namespace trialog::witness
