// C2SP tlog-checkpoint v1.0.0 (https://c2sp.org/tlog-checkpoint@v1.0.0):
// the text of a signed note that commits to a log's Merkle tree head.
//
//   checkpoint = origin "\n" size "\n" root "\n" *(extension "\n")
//   origin     = 1*char              ; non-empty; the ledger's key name
//   size       = "0" / (%x31-39 *DIGIT) ; decimal leaf count, no leading zeros, < 2^64
//   root       = base64(32 bytes)    ; RFC 6962 SHA-256 root, canonical base64
//   extension  = 1*char              ; opaque, non-empty (NOT RECOMMENDED)
//
// where char is any UTF-8 character except newline and ASCII controls.
// Stricter than transparency-dev/formats: the root must be exactly 32 bytes
// and extension lines must be non-empty, as the spec says.
//
// Thread-safety: pure functions.

#ifndef TRIALOG_CORE_NOTE_CHECKPOINT_H_
#define TRIALOG_CORE_NOTE_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/note/keys.h"

namespace trialog::note {

struct Checkpoint {
  std::string origin;                   // log identity, e.g. "example.com/audit-ledger"
  uint64_t size = 0;                    // number of leaves
  std::string root_hash;                // 32 raw bytes (not base64)
  std::vector<std::string> extensions;  // extension lines without "\n"
};

// The checkpoint's note text: origin, size, base64 root and extensions, each
// followed by "\n". Does not validate: ParseCheckpoint(FormatCheckpoint(c))
// gives back c exactly when CheckCheckpoint(c) is OK.
std::string FormatCheckpoint(const Checkpoint& c);

// OK if `c` formats to a valid checkpoint that parses back to `c`: no field
// holds a newline, the origin and extensions are non-empty, the root is 32
// bytes, and all text is valid note text. INVALID_ARGUMENT otherwise.
absl::Status CheckCheckpoint(const Checkpoint& c);

// Strictly parses a checkpoint's note text (no signatures). INVALID_ARGUMENT,
// saying which line is wrong, for anything the grammar above rejects.
absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view text);

// Formats `c` and signs it with `signer` as a one-signature note.
// INVALID_ARGUMENT if CheckCheckpoint(c) fails or signer.name() != c.origin.
absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& c, const NoteSigner& signer);

// Opens a signed checkpoint issued under `ledger_key`: the note must carry a
// valid signature by that key (other signatures, e.g. witness cosignatures,
// are ignored), its text must parse, and its origin must equal the key's name.
// INVALID_ARGUMENT for a malformed note or checkpoint; UNAUTHENTICATED if the
// ledger's signature is missing or bad, or the origin is another log's.
absl::StatusOr<Checkpoint> OpenCheckpoint(absl::string_view note, const Verifier& ledger_key);

}  // namespace trialog::note

#endif  // TRIALOG_CORE_NOTE_CHECKPOINT_H_
