// C2SP signed notes v1.0.0 (https://c2sp.org/signed-note@v1.0.0), Ed25519
// signatures only. A signed note is, byte by byte:
//
//   note      = text "\n" 1*sigline          ; the "\n" is the blank line
//   text      = 1*(line "\n")                ; lines may be empty
//   sigline   = U+2014 " " key-name " " base64(key-id(4, big-endian) || sig) "\n"
//
// The whole note must be valid UTF-8 with no ASCII control character other
// than "\n" (so no CR). The text is everything up to and including the
// newline before the LAST blank line ("\n\n") in the note; it is the exact
// message each signature signs. Key names follow keys.h.
//
// Verification policy (OpenNote): a signature whose (name, key id) pair
// matches no known Verifier is ignored (kept in `unverified`); a signature by
// a known key must verify or the whole note is rejected; a note without at
// least one verified signature is rejected. Deviations from Go's
// golang.org/x/mod/sumdb/note, all stricter: base64 must be canonical (Go
// accepts non-zero padding bits); repeated signatures by a known key are each
// verified (Go verifies only the first); a known key's signature must be 64
// bytes or the note is malformed (Go: invalid signature).
//
// Thread-safety: pure functions.

#ifndef TRIALOG_CORE_NOTE_NOTE_H_
#define TRIALOG_CORE_NOTE_NOTE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/note/keys.h"

namespace trialog::note {

// OpenNote rejects notes with more signature lines than this (the spec asks
// verifiers to accept at least 16; Go's limit is also 100).
inline constexpr size_t kMaxSignatures = 100;

// OK if `text` may be the text of a note: non-empty, ends with "\n", valid
// UTF-8, no control character other than "\n". INVALID_ARGUMENT otherwise.
absl::Status CheckNoteText(absl::string_view text);

// Signs `text` with each signer in order and returns
// text + "\n" + one signature line per signer.
// INVALID_ARGUMENT if CheckNoteText(text) fails, `signers` is empty, holds a
// null pointer, more than kMaxSignatures signers, or a signer's name breaks the
// key-name rules. Signers are borrowed for the duration of the call.
absl::StatusOr<std::string> SignNote(absl::string_view text,
                                     const std::vector<const NoteSigner*>& signers);

// One signature line of a note.
struct NoteSignature {
  std::string name;
  uint32_t key_id = 0;
  // The signature bytes after the 4-byte key id: 64 bytes (Ed25519) for
  // verified signatures; any non-empty length for unverified ones.
  std::string signature;
};

// A note whose text is authenticated by at least one known key.
struct OpenedNote {
  std::string text;                       // the signed text, ends with "\n"
  std::vector<NoteSignature> verified;    // by known keys, each verified; in note order
  std::vector<NoteSignature> unverified;  // by unknown keys (not checked); duplicates dropped
};

// Strictly parses `note` and verifies it against `known`.
// INVALID_ARGUMENT: malformed note (message says what: "CR (U+000D) at byte
// 24: CRLF ...", "no blank line before signatures", "signature line 1 does
// not start with U+2014 (em dash) and a space", ...), a known key's signature
// that is not 64 bytes, or an invalid `known` list (a Verifier with a bad
// name, a key that is not 32 bytes, a key id that does not match, or two
// different keys with the same name and id).
// UNAUTHENTICATED: a known key's signature does not verify, or no signature
// is by a known key.
absl::StatusOr<OpenedNote> OpenNote(absl::string_view note, const std::vector<Verifier>& known);

}  // namespace trialog::note

#endif  // TRIALOG_CORE_NOTE_NOTE_H_
