// Passphrase-encrypted Ed25519 key files: the file alone cannot sign.
//
// File format, version 1 (docs/FORMAT.md copies this). A key file is ASCII
// text of exactly five lines, each ending in "\n" (0x0A); no CR, no spaces
// other than the single separators shown, nothing after line 5:
//
//   line 1: "trialog-key-v1"
//   line 2: "name " NAME
//   line 3: "public " base64(PUB)
//   line 4: "kdf argon2id13 " OPSLIMIT " " MEMLIMIT " " base64(SALT)
//   line 5: "sealed " base64(NONCE || BOX)
//
//   NAME      the key's name (a C2SP note key name): 1 to 256 printable ASCII
//             bytes 0x21..0x7E except '+' (0x2B)
//   PUB       32-byte Ed25519 public key (RFC 8032)
//   OPSLIMIT  Argon2id passes, decimal without leading zeros, 1..32
//   MEMLIMIT  Argon2id memory in bytes, decimal without leading zeros,
//             8192..1073741824 (libsodium uses MEMLIMIT / 1024 KiB)
//   SALT      16 random bytes
//   NONCE     24 random bytes
//   BOX       crypto_secretbox_easy(PLAIN, NONCE, K) = 16-byte Poly1305 tag ||
//             64-byte XSalsa20 ciphertext (80 bytes)
//   K         crypto_pwhash(32 bytes, passphrase, SALT, OPSLIMIT, MEMLIMIT,
//             crypto_pwhash_ALG_ARGON2ID13)  (libsodium 1.0.18)
//   PLAIN     SEED (32 bytes, the RFC 8032 secret key) || SHA-256(lines 1-4,
//             each with its "\n") (32 bytes)
//
// base64 is RFC 4648 §4 standard base64 with padding, canonical.
// The SHA-256 of the header inside the box binds the name, public key and KDF
// parameters to the sealed seed, so that editing any of them is detected even
// when it leaves the derived key unchanged (MEMLIMIT 8192 and 9000 both mean
// 8 KiB to libsodium). Files are written with mode 0600, atomically, and never
// replace an existing file.
//
// Thread-safety: all functions are safe to call concurrently (on different
// paths when writing). Argon2id with the default (INTERACTIVE) limits takes
// about 0.1-0.3 s and 64 MiB per write or load.

#ifndef TRIALOG_CORE_CRYPTO_KEY_FILE_H_
#define TRIALOG_CORE_CRYPTO_KEY_FILE_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/crypto/crypto.h"

namespace trialog::crypto {

// libsodium's Argon2id limits (checked against sodium.h in key_file.cc).
inline constexpr unsigned long long kArgon2OpsLimitMin = 1;  // crypto_pwhash_argon2id_OPSLIMIT_MIN
inline constexpr size_t kArgon2MemLimitMin = 8192;           // crypto_pwhash_argon2id_MEMLIMIT_MIN
inline constexpr unsigned long long kArgon2OpsLimitInteractive = 2;  // ..._OPSLIMIT_INTERACTIVE
inline constexpr size_t kArgon2MemLimitInteractive = 67108864;  // ..._MEMLIMIT_INTERACTIVE (64 MiB)
// Upper bounds accepted in a key file, so that a damaged or hostile file
// cannot make LoadKeyFile run for minutes or exhaust memory.
inline constexpr unsigned long long kKeyFileMaxOpsLimit = 32;
inline constexpr size_t kKeyFileMaxMemLimit = 1073741824;  // 1 GiB (..._MEMLIMIT_SENSITIVE)

// Argon2id cost of a new key file. Defaults: libsodium's INTERACTIVE limits.
struct KeyFileParams {
  unsigned long long opslimit = kArgon2OpsLimitInteractive;  // passes
  size_t memlimit = kArgon2MemLimitInteractive;              // bytes
};

// The cheapest parameters libsodium allows: for tests only (weak).
inline constexpr KeyFileParams kKeyFileTestParams{kArgon2OpsLimitMin, kArgon2MemLimitMin};

// Writes `key` under `name`, sealed with `passphrase`, to a new file `path`
// (mode 0600, written to a temporary file in the same directory, fsynced, then
// linked into place, so `path` is either absent or complete).
// INVALID_ARGUMENT: bad name, empty passphrase, params outside the bounds
// above. ALREADY_EXISTS: `path` exists (even as a dangling symlink); it is
// left untouched. Other errors: the errno of the failing file operation.
// No copy of the passphrase is made; the derived key and the plaintext are
// wiped before returning.
absl::Status WriteKeyFile(const std::string& path, absl::string_view name, const SigningKey& key,
                          absl::string_view passphrase, KeyFileParams params = {});

// The 32-byte public key recorded in the key file (no passphrase needed; not
// authenticated until LoadKeyFile succeeds). NOT_FOUND if there is no file,
// INVALID_ARGUMENT if it is not a well-formed version-1 key file.
absl::StatusOr<std::string> ReadKeyFilePublicKey(const std::string& path);

// The key name recorded in the key file (same errors and caveat as above).
absl::StatusOr<std::string> ReadKeyFileName(const std::string& path);

// Decrypts the key with `passphrase`.
// PERMISSION_DENIED "wrong passphrase or damaged key file" if the box does not
// open (wrong passphrase, or altered salt, KDF parameters, nonce or box).
// DATA_LOSS if the box opens but the file's public key does not belong to the
// sealed seed, or its header was altered after sealing.
// INVALID_ARGUMENT / NOT_FOUND as for ReadKeyFilePublicKey.
absl::StatusOr<SigningKey> LoadKeyFile(const std::string& path, absl::string_view passphrase);

// Overwrites the bytes of a string that held a secret (e.g. a passphrase read
// from a terminal) with zeros, using sodium_memzero. The size is unchanged.
void Wipe(std::string* secret);

}  // namespace trialog::crypto

#endif  // TRIALOG_CORE_CRYPTO_KEY_FILE_H_
