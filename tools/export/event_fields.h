// Flattening of events into named scalar values, shared by the ODM writer
// (one ItemData per value), the report (one-line summaries) and the JSON
// rendering. Names follow core/trial/field_path.h: a value's path is its
// field path relative to the flattened message, e.g.
// "tumour_assessment.target_lesions[1].diameter_mm_x10", and its text is
// the canonical text of trial::GetFieldText (decimal integers,
// "true"/"false", enum value names, strings verbatim, bytes as hex), which
// is also what a DataCorrected's old and new values use.
//
// Every path maps to an item (the path without indexes), a group (the
// path up to its last indexed segment, or the first segment when there is
// none) and a repeat key (the 1-based indexes joined by "."), which is how
// repeated parts of an event become repeating ODM item groups.
//
// Thread-safety: pure functions.

#ifndef TRIALOG_TOOLS_EXPORT_EVENT_FIELDS_H_
#define TRIALOG_TOOLS_EXPORT_EVENT_FIELDS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "trialog/v1/ledger.pb.h"
#include "trialog/v1/trial.pb.h"

namespace trialog::exporter {

struct FieldAddress {
  std::string item;        // "tumour_assessment.target_lesions.diameter_mm_x10"
  std::string group;       // "tumour_assessment.target_lesions"
  std::string repeat_key;  // "2" ("" when the group does not repeat)
};

struct EventField {
  std::string path;   // "tumour_assessment.target_lesions[1].diameter_mm_x10"
  FieldAddress address;
  std::string value;  // canonical text
  const google::protobuf::FieldDescriptor* descriptor = nullptr;
};

// Every scalar value of `message`, depth first in field-number order:
// numbers, bools and enums always (zero included: a zero dose or "no
// missed doses" is data), strings and bytes when non-empty, repeated
// values each with its index, set sub-messages recursively.
std::vector<EventField> Flatten(const google::protobuf::Message& message);

// The address of a field path (as in DataCorrected.field_path).
// INVALID_ARGUMENT when the path is malformed.
absl::StatusOr<FieldAddress> AddressOf(absl::string_view path);

// The event's kind: the name of the set field of Event.kind, and for trial
// events the set field of TrialEvent.kind ("trial.dose_administered",
// "genesis", "principal_registered"); "unset" when nothing is set.
std::string EventKind(const v1::Event& event);
// TrialEvent kind alone ("dose_administered"), "unset" when nothing is set.
std::string TrialKind(const v1::TrialEvent& event);

// A one-line human summary of an envelope's event: "dose_mg=280
// administrations=55 missed=1 ..." with the kind prefix dropped, bytes
// longer than 8 shown as their first 8 hex digits and "…", and the
// protocol definition of genesis and amendments reduced to its id and
// version.
std::string EventSummary(const v1::Event& event);

}  // namespace trialog::exporter

#endif  // TRIALOG_TOOLS_EXPORT_EVENT_FIELDS_H_
