// The human-readable rendering of entries as JSON Lines (events.jsonl of a
// bundle): one JSON object per entry, one line each, keys in this order:
//
//   {"index": N, "leaf_hash": HEX, "prev_leaf_hash": HEX,
//    "recorded_at": UTC-TIMESTAMP, "stream_version": N, "kind": KIND,
//    "observed_at_local": LOCAL-TIMESTAMP, "envelope": {...},
//    "envelope_signature": BASE64}
//
// where "envelope" is protobuf's canonical JSON mapping of the signed
// Envelope (google::protobuf::util::MessageToJsonString, proto field
// names, bytes as base64, 64-bit integers as strings) and KIND is
// EventKind (event_fields.h).
//
// The rendering is derived data: verifiers check it says the same as the
// entry bytes (CheckEventLine), comparing values, not bytes, so that a
// rendering by another protobuf version still checks.
//
// Thread-safety: pure functions.

#ifndef TRIALOG_TOOLS_EXPORT_EVENT_JSON_H_
#define TRIALOG_TOOLS_EXPORT_EVENT_JSON_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/ledger/entry.h"

namespace trialog::exporter {

// One line, without the trailing "\n". INTERNAL if protobuf cannot render
// the envelope (does not happen for parsed envelopes).
absl::StatusOr<std::string> EventJsonLine(const ledger::ParsedEntry& entry);

// OK if `line` is a rendering of `entry`: exactly the keys above, each
// with the value EventJsonLine gives (the envelope compared as a parsed
// message). DATA_LOSS saying which key differs otherwise.
absl::Status CheckEventLine(absl::string_view line, const ledger::ParsedEntry& entry);

}  // namespace trialog::exporter

#endif  // TRIALOG_TOOLS_EXPORT_EVENT_JSON_H_
