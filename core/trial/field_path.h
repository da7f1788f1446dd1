// Field paths into protobuf records, for per-field corrections.
//
// Grammar: path = segment ("." segment)*; segment = field_name ["[" index "]"].
// Every segment but the last names a singular message field that is set
// (or a repeated message field with an index); the last names a scalar
// field (singular, or repeated with an index). Canonical text of values:
// decimal integers (no sign for unsigned, no leading zeros or '+'),
// "true"/"false", enum value names, strings verbatim, bytes as lower-case hex.

#ifndef TRIALOG_CORE_TRIAL_FIELD_PATH_H_
#define TRIALOG_CORE_TRIAL_FIELD_PATH_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace trialog::trial {

// The canonical text of the scalar at `path`. INVALID_ARGUMENT on a
// malformed path; NOT_FOUND when the path names no field of this record (an
// unknown name, an unset message, an index out of range, a non-scalar).
absl::StatusOr<std::string> GetFieldText(const google::protobuf::Message& message,
                                         absl::string_view path);

// Sets the scalar at `path` from canonical text. Errors as GetFieldText,
// plus INVALID_ARGUMENT when `text` is not the canonical text of a value of
// the field's type.
absl::Status SetFieldText(google::protobuf::Message* message, absl::string_view path,
                          absl::string_view text);

// The name of the last segment of `path` without its index ("" if malformed).
std::string LeafFieldName(absl::string_view path);

}  // namespace trialog::trial

#endif  // TRIALOG_CORE_TRIAL_FIELD_PATH_H_
