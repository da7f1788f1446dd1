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
  nlohmann::ordered_json j;
  j["index"] = entry.entry.index();
  j["leaf_hash"] = HexEncode(entry.leaf_hash);
  j["prev_leaf_hash"] = HexEncode(entry.entry.prev_leaf_hash());
  j["recorded_at"] = UtcTimestamp(entry.entry.recorded_at_unix_micros());
  j["stream_version"] = entry.entry.stream_version();
  j["kind"] = EventKind(entry.envelope.event());
  j["observed_at_local"] = LocalTimestamp(entry.envelope.observed_at().unix_micros(),
                                          entry.envelope.observed_at().utc_offset_minutes());
  j["envelope"] = nlohmann::ordered_json::parse(*envelope);
  j["envelope_signature"] = Base64Encode(entry.entry.signed_envelope().signature());
  return j.dump();
}

absl::Status CheckEventLine(absl::string_view line, const ledger::ParsedEntry& entry) {
  const uint64_t index = entry.entry.index();
  auto differs = [&](absl::string_view what) {
    return absl::DataLossError(
        absl::StrCat("events.jsonl: the line of entry ", index, " does not match the entry: ", what));
  };
  nlohmann::ordered_json got =
      nlohmann::ordered_json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (got.is_discarded() || !got.is_object()) return differs("not a JSON object");
  absl::StatusOr<std::string> want_line = EventJsonLine(entry);
  if (!want_line.ok()) return want_line.status();
  nlohmann::ordered_json want = nlohmann::ordered_json::parse(*want_line);
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
