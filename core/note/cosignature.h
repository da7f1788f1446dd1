// Witness cosignatures, C2SP tlog-cosignature v1.0.1
// (https://c2sp.org/tlog-cosignature@v1.0.1), Ed25519 (type 0x04) only.
//
// A cosignature is a signature line on a checkpoint note:
//   U+2014 " " name " " base64(key-id(4) || timestamp(8, big-endian) || sig(64)) "\n"
//   key id  = SHA-256(name || 0x0A || 0x04 || 32-byte public key)[:4]
//   sig     = Ed25519 over "cosignature/v1\n" "time " decimal(timestamp) "\n" || note text
// The timestamp is POSIX seconds, at most 2^63 - 1. Cosigner keys can be
// written as vkeys with type byte 0x04: name+hex8(id)+base64(0x04 || pub).
//
// Thread-safety: pure functions.

#ifndef TRIALOG_CORE_NOTE_COSIGNATURE_H_
#define TRIALOG_CORE_NOTE_COSIGNATURE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/crypto/crypto.h"
#include "core/note/keys.h"
#include "core/note/note.h"

namespace trialog::note {

// Signature type byte of timestamped Ed25519 cosignatures.
inline constexpr uint8_t kAlgCosignatureV1 = 0x04;

// A witness trusted to cosign checkpoints. `key_id` must equal
// KeyIdForType(name, kAlgCosignatureV1, public_key).
struct Cosigner {
  std::string name;
  uint32_t key_id = 0;
  std::string public_key;  // 32-byte Ed25519 key
};

// Parses "name+hex8(id)+base64(0x04||pub)"; errors as ParseVerifierKey.
absl::StatusOr<Cosigner> ParseCosignerKey(absl::string_view vkey);
// "name+hex8(id)+base64(0x04||pub)". REQUIRES: valid name, 32-byte key.
std::string FormatCosignerKey(absl::string_view name, absl::string_view public_key);

// The message a cosigner signs: "cosignature/v1\ntime <timestamp>\n" + text.
std::string CosignatureMessage(absl::string_view checkpoint_text, uint64_t timestamp);

// One cosignature line (ending in "\n") over `checkpoint_text`, to append to
// the signed checkpoint note. INVALID_ARGUMENT if the text is not a valid
// checkpoint, the name breaks the key-name rules, or timestamp > 2^63 - 1.
absl::StatusOr<std::string> CosignCheckpoint(absl::string_view checkpoint_text,
                                             absl::string_view name, const crypto::SigningKey& key,
                                             uint64_t timestamp);

// A verified cosignature.
struct Cosignature {
  std::string name;
  uint32_t key_id = 0;
  uint64_t timestamp = 0;  // POSIX seconds
};

// Verifies the cosignatures among note.unverified (signatures OpenNote did
// not check) by the given cosigners, over note.text. Signatures by other keys
// are ignored. Returns one entry per cosigner with a valid cosignature, in
// note order. INVALID_ARGUMENT if a matching signature is not 72 bytes or its
// timestamp exceeds 2^63 - 1, or the cosigner list is invalid;
// UNAUTHENTICATED if a matching signature does not verify. Quorum policy
// (how many are enough) is the caller's.
absl::StatusOr<std::vector<Cosignature>> VerifyCosignatures(const OpenedNote& note,
                                                            const std::vector<Cosigner>& cosigners);

}  // namespace trialog::note

#endif  // TRIALOG_CORE_NOTE_COSIGNATURE_H_
