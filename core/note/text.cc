#include "core/note/text.h"

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace trialog::note {
namespace {

// Decodes the UTF-8 sequence starting at s[*pos] into *rune and advances *pos.
// Returns false (leaving *pos) on any sequence RFC 3629 does not allow.
bool NextRune(absl::string_view s, size_t* pos, char32_t* rune) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const size_t i = *pos;
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) {
    *rune = b0;
    *pos = i + 1;
    return true;
  }
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // UTF-16 surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return false;  // continuation byte, C0/C1 overlong lead, or F5..FF
  }
  if (s.size() - i < len) return false;
  const uint8_t b1 = byte(i + 1);
  if (b1 < lo || b1 > hi) return false;
  char32_t r = b0 & (0xFF >> (len + 1));
  r = (r << 6) | (b1 & 0x3F);
  for (size_t k = 2; k < len; ++k) {
    const uint8_t b = byte(i + k);
    if ((b & 0xC0) != 0x80) return false;
    r = (r << 6) | (b & 0x3F);
  }
  *rune = r;
  *pos = i + len;
  return true;
}

// Unicode White_Space, the set Go's unicode.IsSpace reports.
bool IsUnicodeSpace(char32_t r) {
  switch (r) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200A;
  }
}

}  // namespace

absl::Status CheckNoteChars(absl::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t at = pos;
    char32_t r;
    if (!NextRune(text, &pos, &r)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid UTF-8 at byte ", at));
    }
    if (r == '\r') {
      return absl::InvalidArgumentError(
          absl::StrCat("CR (U+000D) at byte ", at, ": CRLF line endings are not allowed"));
    }
    if (r < 0x20 && r != '\n') {
      return absl::InvalidArgumentError(
          absl::StrFormat("control character U+%04X at byte %d: only newline is allowed",
                          static_cast<unsigned>(r), at));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckKeyName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("key name is empty");
  size_t pos = 0;
  while (pos < name.size()) {
    const size_t at = pos;
    char32_t r;
    if (!NextRune(name, &pos, &r)) {
      return absl::InvalidArgumentError(
          absl::StrCat("key name ", QuoteForError(name), " is not valid UTF-8 (byte ", at, ")"));
    }
    if (IsUnicodeSpace(r)) {
      return absl::InvalidArgumentError(absl::StrFormat("key name %s contains white space U+%04X",
                                                        QuoteForError(name),
                                                        static_cast<unsigned>(r)));
    }
    if (r < 0x20) {
      return absl::InvalidArgumentError(
          absl::StrCat("key name ", QuoteForError(name), " contains a control character"));
    }
    if (r == '+') {
      return absl::InvalidArgumentError(
          absl::StrCat("key name ", QuoteForError(name), " contains '+'"));
    }
  }
  return absl::OkStatus();
}

std::string QuoteForError(absl::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return absl::StrCat("\"", absl::CHexEscape(s), "\"");
  return absl::StrCat("\"", absl::CHexEscape(s.substr(0, max_bytes)), "...\"");
}

}  // namespace trialog::note
