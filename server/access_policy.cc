#include "server/access_policy.h"

#include <algorithm>

namespace trialog::server {
namespace {

using R = v1::Role;
constexpr R kAdmin = v1::ROLE_SPONSOR_ADMIN;
constexpr R kInv = v1::ROLE_INVESTIGATOR;
constexpr R kSub = v1::ROLE_SUB_INVESTIGATOR;
constexpr R kCoord = v1::ROLE_STUDY_COORDINATOR;
constexpr R kPharm = v1::ROLE_PHARMACIST;
constexpr R kDm = v1::ROLE_DATA_MANAGER;
constexpr R kMon = v1::ROLE_MONITOR;
constexpr R kAud = v1::ROLE_AUDITOR;
constexpr R kReg = v1::ROLE_REGULATOR;
constexpr R kExt = v1::ROLE_EXTERNAL_SYSTEM;
constexpr R kRad = v1::ROLE_RADIOLOGIST;
constexpr R kSafety = v1::ROLE_SAFETY_PHYSICIAN;

std::vector<RpcRule>* BuildTable() {
  // append: every role that has at least one row in the event table
  // (auditors and regulators are read-only); which events each may append
  // is core/trial's table.
  const std::vector<R> writers = {kAdmin, kInv, kSub, kCoord, kPharm, kDm, kMon, kExt, kRad, kSafety};
  // subject-data: the people who work with, review or inspect subject
  // records (site staff, pharmacist, radiologist, data management,
  // monitoring, safety, audit, inspection). Not the sponsor administrator
  // (manages principals, sites and the protocol; sees aggregates) and not
  // external systems (they deliver results and never read records).
  // Read/Subscribe/GetEntry hand out whole entries, so they are subject
  // data too: every role that may read one subject may read them all.
  const std::vector<R> readers = {kInv, kSub, kCoord, kPharm, kDm, kMon, kAud, kReg, kRad, kSafety};
  // summary: aggregate counts without subject records, for every person.
  const std::vector<R> summary = {kAdmin, kInv, kSub, kCoord, kPharm, kDm, kMon, kAud, kReg, kRad, kSafety};
  // integrity: checkpoints and proofs (hashes only), for every principal,
  // so that every signer can check its own receipts.
  const std::vector<R> everyone = {kAdmin, kInv, kSub, kCoord, kPharm, kDm,
                                   kMon, kAud, kReg, kExt, kRad, kSafety};
  return new std::vector<RpcRule>{
      {Rpc::kAppend, "/trialog.v1.LedgerService/Append", "append", false, writers},
      {Rpc::kAppendBatch, "/trialog.v1.LedgerService/AppendBatch", "append", false, writers},
      {Rpc::kAppendStream, "/trialog.v1.LedgerService/AppendStream", "append", false, writers},
      {Rpc::kRead, "/trialog.v1.LedgerService/Read", "subject-data", true, readers},
      {Rpc::kSubscribe, "/trialog.v1.LedgerService/Subscribe", "subject-data", true, readers},
      {Rpc::kGetCheckpoint, "/trialog.v1.LedgerService/GetCheckpoint", "integrity", false, everyone},
      {Rpc::kGetInclusionProof, "/trialog.v1.LedgerService/GetInclusionProof", "integrity", false,
       everyone},
      {Rpc::kGetConsistencyProof, "/trialog.v1.LedgerService/GetConsistencyProof", "integrity",
       false, everyone},
      {Rpc::kGetEntry, "/trialog.v1.LedgerService/GetEntry", "subject-data", true, readers},
      {Rpc::kListTrials, "/trialog.v1.LedgerService/ListTrials", "directory", false, everyone},
      {Rpc::kGetSubject, "/trialog.v1.TrialStateService/GetSubject", "subject-data", true, readers},
      {Rpc::kListSubjects, "/trialog.v1.TrialStateService/ListSubjects", "subject-data", true,
       readers},
      {Rpc::kGetSummary, "/trialog.v1.TrialStateService/GetSummary", "summary", false, summary},
      {Rpc::kGetSubjectHistory, "/trialog.v1.TrialStateService/GetSubjectHistory", "subject-data",
       true, readers},
      {Rpc::kCreateBackup, "/trialog.v1.AdminService/CreateBackup", "admin", false, {kAdmin}},
      // bulk-import: batch-signed imports, by system principals only (the
      // batch signer must be ROLE_EXTERNAL_SYSTEM: core/ledger/batch.h);
      // which events they may record is still core/trial's table.
      {Rpc::kImportBatch, "/trialog.v1.BulkImportService/ImportBatch", "bulk-import", false,
       {kExt}},
  };
}

}  // namespace

const std::vector<RpcRule>& RpcAccessTable() {
  static const std::vector<RpcRule>* table = BuildTable();
  return *table;
}

const RpcRule& RuleFor(Rpc rpc) { return RpcAccessTable()[static_cast<size_t>(rpc)]; }

bool IsRpcAllowed(v1::Role role, Rpc rpc) {
  const RpcRule& rule = RuleFor(rpc);
  return std::find(rule.roles.begin(), rule.roles.end(), role) != rule.roles.end();
}

bool IsAppend(Rpc rpc) {
  return rpc == Rpc::kAppend || rpc == Rpc::kAppendBatch || rpc == Rpc::kAppendStream;
}

}  // namespace trialog::server
