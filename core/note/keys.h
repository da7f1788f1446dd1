// Signed-note keys (C2SP signed-note v1.0.0, Ed25519 only): key ids,
// verifier keys ("vkeys"), Go-style private key strings and NoteSigner.
//
//   key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4],
//            read as a big-endian uint32
//   vkey   = <key name> "+" hex8(key ID) "+" base64(0x01 || public key)
//   skey   = "PRIVATE+KEY+" <key name> "+" hex8(key ID) "+" base64(0x01 || seed)
//
// hex8 is exactly 8 lower-case hex digits; base64 is RFC 4648 §4 standard
// base64 with padding, canonical (the parsers here are strict). The base64
// part may itself contain '+': parsers split on the first '+' separators only.
// A key name is non-empty UTF-8 without white space or '+' (see text.h).
//
// Thread-safety: free functions are pure; NoteSigner is immutable after
// construction and safe to share between threads.

#ifndef TRIALOG_CORE_NOTE_KEYS_H_
#define TRIALOG_CORE_NOTE_KEYS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/crypto/crypto.h"

namespace trialog::note {

// Signature type byte of Ed25519 note signatures.
inline constexpr uint8_t kAlgEd25519 = 0x01;

// Key id of an Ed25519 note key: SHA-256(name || 0x0A || 0x01 || pub)[:4],
// big-endian. Defined for any input; callers validate name and key size.
uint32_t KeyId(absl::string_view name, absl::string_view public_key);

// Key id for signature type `type`: SHA-256(name || 0x0A || type || pub)[:4].
// KeyId(n, p) == KeyIdForType(n, kAlgEd25519, p).
uint32_t KeyIdForType(absl::string_view name, uint8_t type, absl::string_view public_key);

// A key trusted to sign notes. `public_key` is the 32-byte Ed25519 key;
// `key_id` must equal KeyId(name, public_key) (OpenNote checks).
struct Verifier {
  std::string name;
  uint32_t key_id = 0;
  std::string public_key;
};

// Parses "name+hex8(id)+base64(0x01||pub)". INVALID_ARGUMENT if a part is
// missing, the name breaks the key-name rules, the id is not 8 lower-case hex
// digits, the base64 is not canonical, the type byte is not 0x01, the key is
// not 32 bytes, or the id does not match the one computed from name and key.
absl::StatusOr<Verifier> ParseVerifierKey(absl::string_view vkey);

// "name+hex8(KeyId)+base64(0x01||pub)".
// REQUIRES: CheckKeyName(name) is OK and public_key is 32 bytes; otherwise the
// result will not parse.
std::string FormatVerifierKey(absl::string_view name, absl::string_view public_key);

// A named Ed25519 note-signing key. The name is not validated here (no
// exceptions in constructors); SignNote rejects invalid names.
class NoteSigner {
 public:
  NoteSigner(std::string name, crypto::SigningKey key);

  const std::string& name() const { return name_; }
  // KeyId(name(), key().public_key()).
  uint32_t key_id() const { return key_id_; }
  // FormatVerifierKey(name(), key().public_key()).
  std::string verifier_key() const;
  // The Verifier matching this signer.
  Verifier verifier() const;
  const crypto::SigningKey& key() const { return key_; }

 private:
  std::string name_;
  crypto::SigningKey key_;
  uint32_t key_id_;
};

// Parses Go's golang.org/x/mod/sumdb/note private key string
// "PRIVATE+KEY+name+hex8(id)+base64(0x01||32-byte seed)", where id is the key
// id of the public key derived from the seed. INVALID_ARGUMENT on any
// deviation (the message never echoes the secret part).
absl::StatusOr<NoteSigner> ParseGoPrivateKey(absl::string_view skey);

// The Go private key string of `signer`. SECRET: never log or store it
// unencrypted (see core/crypto/key_file.h for storage).
std::string FormatGoPrivateKey(const NoteSigner& signer);

}  // namespace trialog::note

#endif  // TRIALOG_CORE_NOTE_KEYS_H_
