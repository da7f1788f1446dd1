#include "core/crypto/crypto.h"

#include <sodium.h>

#include <cstdlib>

namespace trialog::crypto {
namespace {

const unsigned char* U(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

void EnsureInit() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();  // no randomness source: nothing safe can run
}

}  // namespace

absl::Status Init() {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  return absl::OkStatus();
}

std::string Sha256(absl::string_view data) {
  std::string out(kSha256Size, '\0');
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(out.data()), U(data), data.size());
  return out;
}

std::string Sha256(absl::string_view a, absl::string_view b) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, U(a), a.size());
  crypto_hash_sha256_update(&st, U(b), b.size());
  std::string out(kSha256Size, '\0');
  crypto_hash_sha256_final(&st, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string RandomBytes(size_t n) {
  EnsureInit();
  std::string out(n, '\0');
  randombytes_buf(out.data(), n);
  return out;
}

SigningKey SigningKey::Generate() {
  EnsureInit();
  SigningKey key;
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_keypair(pk, key.secret_.data());
  return key;
}

absl::StatusOr<SigningKey> SigningKey::FromSeed(absl::string_view seed) {
  if (seed.size() != kSeedSize) {
    return absl::InvalidArgumentError("Ed25519 seed must be 32 bytes");
  }
  EnsureInit();
  SigningKey key;
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_seed_keypair(pk, key.secret_.data(), U(seed));
  return key;
}

SigningKey::~SigningKey() { sodium_memzero(secret_.data(), secret_.size()); }

std::string SigningKey::Sign(absl::string_view message) const {
  std::string sig(kSignatureSize, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr, U(message),
                       message.size(), secret_.data());
  return sig;
}

std::string SigningKey::public_key() const {
  return std::string(reinterpret_cast<const char*>(secret_.data()) + kSeedSize, kPublicKeySize);
}

std::string SigningKey::seed() const {
  return std::string(reinterpret_cast<const char*>(secret_.data()), kSeedSize);
}

bool Verify(absl::string_view public_key, absl::string_view message,
            absl::string_view signature) {
  if (public_key.size() != kPublicKeySize || signature.size() != kSignatureSize) return false;
  EnsureInit();
  return crypto_sign_verify_detached(U(signature), U(message), message.size(),
                                     U(public_key)) == 0;
}

}  // namespace trialog::crypto
