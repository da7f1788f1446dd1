#include "server/access_control.h"

#include <iostream>

#include "grpc/grpc_security_constants.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/ledger/entry.h"
#include "core/trial/permissions.h"
#include "core/trial/state_machine.h"
#include "core/util/status_macros.h"

namespace trialog::server {
namespace {

std::string RoleName(v1::Role role) {
  return role == v1::ROLE_UNSPECIFIED ? std::string() : v1::Role_Name(role);
}

// "DosePrescribed" for a trial event (core/trial's action names), the
// oneof field name for a ledger event ("principal_registered").
std::string EventName(const v1::Envelope& envelope) {
  const v1::Event& e = envelope.event();
  if (e.has_trial()) {
    absl::StatusOr<trial::Action> action = trial::ActionFor(e.trial());
    if (action.ok()) return std::string(trial::ActionName(*action));
    return "trial";
  }
  const google::protobuf::OneofDescriptor* oneof = e.GetDescriptor()->oneof_decl(0);
  const google::protobuf::FieldDescriptor* field =
      oneof == nullptr ? nullptr : e.GetReflection()->GetOneofFieldDescriptor(e, oneof);
  return field == nullptr ? std::string() : field->name();
}

}  // namespace

absl::StatusOr<Caller> AuthorizeCall(AccessControl* access, const grpc::ServerContext& context,
                                     Rpc rpc, absl::string_view trial_id,
                                     const std::vector<std::string>& subjects, bool log_read) {
  if (access == nullptr) return Caller{false, "", v1::ROLE_UNSPECIFIED, context.peer()};
  return access->Authorize(context, rpc, trial_id, subjects, log_read);
}

std::vector<std::string> SubjectsOfStream(absl::string_view stream_id) {
  absl::StatusOr<std::string> subject = trial::SubjectIdFromStream(stream_id);
  if (!subject.ok()) return {};
  return {*std::move(subject)};
}

absl::StatusOr<std::string> CertificatePrincipal(const grpc::AuthContext& auth) {
  std::vector<std::string> named;
  for (const grpc::string_ref& uri : auth.FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME)) {
    const absl::string_view u(uri.data(), uri.size());
    if (absl::StartsWith(u, kPrincipalUriPrefix)) {
      named.emplace_back(u.substr(kPrincipalUriPrefix.size()));
    }
  }
  if (named.size() > 1) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the client certificate names ", named.size(), " principals (URI SANs ",
        kPrincipalUriPrefix, "...): ", absl::StrJoin(named, ", "), "; it must name one"));
  }
  if (named.size() == 1) {
    if (named[0].empty()) {
      return absl::UnauthenticatedError(
          absl::StrCat("the client certificate's URI SAN ", kPrincipalUriPrefix,
                       " has an empty principal id"));
    }
    return named[0];
  }
  std::vector<grpc::string_ref> cn = auth.FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
  if (cn.size() == 1 && !cn[0].empty()) return std::string(cn[0].data(), cn[0].size());
  return absl::UnauthenticatedError(absl::StrCat(
      "no caller identity: the client certificate has no URI SAN ", kPrincipalUriPrefix,
      "<principal_id> and no single subject CN (or no certificate was presented)"));
}

AccessRecord AccessControl::Record(const Caller& caller, Rpc rpc, absl::string_view trial_id,
                                   const std::vector<std::string>& subjects) const {
  AccessRecord r;
  r.time = absl::Now();
  r.peer = caller.peer;
  r.auth = authenticate_ ? "mtls" : "none";
  r.principal = caller.principal_id;
  r.role = RoleName(caller.role);
  r.method = std::string(RuleFor(rpc).method);
  r.trial = std::string(trial_id);
  r.subjects = subjects;
  return r;
}

absl::Status AccessControl::Refuse(const Caller& caller, Rpc rpc, absl::string_view trial_id,
                                   const std::vector<std::string>& subjects, absl::Status status,
                                   absl::string_view event, absl::string_view signer) {
  if (log_ != nullptr) {
    AccessRecord r = Record(caller, rpc, trial_id, subjects);
    r.kind = "refused";
    r.event = std::string(event);
    r.signer = std::string(signer);
    r.code = absl::StatusCodeToString(status.code());
    r.reason = std::string(status.message());
    if (absl::Status w = log_->Write(r); !w.ok()) {
      // The refusal stands either way; the operator must learn of the gap.
      std::cerr << "trialogd: " << w.message() << "\n";
    }
  }
  return status;
}

absl::StatusOr<Caller> AccessControl::Authorize(const grpc::ServerContext& context, Rpc rpc,
                                                absl::string_view trial_id,
                                                const std::vector<std::string>& subjects,
                                                bool log_read) {
  return AuthorizeImpl(context, rpc, trial_id, subjects, log_read, "", "");
}

absl::StatusOr<Caller> AccessControl::AuthorizeAppend(const grpc::ServerContext& context, Rpc rpc,
                                                      absl::string_view trial_id,
                                                      const v1::SignedEnvelope& signed_envelope) {
  // Without caller authentication nothing here can refuse an append.
  if (!authenticate_) return Caller{false, "", v1::ROLE_UNSPECIFIED, context.peer()};
  absl::StatusOr<v1::Envelope> envelope = ledger::ParseEnvelope(signed_envelope.envelope());
  if (!envelope.ok()) return envelope.status();  // admission would refuse it the same way
  TRIALOG_ASSIGN_OR_RETURN(
      Caller caller, AuthorizeImpl(context, rpc, trial_id, SubjectsOfStream(envelope->stream_id()),
                                   false, EventName(*envelope), envelope->actor().principal_id()));
  TRIALOG_RETURN_IF_ERROR(CheckSigner(caller, rpc, trial_id, signed_envelope));
  return caller;
}

absl::StatusOr<Caller> AccessControl::AuthorizeImpl(const grpc::ServerContext& context, Rpc rpc,
                                                    absl::string_view trial_id,
                                                    const std::vector<std::string>& subjects,
                                                    bool log_read, absl::string_view event,
                                                    absl::string_view signer) {
  Caller caller;
  caller.peer = context.peer();
  const RpcRule& rule = RuleFor(rpc);
  if (authenticate_) {
    std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    absl::StatusOr<std::string> principal =
        auth == nullptr ? absl::UnauthenticatedError("no TLS session") : CertificatePrincipal(*auth);
    if (!principal.ok()) {
      return Refuse(caller, rpc, trial_id, subjects, principal.status(), event, signer);
    }
    caller.authenticated = true;
    caller.principal_id = *std::move(principal);
    if (rpc == Rpc::kListTrials) {
      for (const std::shared_ptr<TrialLedger>& t : ledgers_->List()) {
        if (MaySee(caller, *t)) return caller;
      }
      return Refuse(caller, rpc, trial_id, subjects,
                    absl::PermissionDeniedError(absl::StrCat(
                        "principal ", caller.principal_id,
                        " is not an active principal of any trial served here; ", rule.method,
                        " (rule ", rule.rule, ") needs one")),
                    event, signer);
    }
  }
  if (rpc != Rpc::kListTrials) {
    absl::StatusOr<std::shared_ptr<TrialLedger>> t = ledgers_->Find(trial_id);
    if (!t.ok()) {
      if (IsAppend(rpc)) return caller;  // a genesis may create it: CheckSigner decides
      return t.status();
    }
    if (authenticate_) {
      absl::StatusOr<ledger::Principal> p = (*t)->FindPrincipal(caller.principal_id);
      if (!p.ok()) {
        return Refuse(caller, rpc, trial_id, subjects,
                      absl::PermissionDeniedError(absl::StrCat(
                          "principal ", caller.principal_id, " (from the client certificate) is "
                          "not registered in trial ", trial_id, ", so it has no role there; ",
                          rule.method, " is refused (rule ", rule.rule, ")")),
                      event, signer);
      }
      if (p->revoked) {
        return Refuse(caller, rpc, trial_id, subjects,
                      absl::PermissionDeniedError(absl::StrCat(
                          "principal ", caller.principal_id, " was revoked in trial ", trial_id,
                          " at entry ", p->changed_at, "; ", rule.method, " is refused (rule ",
                          rule.rule, ")")),
                      event, signer);
      }
      caller.role = p->role;
      if (!IsRpcAllowed(caller.role, rpc)) {
        return Refuse(caller, rpc, trial_id, subjects,
                      absl::PermissionDeniedError(absl::StrCat(
                          "principal ", caller.principal_id, " in role ",
                          v1::Role_Name(caller.role), " may not call ", rule.method, " in trial ",
                          trial_id, " (rule ", rule.rule, ": see docs/SECURITY.md)")),
                      event, signer);
      }
    }
  }
  if (rule.subject_data && log_read) {
    absl::Status logged = LogSubjectRead(caller, rpc, trial_id, subjects);
    if (!logged.ok()) return logged;
  }
  return caller;
}

bool AccessControl::MaySee(const Caller& caller, const TrialLedger& trial) const {
  if (!authenticate_) return true;
  absl::StatusOr<ledger::Principal> p = trial.FindPrincipal(caller.principal_id);
  return p.ok() && !p->revoked && IsRpcAllowed(p->role, Rpc::kListTrials);
}

absl::Status AccessControl::CheckSigner(const Caller& caller, Rpc rpc, absl::string_view trial_id,
                                        const v1::SignedEnvelope& signed_envelope) {
  if (!authenticate_) return absl::OkStatus();
  absl::StatusOr<v1::Envelope> envelope = ledger::ParseEnvelope(signed_envelope.envelope());
  if (!envelope.ok()) return envelope.status();
  const std::string& signer = envelope->actor().principal_id();
  if (signer == caller.principal_id) return absl::OkStatus();
  return Refuse(caller, rpc, trial_id, SubjectsOfStream(envelope->stream_id()),
                absl::PermissionDeniedError(absl::StrCat(
                    "principal ", caller.principal_id,
                    " (from the client certificate) may not append an envelope signed as ",
                    signer.empty() ? std::string("nobody") : signer,
                    ": nobody appends as another principal")),
                EventName(*envelope), signer);
}

void AccessControl::NoteAppendResult(const Caller& caller, Rpc rpc, absl::string_view trial_id,
                                     const v1::SignedEnvelope& signed_envelope,
                                     const absl::Status& result) {
  if (result.code() != absl::StatusCode::kPermissionDenied &&
      result.code() != absl::StatusCode::kUnauthenticated) {
    return;
  }
  absl::StatusOr<v1::Envelope> envelope = ledger::ParseEnvelope(signed_envelope.envelope());
  if (!envelope.ok()) {
    Refuse(caller, rpc, trial_id, {}, result).IgnoreError();
    return;
  }
  Refuse(caller, rpc, trial_id, SubjectsOfStream(envelope->stream_id()), result,
         EventName(*envelope), envelope->actor().principal_id())
      .IgnoreError();
}

absl::Status AccessControl::LogSubjectRead(const Caller& caller, Rpc rpc,
                                           absl::string_view trial_id,
                                           const std::vector<std::string>& subjects) {
  if (log_ == nullptr) return absl::OkStatus();
  AccessRecord r = Record(caller, rpc, trial_id, subjects);
  r.kind = "subject_read";
  r.code = "OK";
  absl::Status s = log_->Write(r);
  if (!s.ok()) {
    std::cerr << "trialogd: " << s.message() << "\n";
    return absl::UnavailableError(absl::StrCat(
        "subject data is not served while the access log cannot be written (", s.message(), ")"));
  }
  return absl::OkStatus();
}

}  // namespace trialog::server
