#include "tools/export/event_json.h"

#include "absl/strings/str_cat.h"
#include "core/util/bytes.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "nlohmann/json.hpp"
#include "tools/export/event_fields.h"
#include "tools/export/timestamps.h"

namespace trialog::exporter {
namespace {

absl::StatusOr<std::string> EnvelopeJson(const v1::Envelope& envelope) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  google::protobuf::util::Status s =
      google::protobuf::util::MessageToJsonString(envelope, &out, options);
  if (!s.ok()) {
    return absl::InternalError(absl::StrCat("rendering envelope as JSON: ", s.message().as_string()));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> EventJsonLine(const ledger::ParsedEntry& entry) {
  absl::StatusOr<std::string> envelope = EnvelopeJson(entry.envelope);
  if (!envelope.ok()) return envelope.status();
  // Every value but the envelope is a number or an ASCII string that needs
  // no JSON escaping (hex, base64, timestamps, field names); protobuf's
  // printer writes the envelope as one compact JSON object.
  return absl::StrCat(
      "{\"index\":", entry.entry.index(), ",\"leaf_hash\":\"", HexEncode(entry.leaf_hash),
      "\",\"prev_leaf_hash\":\"", HexEncode(entry.entry.prev_leaf_hash()), "\",\"recorded_at\":\"",
      UtcTimestamp(entry.entry.recorded_at_unix_micros()), "\",\"stream_version\":", entry.entry.stream_version(),
      ",\"kind\":\"", EventKind(entry.envelope.event()), "\",\"observed_at_local\":\"",
      LocalTimestamp(entry.envelope.observed_at().unix_micros(), entry.envelope.observed_at().utc_offset_minutes()),
      "\",\"envelope\":", *envelope, ",\"envelope_signature\":\"",
      Base64Encode(entry.entry.signed_envelope().signature()), "\"}");
}

absl::Status CheckEventLine(absl::string_view line, const ledger::ParsedEntry& entry) {
  const uint64_t index = entry.entry.index();
  auto differs = [&](absl::string_view what) {
    return absl::DataLossError(
        absl::StrCat("events.jsonl: the line of entry ", index, " does not match the entry: ", what));
  };
  // Fast path: exactly the line this build renders.
  if (absl::StatusOr<std::string> mine = EventJsonLine(entry); mine.ok() && *mine == line) {
    return absl::OkStatus();
  }
  nlohmann::ordered_json got =
      nlohmann::ordered_json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (got.is_discarded() || !got.is_object()) return differs("not a JSON object");
  // The scalar keys, computed as EventJsonLine does (no re-rendering of
  // the envelope: that is compared as a message below).
  nlohmann::ordered_json want;
  want["index"] = entry.entry.index();
  want["leaf_hash"] = HexEncode(entry.leaf_hash);
  want["prev_leaf_hash"] = HexEncode(entry.entry.prev_leaf_hash());
  want["recorded_at"] = UtcTimestamp(entry.entry.recorded_at_unix_micros());
  want["stream_version"] = entry.entry.stream_version();
  want["kind"] = EventKind(entry.envelope.event());
  want["observed_at_local"] = LocalTimestamp(entry.envelope.observed_at().unix_micros(),
                                             entry.envelope.observed_at().utc_offset_minutes());
  want["envelope"] = nullptr;
  want["envelope_signature"] = Base64Encode(entry.entry.signed_envelope().signature());
  if (got.size() != want.size()) return differs("it has other keys than the rendering's");
  for (auto it = want.begin(); it != want.end(); ++it) {
    if (!got.contains(it.key())) return differs(absl::StrCat("key \"", it.key(), "\" is missing"));
    if (it.key() == "envelope") continue;
    if (got[it.key()] != it.value()) return differs(absl::StrCat("\"", it.key(), "\" differs"));
  }
  v1::Envelope parsed;
  google::protobuf::util::JsonParseOptions options;
  const std::string envelope_text = got["envelope"].dump();
  if (!got["envelope"].is_object() ||
      !google::protobuf::util::JsonStringToMessage(envelope_text, &parsed, options).ok()) {
    return differs("\"envelope\" is not a JSON Envelope");
  }
  if (!google::protobuf::util::MessageDifferencer::Equals(parsed, entry.envelope)) {
    return differs("\"envelope\" says something else than the signed envelope");
  }
  return absl::OkStatus();
}

}  // namespace trialog::exporter
