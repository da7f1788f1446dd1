// The wire format of C2SP tlog-witness v1.0.0 (https://c2sp.org/tlog-witness@v1.0.0),
// shared by the witness (server side) and its clients (the ledger server).
//
//   POST <submission prefix>/add-checkpoint
//   request body = "old " decimal(old size) "\n"
//                  *63(base64(32-byte hash) "\n")     ; consistency proof
//                  "\n"
//                  signed checkpoint note              ; verbatim, may carry many signatures
//
//   200  body = 1*(cosignature line)                   ; "— name base64(...)\n" each
//   409  body = decimal(size of the latest cosigned checkpoint) "\n",
//        Content-Type: text/x.tlog.size
//   400 / 403 / 404 / 422: plain-text reason (not part of the spec)
//
// Decimal numbers have no leading zeros ("0" for zero) and fit in 64 bits.
// base64 is RFC 4648 §4 with padding, canonical.
//
// Error mapping. The witness reports add-checkpoint failures as absl::Status
// codes, and both sides convert with HttpStatusFor / StatusFromHttp:
//   INVALID_ARGUMENT     400 Bad Request           malformed request, old size > size
//   UNAUTHENTICATED      403 Forbidden             no trusted signature verifies
//   NOT_FOUND            404 Not Found             unknown origin
//   ABORTED              409 Conflict              old size is not the witness's size, or
//                                                  same size with another root; the status
//                                                  carries the witness's size (ConflictSize)
//   FAILED_PRECONDITION  422 Unprocessable Entity  the consistency proof does not verify
//   RESOURCE_EXHAUSTED   413 Content Too Large     request body above the witness's limit
//   anything else        500 Internal Server Error the witness could not persist, etc.
//
// Thread-safety: pure functions.

#ifndef TRIALOG_WITNESS_PROTOCOL_H_
#define TRIALOG_WITNESS_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trialog::witness {

// The spec's limit on consistency proof lines.
inline constexpr size_t kMaxProofLines = 63;
// Content-Type of a 409 Conflict answer.
inline constexpr char kSizeContentType[] = "text/x.tlog.size";
// The path below the submission prefix.
inline constexpr char kAddCheckpointPath[] = "/add-checkpoint";

struct AddCheckpointRequest {
  uint64_t old_size = 0;
  std::vector<std::string> proof;  // raw 32-byte hashes, in proof order
  std::string checkpoint;          // the signed checkpoint note, byte for byte
};

// The request body. Does not validate (ParseAddCheckpointRequest does).
std::string FormatAddCheckpointRequest(const AddCheckpointRequest& request);

// Strictly parses a request body. INVALID_ARGUMENT, saying what is wrong, for
// a missing or malformed "old" line (leading zeros, sign, spaces, > 2^64 - 1),
// a proof line that is not canonical base64 of 32 bytes, more than
// kMaxProofLines proof lines, no blank line after them, or an empty note.
// The note itself is not parsed here.
absl::StatusOr<AddCheckpointRequest> ParseAddCheckpointRequest(absl::string_view body);

// Strict decimal: digits only, no leading zeros, < 2^64.
std::optional<uint64_t> ParseDecimal(absl::string_view text);

// The body of a 409 answer: decimal(size) "\n".
std::string FormatSizeBody(uint64_t size);
// Parses a 409 body. INVALID_ARGUMENT unless it is exactly decimal "\n".
absl::StatusOr<uint64_t> ParseSizeBody(absl::string_view body);

// Splits a 200 body into its signature lines (each with its "\n").
// INVALID_ARGUMENT if the body is empty, does not end in "\n", or a line does
// not start with U+2014 (em dash) and a space.
absl::StatusOr<std::vector<std::string>> SplitSignatureLines(absl::string_view body);

// An ABORTED status for a 409 answer, carrying the witness's size.
absl::Status ConflictError(uint64_t witness_size, absl::string_view message);
// The witness's size carried by a status made by ConflictError (or by
// StatusFromHttp for a 409), if any.
std::optional<uint64_t> ConflictSize(const absl::Status& status);

// The HTTP status code for an add-checkpoint outcome (table above); 200 for OK.
int HttpStatusFor(const absl::Status& status);
// The status a client reports for a non-200 answer: the code from the table
// above (5xx and unknown codes: UNAVAILABLE), with the witness's message; a
// 409 body is parsed into ConflictSize (INVALID_ARGUMENT if it is malformed).
absl::Status StatusFromHttp(int http_status, absl::string_view body);

}  // namespace trialog::witness

#endif  // TRIALOG_WITNESS_PROTOCOL_H_
