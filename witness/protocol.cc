#include "witness/protocol.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/types/optional.h"
#include "absl/strings/str_cat.h"
#include "core/note/text.h"
#include "core/util/bytes.h"

namespace trialog::witness {
namespace {

// Type URL of the payload ConflictError attaches: the decimal size.
constexpr char kConflictSizeUrl[] = "trialog.dev/witness/conflict-size";
constexpr absl::string_view kEmDashSpace = "\xE2\x80\x94 ";

}  // namespace

std::optional<uint64_t> ParseDecimal(absl::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::string FormatAddCheckpointRequest(const AddCheckpointRequest& request) {
  std::string body = absl::StrCat("old ", request.old_size, "\n");
  for (const std::string& hash : request.proof) absl::StrAppend(&body, Base64Encode(hash), "\n");
  absl::StrAppend(&body, "\n", request.checkpoint);
  return body;
}

absl::StatusOr<AddCheckpointRequest> ParseAddCheckpointRequest(absl::string_view body) {
  AddCheckpointRequest request;
  // Every header line is non-empty, so the first blank line ends the header.
  const size_t blank = body.find("\n\n");
  if (blank == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "request has no blank line between the old size and proof lines and the checkpoint");
  }
  absl::string_view header = body.substr(0, blank + 1);
  request.checkpoint = std::string(body.substr(blank + 2));
  if (request.checkpoint.empty()) {
    return absl::InvalidArgumentError("request has no checkpoint after the blank line");
  }

  size_t line_no = 0;
  while (!header.empty()) {
    const size_t nl = header.find('\n');  // header ends in "\n"
    const absl::string_view line = header.substr(0, nl);
    header.remove_prefix(nl + 1);
    ++line_no;
    if (line_no == 1) {
      if (line.substr(0, 4) != "old ") {
        return absl::InvalidArgumentError(absl::StrCat(
            "first line must be \"old <size>\", got ", note::QuoteForError(line)));
      }
      std::optional<uint64_t> old_size = ParseDecimal(line.substr(4));
      if (!old_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("old size ", note::QuoteForError(line.substr(4)),
                         " is not a decimal number without leading zeros below 2^64"));
      }
      request.old_size = *old_size;
      continue;
    }
    if (request.proof.size() == kMaxProofLines) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than ", kMaxProofLines, " consistency proof lines"));
    }
    absl::StatusOr<std::string> hash = Base64Decode(line);
    if (!hash.ok() || hash->size() != 32) {
      return absl::InvalidArgumentError(
          absl::StrCat("proof line ", line_no - 1, " (", note::QuoteForError(line),
                       ") is not canonical base64 of a 32-byte hash"));
    }
    request.proof.push_back(*std::move(hash));
  }
  return request;
}

std::string FormatSizeBody(uint64_t size) { return absl::StrCat(size, "\n"); }

absl::StatusOr<uint64_t> ParseSizeBody(absl::string_view body) {
  std::optional<uint64_t> size;
  if (!body.empty() && body.back() == '\n') size = ParseDecimal(body.substr(0, body.size() - 1));
  if (!size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "409 body is not a decimal tree size and a newline: ", note::QuoteForError(body)));
  }
  return *size;
}

absl::StatusOr<std::vector<std::string>> SplitSignatureLines(absl::string_view body) {
  if (body.empty()) return absl::InvalidArgumentError("empty cosignature response");
  if (body.back() != '\n') {
    return absl::InvalidArgumentError("cosignature response does not end with a newline");
  }
  std::vector<std::string> lines;
  while (!body.empty()) {
    const size_t nl = body.find('\n');
    const absl::string_view line = body.substr(0, nl + 1);
    if (line.substr(0, kEmDashSpace.size()) != kEmDashSpace) {
      return absl::InvalidArgumentError(
          absl::StrCat("cosignature response line ", lines.size() + 1,
                       " does not start with U+2014 (em dash) and a space: ",
                       note::QuoteForError(line)));
    }
    lines.emplace_back(line);
    body.remove_prefix(nl + 1);
  }
  return lines;
}

absl::Status ConflictError(uint64_t witness_size, absl::string_view message) {
  absl::Status status(absl::StatusCode::kAborted, message);
  status.SetPayload(kConflictSizeUrl, absl::Cord(absl::StrCat(witness_size)));
  return status;
}

std::optional<uint64_t> ConflictSize(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kConflictSizeUrl);
  if (!payload) return std::nullopt;
  return ParseDecimal(std::string(*payload));
}

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 413;
    case absl::StatusCode::kFailedPrecondition:
      return 422;
    default:
      return 500;
  }
}

absl::Status StatusFromHttp(int http_status, absl::string_view body) {
  std::string message(body.substr(0, 512));
  while (!message.empty() && message.back() == '\n') message.pop_back();
  const std::string what = absl::StrCat("witness answered ", http_status, ": ", message);
  switch (http_status) {
    case 400:
      return absl::InvalidArgumentError(what);
    case 403:
      return absl::UnauthenticatedError(what);
    case 404:
      return absl::NotFoundError(what);
    case 409: {
      absl::StatusOr<uint64_t> size = ParseSizeBody(body);
      if (!size.ok()) return size.status();
      return ConflictError(*size, absl::StrCat("witness answered 409 Conflict: its latest "
                                               "cosigned checkpoint has size ",
                                               *size));
    }
    case 413:
      return absl::ResourceExhaustedError(what);
    case 422:
      return absl::FailedPreconditionError(what);
    default:
      return absl::UnavailableError(what);
  }
}

}  // namespace trialog::witness
