// CDISC ODM 1.3.2 export of a verified ledger (Transactional, Archival):
// every value of every subject record as ItemData with its AuditRecord,
// every correction as an Update and every void as a Remove with the
// reason, every e-signature as a Signature on the signed record, and the
// metadata (MetaDataVersion) and administrative data (users, locations,
// signature definitions) that make the file complete. docs/EXPORT.md §4
// has the mapping table.
//
// Thread-safety: pure function of its input.

#ifndef TRIALOG_TOOLS_EXPORT_ODM_H_
#define TRIALOG_TOOLS_EXPORT_ODM_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "tools/export/export_input.h"

namespace trialog::exporter {

struct OdmOptions {
  // ODM CreationDateTime; 0 = now. Must not precede the last entry's
  // recorded_at (ODM: every DateTimeStamp precedes CreationDateTime).
  int64_t creation_unix_micros = 0;
  // FileOID; "" = "trialog.<trial id>.<checkpoint size>".
  std::string file_oid;
  // Only this subject's data (ODM Granularity="SingleSubject"); "" = all.
  std::string subject_id;
};

// The ODM 1.3.2 XML document (UTF-8). INVALID_ARGUMENT if the creation
// time precedes the last entry or `subject_id` names no subject;
// FAILED_PRECONDITION if an entry refers to a record the ledger does not
// hold (cannot happen in a ledger that verified).
absl::StatusOr<std::string> WriteOdm132(const ExportInput& input, const OdmOptions& options = {});

// The same data as ODM 2.0 (namespace http://www.cdisc.org/ns/odm/v2.0,
// Context="Archive"): forms become item groups of Type Form holding Section
// groups, values are <Value> children, AuditRecord and Signature follow
// the data they qualify (UsedMethod replaces UsedImputationMethod), and
// trial-level and administrative entries become ClinicalData-level item
// groups with their values and audit records. Errors as WriteOdm132.
absl::StatusOr<std::string> WriteOdm20(const ExportInput& input, const OdmOptions& options = {});

// The OIDs the export uses, for readers and tests: "USR." principal id,
// "LOC." site id (sponsor-level principals: "LOC.SPONSOR"; external
// systems: "LOC.EXT." principal id), "F." / "IG." / "IT." + trial event
// kind and field names, "SE.LEDGER".
std::string UserOid(absl::string_view principal_id);

}  // namespace trialog::exporter

#endif  // TRIALOG_TOOLS_EXPORT_ODM_H_
