// Who may call which RPC: the method x role table of trialogd, as data
// (listed in docs/SECURITY.md). Per-event append rights are a separate,
// finer table (core/trial/permissions.h) checked at admission; this table
// decides only whether a role may call a method at all.

#ifndef TRIALOG_SERVER_ACCESS_POLICY_H_
#define TRIALOG_SERVER_ACCESS_POLICY_H_

#include <vector>

#include "absl/strings/string_view.h"
#include "trialog/v1/roles.pb.h"

namespace trialog::server {

// Every RPC trialogd serves (LedgerService, TrialStateService, AdminService,
// BulkImportService).
enum class Rpc {
  kAppend,
  kAppendBatch,
  kAppendStream,
  kRead,
  kSubscribe,
  kGetCheckpoint,
  kGetInclusionProof,
  kGetConsistencyProof,
  kGetEntry,
  kListTrials,
  kGetSubject,
  kListSubjects,
  kGetSummary,
  kGetSubjectHistory,
  kCreateBackup,
  kImportBatch,
};

struct RpcRule {
  Rpc rpc;
  absl::string_view method;     // full gRPC name, "/trialog.v1.LedgerService/Append"
  absl::string_view rule;       // the rule's name, quoted in refusals: "append", "subject-data", ...
  bool subject_data;            // a granted call is written to the access log as a subject read
  std::vector<v1::Role> roles;  // roles that may call it; every other role is refused
};

// Every RPC, in declaration order of Rpc.
const std::vector<RpcRule>& RpcAccessTable();

// The row of `rpc`.
const RpcRule& RuleFor(Rpc rpc);

// Whether `role` may call `rpc` (ROLE_UNSPECIFIED never may).
bool IsRpcAllowed(v1::Role role, Rpc rpc);

// Whether `rpc` appends (Append, AppendBatch, AppendStream).
bool IsAppend(Rpc rpc);

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_ACCESS_POLICY_H_
