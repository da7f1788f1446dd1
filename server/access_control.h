// Caller identity and authorisation of every trialogd RPC, in one place.
//
// With caller authentication (mutual TLS: tls.client_ca_file set) the
// client certificate names the principal: its URI SAN
// "trialog:principal/<principal_id>" if it has one, else its subject CN.
// The principal's role is the one the trial's own ledger registry
// (core/ledger/registry.h) holds now; revoked or unregistered principals
// have none. The RPC table (server/access_policy.h) then decides, and an
// append's envelope must be signed by the caller itself. Without caller
// authentication (plaintext or one-way TLS, for loopback demos and tests)
// every call is granted; the per-event role checks on envelope signatures
// still apply, and refusals and subject reads are still logged (principal
// "", auth "none").
//
// Every refusal and every granted subject-data read is written to the
// access log (server/access_log.h) when one is configured. A subject read
// whose log line cannot be written is refused UNAVAILABLE: reads are never
// served unlogged.
//
// Thread-safety: all methods may be called concurrently.

#ifndef TRIALOG_SERVER_ACCESS_CONTROL_H_
#define TRIALOG_SERVER_ACCESS_CONTROL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "server/access_log.h"
#include "server/access_policy.h"
#include "server/ledger_set.h"
#include "trialog/v1/ledger.pb.h"

namespace trialog::server {

// The URI SAN prefix that names a principal in a client certificate.
inline constexpr absl::string_view kPrincipalUriPrefix = "trialog:principal/";

// Who is calling.
struct Caller {
  bool authenticated = false;          // identity from a client certificate
  std::string principal_id;            // "" when not authenticated
  v1::Role role = v1::ROLE_UNSPECIFIED;  // in the request's trial; unspecified if none
  std::string peer;                    // gRPC peer address
};

// The principal a verified client certificate names (URI SAN
// "trialog:principal/<id>", else the subject CN), from gRPC auth
// properties. UNAUTHENTICATED when there is no certificate, no usable
// name, or more than one principal URI.
absl::StatusOr<std::string> CertificatePrincipal(const grpc::AuthContext& auth);

class AccessControl {
 public:
  // `ledgers` must outlive this. `authenticate`: mutual TLS is configured.
  // `log` (not owned, may be null = no access log) must outlive this.
  AccessControl(const LedgerSet* ledgers, bool authenticate, AccessLog* log)
      : ledgers_(ledgers), authenticate_(authenticate), log_(log) {}

  bool authenticating() const { return authenticate_; }
  // Whether an access log is written.
  bool logging() const { return log_ != nullptr; }

  // The check at the start of every handler: identifies the caller, finds
  // its role in `trial_id` and applies the RPC table. Refusals (logged):
  // UNAUTHENTICATED without a usable certificate identity;
  // PERMISSION_DENIED naming principal, role, method and rule. An unknown
  // trial: NOT_FOUND, except for appends (a genesis may create it; the
  // caller then has no role and CheckSigner decides). ListTrials (empty
  // trial_id) needs the principal registered in at least one served trial.
  // When granted and the method reads subject data and `log_read`, logs a
  // subject_read line for `subjects` (UNAVAILABLE if that fails).
  absl::StatusOr<Caller> Authorize(const grpc::ServerContext& context, Rpc rpc,
                                   absl::string_view trial_id,
                                   const std::vector<std::string>& subjects, bool log_read = true);

  // Authorize for one envelope of an append (Append, AppendStream):
  // refusals are logged with the envelope's event, signer and subject; then
  // CheckSigner. INVALID_ARGUMENT if the envelope does not parse (only when
  // authenticating; otherwise admission answers it).
  absl::StatusOr<Caller> AuthorizeAppend(const grpc::ServerContext& context, Rpc rpc,
                                         absl::string_view trial_id,
                                         const v1::SignedEnvelope& signed_envelope);

  // Whether ListTrials may show `trial` to `caller` (registered there, not
  // revoked, in a role the table allows). Always true unauthenticated.
  bool MaySee(const Caller& caller, const TrialLedger& trial) const;

  // Appends: PERMISSION_DENIED (logged) unless the envelope's signer
  // (actor.principal_id) is the authenticated caller. INVALID_ARGUMENT if
  // the envelope does not parse. OK without caller authentication.
  absl::Status CheckSigner(const Caller& caller, Rpc rpc, absl::string_view trial_id,
                           const v1::SignedEnvelope& signed_envelope);

  // Logs an append that admission or the domain rules refused with
  // PERMISSION_DENIED or UNAUTHENTICATED (e.g. a role appending an event it
  // may not); other outcomes are not access decisions and are ignored.
  void NoteAppendResult(const Caller& caller, Rpc rpc, absl::string_view trial_id,
                        const v1::SignedEnvelope& signed_envelope, const absl::Status& result);

  // Logs a granted subject read whose subjects the handler learned after
  // reading (GetEntry). UNAVAILABLE if the line cannot be written.
  absl::Status LogSubjectRead(const Caller& caller, Rpc rpc, absl::string_view trial_id,
                              const std::vector<std::string>& subjects);

 private:
  absl::StatusOr<Caller> AuthorizeImpl(const grpc::ServerContext& context, Rpc rpc,
                                       absl::string_view trial_id,
                                       const std::vector<std::string>& subjects, bool log_read,
                                       absl::string_view event, absl::string_view signer);
  absl::Status Refuse(const Caller& caller, Rpc rpc, absl::string_view trial_id,
                      const std::vector<std::string>& subjects, absl::Status status,
                      absl::string_view event = "", absl::string_view signer = "");
  AccessRecord Record(const Caller& caller, Rpc rpc, absl::string_view trial_id,
                      const std::vector<std::string>& subjects) const;

  const LedgerSet* const ledgers_;
  const bool authenticate_;
  AccessLog* const log_;
};

// access->Authorize(...), or a Caller with no identity when `access` is
// null (services built without access control, e.g. in unit benchmarks).
absl::StatusOr<Caller> AuthorizeCall(AccessControl* access, const grpc::ServerContext& context,
                                     Rpc rpc, absl::string_view trial_id,
                                     const std::vector<std::string>& subjects,
                                     bool log_read = true);

// The subject a stream id names ("subject/RU-01-0007" -> {"RU-01-0007"});
// an empty list for other streams.
std::vector<std::string> SubjectsOfStream(absl::string_view stream_id);

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_ACCESS_CONTROL_H_
