#include "server/status_util.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace trialog::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

std::string RejectionReason(const absl::Status& status) {
  const absl::string_view m = status.message();
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return "malformed";
    case absl::StatusCode::kUnauthenticated:
      if (absl::StrContains(m, "does not verify")) return "bad_signature";
      if (absl::StrContains(m, "revoked")) return "revoked_principal";
      if (absl::StrContains(m, "not registered")) return "unknown_principal";
      return "unauthenticated";
    case absl::StatusCode::kPermissionDenied:
      return "role";
    case absl::StatusCode::kFailedPrecondition:
      return "protocol_rule";
    case absl::StatusCode::kAborted:
      return "version_conflict";
    case absl::StatusCode::kAlreadyExists:
      return "event_id_reused";
    case absl::StatusCode::kResourceExhausted:
      return "size_limit";
    case absl::StatusCode::kUnavailable:
      return "storage";
    case absl::StatusCode::kNotFound:
      return "unknown_trial";
    default:
      return absl::AsciiStrToLower(absl::StatusCodeToString(status.code()));
  }
}

}  // namespace trialog::server
