#include "tools/audit/trail.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "core/trial/permissions.h"
#include "core/util/bytes.h"
#include "nlohmann/json.hpp"
#include "tools/export/event_fields.h"
#include "tools/export/timestamps.h"
#include "trialog/v1/roles.pb.h"
#include "trialog/v1/trial.pb.h"

namespace trialog::audit {
namespace {

constexpr absl::string_view kSubjectPrefix = "subject/";

std::string Who(const TrailRow& r) {
  return absl::StrCat(r.printed_name, " [", r.principal_id, "]");
}

// The row's "details" text: corrections, voids and signatures spelt out,
// else the event summary.
std::string Details(const TrailRow& r) {
  if (r.correction) {
    const Correction& c = *r.correction;
    return absl::StrCat(c.field_path, ": \"", c.old_value, "\" \u2192 \"", c.new_value, "\" (corrects #",
                        c.target_index ? absl::StrCat(*c.target_index) : "?", ", ", c.reason_code, ")");
  }
  if (r.voided_index) return absl::StrCat("voids #", *r.voided_index);
  if (r.signature) {
    const Manifestation& m = *r.signature;
    std::vector<std::string> idx;
    for (uint64_t i : m.signed_indexes) idx.push_back(absl::StrCat("#", i));
    return absl::StrCat("signed by ", m.printed_name, " at ", m.time_utc, " (", m.time_local, "), meaning ",
                        m.meaning, m.meaning_word.empty() ? "" : absl::StrCat(" [", m.meaning_word, "]"),
                        ": \"", m.meaning_text, "\"; records ", absl::StrJoin(idx, ","));
  }
  return r.summary;
}

std::string CsvField(absl::string_view v) {
  if (v.find_first_of(",\"\r\n") == absl::string_view::npos) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string OptIndex(const std::optional<uint64_t>& i) { return i ? absl::StrCat(*i) : ""; }

// Display width in code points (the table holds UTF-8 names and arrows).
size_t Width(absl::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace

TrailRow TrailBuilder::Add(const ledger::ParsedEntry& e) {
  TrailRow r;
  const v1::Envelope& env = e.envelope;
  r.index = e.entry.index();
  r.principal_id = env.actor().principal_id();
  r.printed_name = env.actor().printed_name();
  r.role = RoleName(env.actor().role());
  r.site_id = env.actor().site_id();
  r.stream_id = env.stream_id();
  if (absl::StartsWith(r.stream_id, kSubjectPrefix)) r.subject_id = r.stream_id.substr(kSubjectPrefix.size());
  r.event_type = exporter::EventKind(env.event());
  r.summary = exporter::EventSummary(env.event());
  r.recorded_at = e.entry.recorded_at_unix_micros();
  r.observed_at = env.observed_at().unix_micros();
  r.utc_offset_minutes = env.observed_at().utc_offset_minutes();
  r.recorded_utc = exporter::UtcTimestamp(r.recorded_at);
  r.recorded_local = exporter::LocalTimestamp(r.recorded_at, r.utc_offset_minutes);
  r.observed_utc = exporter::UtcTimestamp(r.observed_at);
  r.observed_local = exporter::LocalTimestamp(r.observed_at, r.utc_offset_minutes);
  r.reason = env.reason();

  auto index_of = [&](const std::string& event_id) -> std::optional<uint64_t> {
    auto it = index_of_event_.find(event_id);
    if (it == index_of_event_.end()) return std::nullopt;
    return it->second;
  };
  if (env.event().has_trial()) {
    const v1::TrialEvent& t = env.event().trial();
    if (t.has_data_corrected()) {
      const v1::DataCorrected& d = t.data_corrected();
      r.correction = Correction{HexEncode(d.target_event_id()), index_of(d.target_event_id()), d.field_path(),
                                d.old_value(), d.new_value(), v1::CorrectionReason_Name(d.reason_code())};
    } else if (t.has_event_voided()) {
      r.voided_index = index_of(t.event_voided().target_event_id());
    } else if (t.has_e_signature()) {
      const v1::ESignature& s = t.e_signature();
      Manifestation m;
      m.printed_name = s.printed_name();
      m.time_utc = r.recorded_utc;
      m.time_local = r.recorded_local;
      m.meaning = v1::SignatureMeaning_Name(s.meaning());
      if (const trial::SignatureDef* def = trial::FindSignatureDef(s.meaning()); def != nullptr) {
        m.meaning_word = std::string(def->meaning_word.data(), def->meaning_word.size());
      }
      m.meaning_text = s.meaning_text();
      for (const v1::SignedRecord& rec : s.records()) {
        if (std::optional<uint64_t> i = index_of(rec.event_id())) m.signed_indexes.push_back(*i);
      }
      r.signature = std::move(m);
    }
  }
  index_of_event_[env.event_id()] = r.index;
  return r;
}

bool TrailFilter::Matches(const TrailRow& r) const {
  if (!subject.empty() && subject != r.subject_id && subject != r.stream_id) return false;
  if (!user.empty() && user != r.principal_id && user != r.printed_name) return false;
  if (!role.empty()) {
    std::string want = absl::AsciiStrToLower(role);
    if (absl::StartsWith(want, "role_")) want = want.substr(5);
    if (want != r.role) return false;
  }
  if (!site.empty() && site != r.site_id) return false;
  if (!event_types.empty()) {
    bool any = false;
    for (const std::string& t : event_types) {
      any = any || t == r.event_type || absl::StrCat("trial.", t) == r.event_type;
    }
    if (!any) return false;
  }
  const int64_t t = by_observed_time ? r.observed_at : r.recorded_at;
  if (from && t < *from) return false;
  if (to && t > *to) return false;
  return true;
}

absl::StatusOr<int64_t> ParseRfc3339(absl::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\" is not an RFC 3339 date-time (e.g. 2025-01-20T09:00:00Z or 2025-01-20T12:00:00+03:00): ",
        err));
  }
  return absl::ToUnixMicros(t);
}

std::string RoleName(int role) {
  if (!v1::Role_IsValid(role)) return absl::StrCat(role);
  std::string name = absl::AsciiStrToLower(v1::Role_Name(static_cast<v1::Role>(role)));
  if (absl::StartsWith(name, "role_")) name = name.substr(5);
  return name;
}

void WriteTable(const std::vector<TrailRow>& rows, std::ostream& out) {
  const std::vector<std::string> header = {"INDEX", "RECORDED (UTC)", "SITE LOCAL TIME", "WHO", "ROLE",
                                           "SITE", "SUBJECT", "EVENT", "WHY", "WHAT"};
  std::vector<std::vector<std::string>> cells;
  cells.push_back(header);
  for (const TrailRow& r : rows) {
    std::string event = r.event_type;
    if (absl::StartsWith(event, "trial.")) event = event.substr(6);
    cells.push_back({absl::StrCat(r.index), r.recorded_utc, r.recorded_local, Who(r), r.role, r.site_id,
                     r.subject_id.empty() ? r.stream_id : r.subject_id, event,
                     r.reason.empty() ? "-" : r.reason, Details(r)});
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& row : cells) {
    for (size_t c = 0; c + 1 < row.size(); ++c) width[c] = std::max(width[c], Width(row[c]));
  }
  for (const auto& row : cells) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - Width(row[c]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

const std::vector<std::string>& CsvColumns() {
  static const auto* cols = new std::vector<std::string>{
      "index", "recorded_at_utc", "recorded_at_local", "observed_at_utc", "observed_at_local",
      "principal_id", "printed_name", "role", "site_id", "stream_id", "subject_id", "event_type", "summary",
      "reason", "corrected_index", "field_path", "old_value", "new_value", "correction_reason",
      "voided_index", "signature_printed_name", "signature_time_utc", "signature_time_local",
      "signature_meaning", "signature_meaning_word", "signature_meaning_text", "signed_indexes"};
  return *cols;
}

void WriteCsv(const std::vector<TrailRow>& rows, std::ostream& out) {
  auto record = [&](const std::vector<std::string>& fields) {
    std::vector<std::string> quoted;
    for (const std::string& f : fields) quoted.push_back(CsvField(f));
    out << absl::StrJoin(quoted, ",") << "\r\n";
  };
  record(CsvColumns());
  for (const TrailRow& r : rows) {
    const Correction c = r.correction.value_or(Correction{});
    const Manifestation m = r.signature.value_or(Manifestation{});
    std::vector<std::string> idx;
    for (uint64_t i : m.signed_indexes) idx.push_back(absl::StrCat(i));
    record({absl::StrCat(r.index), r.recorded_utc, r.recorded_local, r.observed_utc, r.observed_local,
            r.principal_id, r.printed_name, r.role, r.site_id, r.stream_id, r.subject_id, r.event_type,
            r.summary, r.reason, r.correction ? OptIndex(c.target_index) : "", c.field_path, c.old_value,
            c.new_value, c.reason_code, OptIndex(r.voided_index), m.printed_name, m.time_utc, m.time_local,
            m.meaning, m.meaning_word, m.meaning_text, absl::StrJoin(idx, " ")});
  }
}

void WriteJsonLines(const std::vector<TrailRow>& rows, std::ostream& out) {
  auto opt = [](const std::optional<uint64_t>& i) { return i ? nlohmann::json(*i) : nlohmann::json(); };
  for (const TrailRow& r : rows) {
    nlohmann::ordered_json j;
    j["index"] = r.index;
    j["recorded_at_utc"] = r.recorded_utc;
    j["recorded_at_local"] = r.recorded_local;
    j["observed_at_utc"] = r.observed_utc;
    j["observed_at_local"] = r.observed_local;
    j["principal_id"] = r.principal_id;
    j["printed_name"] = r.printed_name;
    j["role"] = r.role;
    j["site_id"] = r.site_id;
    j["stream_id"] = r.stream_id;
    j["subject_id"] = r.subject_id;
    j["event_type"] = r.event_type;
    j["summary"] = r.summary;
    j["reason"] = r.reason;
    if (r.correction) {
      j["correction"] = {{"corrected_index", opt(r.correction->target_index)},
                         {"target_event_id", r.correction->target_event_id},
                         {"field_path", r.correction->field_path},
                         {"old_value", r.correction->old_value},
                         {"new_value", r.correction->new_value},
                         {"reason_code", r.correction->reason_code}};
    } else {
      j["correction"] = nullptr;
    }
    j["voided_index"] = opt(r.voided_index);
    if (r.signature) {
      j["signature"] = {{"printed_name", r.signature->printed_name},
                        {"time_utc", r.signature->time_utc},
                        {"time_local", r.signature->time_local},
                        {"meaning", r.signature->meaning},
                        {"meaning_word", r.signature->meaning_word},
                        {"meaning_text", r.signature->meaning_text},
                        {"signed_indexes", r.signature->signed_indexes}};
    } else {
      j["signature"] = nullptr;
    }
    out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
}

}  // namespace trialog::audit
