// Small byte-string helpers: hex and standard base64 (RFC 4648 §4).

#ifndef TRIALOG_CORE_UTIL_BYTES_H_
#define TRIALOG_CORE_UTIL_BYTES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trialog {

// Lower-case hex of `bytes`.
std::string HexEncode(absl::string_view bytes);
// Decodes hex (either case). Fails on odd length or a non-hex character.
absl::StatusOr<std::string> HexDecode(absl::string_view hex);

// Standard base64 with padding.
std::string Base64Encode(absl::string_view bytes);
// Strict standard base64 with padding: rejects whitespace, URL-safe
// characters, missing padding and non-canonical trailing bits.
absl::StatusOr<std::string> Base64Decode(absl::string_view text);

// Big-endian fixed-width encodings, used for ordered RocksDB keys.
std::string EncodeBigEndian64(uint64_t value);
// REQUIRES: bytes.size() == 8.
uint64_t DecodeBigEndian64(absl::string_view bytes);

}  // namespace trialog

#endif  // TRIALOG_CORE_UTIL_BYTES_H_
