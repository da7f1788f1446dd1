// Verifier-key parsing for any Ed25519-based signature type; used by keys.cc
// (type 0x01) and cosignature.cc (type 0x04). Not part of the public API.

#ifndef TRIALOG_CORE_NOTE_KEYS_INTERNAL_H_
#define TRIALOG_CORE_NOTE_KEYS_INTERNAL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/note/keys.h"

namespace trialog::note::internal {

// ParseVerifierKey for a vkey whose type byte must be `type` and whose key
// material is a 32-byte Ed25519 public key; the id uses KeyIdForType.
absl::StatusOr<Verifier> ParseVkeyOfType(absl::string_view vkey, uint8_t type);
// "name+hex8(KeyIdForType(name, type, pub))+base64(type||pub)".
std::string FormatVkeyOfType(absl::string_view name, uint8_t type, absl::string_view public_key);

}  // namespace trialog::note::internal

#endif  // TRIALOG_CORE_NOTE_KEYS_INTERNAL_H_
