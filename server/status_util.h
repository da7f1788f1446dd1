// absl::Status <-> grpc::Status, the one place the server converts them
// (the codes are the same google.rpc.Code numbers).

#ifndef TRIALOG_SERVER_STATUS_UTIL_H_
#define TRIALOG_SERVER_STATUS_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace trialog::server {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// A short, fixed label for why an append was rejected (metrics label):
// malformed, bad_signature, unknown_principal, revoked_principal,
// unauthenticated, role, protocol_rule, version_conflict, event_id_reused,
// size_limit, storage, unknown_trial, or the code name in lower case.
std::string RejectionReason(const absl::Status& status);

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_STATUS_UTIL_H_
