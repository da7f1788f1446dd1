// Character-level rules of C2SP signed-note v1.0.0, shared by notes, key
// names and checkpoints. Pure functions; thread-safe.

#ifndef TRIALOG_CORE_NOTE_TEXT_H_
#define TRIALOG_CORE_NOTE_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace trialog::note {

// OK if `text` is valid UTF-8 (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF) and holds no ASCII control character (U+0000 to
// U+001F) other than newline (U+000A). Otherwise INVALID_ARGUMENT naming the
// byte offset, e.g. "CR (U+000D) at byte 24: CRLF line endings are not
// allowed". Empty text is OK here (callers decide whether empty is allowed).
absl::Status CheckNoteChars(absl::string_view text);

// OK if `name` is a valid key name: non-empty, valid UTF-8, no Unicode white
// space (Go's unicode.IsSpace set), no '+' (U+002B) and, stricter than the
// spec but without effect inside notes (which forbid them anyway), no ASCII
// control character. Otherwise INVALID_ARGUMENT saying which rule failed.
absl::Status CheckKeyName(absl::string_view name);

// `s` for an error message: C-escaped, cut to `max_bytes` bytes plus "...".
std::string QuoteForError(absl::string_view s, size_t max_bytes = 64);

}  // namespace trialog::note

#endif  // TRIALOG_CORE_NOTE_TEXT_H_
