// RFC 6962 hashing: leaf, interior node and empty-tree hashes.

#include <sodium.h>

#include <bit>
#include <cstring>
#include <string>
#include <vector>

#include "core/crypto/crypto.h"
#include "core/merkle/merkle.h"

namespace trialog::merkle {
namespace {

const unsigned char* U(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

static_assert(kHashSize == crypto::kSha256Size);
static_assert(kHashSize == crypto_hash_sha256_BYTES);

std::string HashLeaf(absl::string_view leaf_bytes) {
  const char prefix = kLeafHashPrefix;
  return crypto::Sha256(absl::string_view(&prefix, 1), leaf_bytes);
}

// Straight to libsodium (the append hot path): no heap allocation. Its
// SHA-256 is portable C with no CPU dispatch, so it needs no sodium_init().
// Both paths read every input before writing `out`, so `out` may alias one.
void HashChildrenTo(absl::string_view left, absl::string_view right, char* out) {
  unsigned char* digest = reinterpret_cast<unsigned char*>(out);
  if (left.size() == kHashSize && right.size() == kHashSize) {
    // The usual case: one 65-byte message on the stack, hashed in one call
    // (measured a few percent faster than three streaming updates).
    unsigned char message[1 + 2 * kHashSize];
    message[0] = kNodeHashPrefix;
    std::memcpy(message + 1, left.data(), kHashSize);
    std::memcpy(message + 1 + kHashSize, right.data(), kHashSize);
    crypto_hash_sha256(digest, message, sizeof(message));
    return;
  }
  // Inputs of other sizes break the REQUIRES; hash them as given anyway,
  // never reading out of bounds.
  static constexpr unsigned char kPrefix[1] = {kNodeHashPrefix};
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, kPrefix, 1);
  crypto_hash_sha256_update(&state, U(left), left.size());
  crypto_hash_sha256_update(&state, U(right), right.size());
  crypto_hash_sha256_final(&state, digest);
}

std::string HashChildren(absl::string_view left, absl::string_view right) {
  std::string out(kHashSize, '\0');
  HashChildrenTo(left, right, out.data());
  return out;
}

std::string EmptyRoot() { return crypto::Sha256(absl::string_view()); }

namespace {

// RFC 9162 §2.1.1 MTH over leaf_hashes[begin, end), end - begin >= 1,
// written as the RFC states it: split at the largest power of two < n.
std::string Mth(const std::vector<std::string>& leaf_hashes, size_t begin, size_t end) {
  const size_t n = end - begin;
  if (n == 1) return leaf_hashes[begin];
  const size_t k = std::bit_floor(n - 1);
  return HashChildren(Mth(leaf_hashes, begin, begin + k), Mth(leaf_hashes, begin + k, end));
}

}  // namespace

std::string RootFromLeafHashes(const std::vector<std::string>& leaf_hashes) {
  if (leaf_hashes.empty()) return EmptyRoot();
  return Mth(leaf_hashes, 0, leaf_hashes.size());
}

}  // namespace trialog::merkle
