#include "core/note/keys.h"

#include <sodium.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/note/keys_internal.h"
#include "core/note/text.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"

namespace trialog::note {
namespace {

constexpr absl::string_view kPrivateKeyPrefix = "PRIVATE+KEY+";

// Overwrites a string that held secret key material.
void Wipe(std::string* secret) { sodium_memzero(secret->data(), secret->size()); }

// Splits `s` at its first '+': *head = before, *tail = after. False if none.
bool CutPlus(absl::string_view s, absl::string_view* head, absl::string_view* tail) {
  const size_t plus = s.find('+');
  if (plus == absl::string_view::npos) return false;
  *head = s.substr(0, plus);
  *tail = s.substr(plus + 1);
  return true;
}

// Parses exactly 8 lower-case hex digits.
absl::StatusOr<uint32_t> ParseHex8(absl::string_view hex) {
  if (hex.size() != 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("key id must be 8 lower-case hex digits, got ", hex.size(), " characters"));
  }
  uint32_t value = 0;
  for (char c : hex) {
    uint32_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint32_t>(c - 'a' + 10);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("key id ", QuoteForError(hex), " is not 8 lower-case hex digits"));
    }
    value = (value << 4) | digit;
  }
  return value;
}

// Decodes base64(0x01 || 32 bytes) into the 32 bytes. `what` names the key
// material in messages; the input itself is never echoed (it may be secret).
absl::StatusOr<std::string> DecodeEd25519Material(absl::string_view b64, uint8_t type,
                                                  absl::string_view what) {
  absl::StatusOr<std::string> raw = Base64Decode(b64);
  if (!raw.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not canonical standard base64: ", raw.status().message()));
  }
  if (raw->empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  const uint8_t alg = static_cast<uint8_t>((*raw)[0]);
  if (alg != type) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s has signature type 0x%02x; expected 0x%02x", what, alg, type));
  }
  if (raw->size() != 1 + crypto::kPublicKeySize) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is ", raw->size() - 1,
                                                   " bytes after the type byte; Ed25519 needs 32"));
  }
  raw->erase(0, 1);  // in place: leaves no second copy of a secret seed
  return raw;
}

}  // namespace

uint32_t KeyIdForType(absl::string_view name, uint8_t type, absl::string_view public_key) {
  const std::string prefix = absl::StrCat(name, "\n", std::string(1, static_cast<char>(type)));
  const std::string hash = crypto::Sha256(prefix, public_key);
  uint32_t id = 0;
  for (int i = 0; i < 4; ++i) id = (id << 8) | static_cast<uint8_t>(hash[i]);
  return id;
}

uint32_t KeyId(absl::string_view name, absl::string_view public_key) {
  return KeyIdForType(name, kAlgEd25519, public_key);
}

namespace internal {

absl::StatusOr<Verifier> ParseVkeyOfType(absl::string_view vkey, uint8_t type) {
  absl::string_view name, rest, hex, b64;
  if (!CutPlus(vkey, &name, &rest) || !CutPlus(rest, &hex, &b64)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "verifier key %s is not name+hex8(id)+base64(0x%02x||key)", QuoteForError(vkey), type));
  }
  TRIALOG_RETURN_IF_ERROR(CheckKeyName(name));
  TRIALOG_ASSIGN_OR_RETURN(const uint32_t id, ParseHex8(hex));
  TRIALOG_ASSIGN_OR_RETURN(std::string pub,
                           DecodeEd25519Material(b64, type, "verifier public key"));
  const uint32_t computed = KeyIdForType(name, type, pub);
  if (id != computed) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "verifier key id %08x does not match the id %08x computed from name and key", id,
        computed));
  }
  return Verifier{std::string(name), id, std::move(pub)};
}

std::string FormatVkeyOfType(absl::string_view name, uint8_t type, absl::string_view public_key) {
  return absl::StrFormat(
      "%s+%08x+%s", name, KeyIdForType(name, type, public_key),
      Base64Encode(absl::StrCat(std::string(1, static_cast<char>(type)), public_key)));
}

}  // namespace internal

absl::StatusOr<Verifier> ParseVerifierKey(absl::string_view vkey) {
  return internal::ParseVkeyOfType(vkey, kAlgEd25519);
}

std::string FormatVerifierKey(absl::string_view name, absl::string_view public_key) {
  return internal::FormatVkeyOfType(name, kAlgEd25519, public_key);
}

NoteSigner::NoteSigner(std::string name, crypto::SigningKey key)
    : name_(std::move(name)), key_(std::move(key)), key_id_(KeyId(name_, key_.public_key())) {}

std::string NoteSigner::verifier_key() const { return FormatVerifierKey(name_, key_.public_key()); }

Verifier NoteSigner::verifier() const { return Verifier{name_, key_id_, key_.public_key()}; }

absl::StatusOr<NoteSigner> ParseGoPrivateKey(absl::string_view skey) {
  if (skey.substr(0, kPrivateKeyPrefix.size()) != kPrivateKeyPrefix) {
    return absl::InvalidArgumentError("private key does not start with \"PRIVATE+KEY+\"");
  }
  absl::string_view name, rest, hex, b64;
  if (!CutPlus(skey.substr(kPrivateKeyPrefix.size()), &name, &rest) || !CutPlus(rest, &hex, &b64)) {
    return absl::InvalidArgumentError(
        "private key is not PRIVATE+KEY+name+hex8(id)+base64(0x01||seed)");
  }
  TRIALOG_RETURN_IF_ERROR(CheckKeyName(name));
  TRIALOG_ASSIGN_OR_RETURN(const uint32_t id, ParseHex8(hex));
  absl::StatusOr<std::string> seed = DecodeEd25519Material(b64, kAlgEd25519, "private key seed");
  if (!seed.ok()) return seed.status();
  absl::StatusOr<crypto::SigningKey> key = crypto::SigningKey::FromSeed(*seed);
  Wipe(&*seed);
  if (!key.ok()) return key.status();
  NoteSigner signer(std::string(name), *std::move(key));
  if (signer.key_id() != id) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "private key id %08x does not match the id %08x of its public key", id, signer.key_id()));
  }
  return signer;
}

std::string FormatGoPrivateKey(const NoteSigner& signer) {
  std::string seed = signer.key().seed();
  std::string material(1, static_cast<char>(kAlgEd25519));
  material.append(seed);
  std::string b64 = Base64Encode(material);
  std::string out =
      absl::StrFormat("%s%s+%08x+%s", kPrivateKeyPrefix, signer.name(), signer.key_id(), b64);
  Wipe(&seed);
  Wipe(&material);
  Wipe(&b64);
  return out;
}

}  // namespace trialog::note
