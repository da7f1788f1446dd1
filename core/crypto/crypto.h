// SHA-256 and Ed25519 over libsodium. The only cryptography in trialog.
//
// Thread-safety: all functions are safe to call concurrently. libsodium is
// initialised on first use (sodium_init is idempotent and thread-safe).

#ifndef TRIALOG_CORE_CRYPTO_CRYPTO_H_
#define TRIALOG_CORE_CRYPTO_CRYPTO_H_

#include <array>
#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trialog::crypto {

inline constexpr size_t kSha256Size = 32;
inline constexpr size_t kPublicKeySize = 32;
inline constexpr size_t kSeedSize = 32;
inline constexpr size_t kSignatureSize = 64;

// Initialises libsodium. Called by everything below; call it yourself only
// to fail early. Returns INTERNAL if libsodium cannot start.
absl::Status Init();

// SHA-256 of `data` (32 bytes).
std::string Sha256(absl::string_view data);
// SHA-256 of a || b, without concatenating.
std::string Sha256(absl::string_view a, absl::string_view b);

// `n` bytes from the operating system's CSPRNG.
std::string RandomBytes(size_t n);

// An Ed25519 key pair. The secret key is wiped when destroyed.
class SigningKey {
 public:
  // A fresh random key.
  static SigningKey Generate();
  // The key derived from a 32-byte seed (RFC 8032 secret key).
  static absl::StatusOr<SigningKey> FromSeed(absl::string_view seed);

  SigningKey(const SigningKey&) = default;
  SigningKey& operator=(const SigningKey&) = default;
  ~SigningKey();

  // Detached Ed25519 signature (64 bytes) of `message`.
  std::string Sign(absl::string_view message) const;

  // 32-byte public key.
  std::string public_key() const;
  // 32-byte seed: secret. Callers must not log or persist it unencrypted.
  std::string seed() const;

 private:
  SigningKey() = default;
  std::array<unsigned char, 64> secret_{};  // libsodium's seed || public key
};

// Verifies a detached Ed25519 signature (libsodium's strict rules: rejects
// non-canonical S and small-order keys). Returns false for wrong sizes.
bool Verify(absl::string_view public_key, absl::string_view message,
            absl::string_view signature);

}  // namespace trialog::crypto

#endif  // TRIALOG_CORE_CRYPTO_CRYPTO_H_
