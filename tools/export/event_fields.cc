#include "tools/export/event_fields.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/trial/field_path.h"

namespace trialog::exporter {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

void FlattenInto(const Message& root, const Message& m, const std::string& prefix,
                 std::vector<EventField>* out) {
  const Reflection* r = m.GetReflection();
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string name = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int j = 0; j < r->FieldSize(m, f); ++j) {
          FlattenInto(root, r->GetRepeatedMessage(m, f, j), absl::StrCat(name, "[", j, "]"), out);
        }
      } else if (r->HasField(m, f)) {
        FlattenInto(root, r->GetMessage(m, f), name, out);
      }
      continue;
    }
    const bool is_text = f->cpp_type() == FieldDescriptor::CPPTYPE_STRING;
    std::vector<std::string> paths;
    if (f->is_repeated()) {
      for (int j = 0; j < r->FieldSize(m, f); ++j) paths.push_back(absl::StrCat(name, "[", j, "]"));
    } else {
      if (is_text && r->GetString(m, f).empty()) continue;
      if (f->has_presence() && !r->HasField(m, f) && !is_text) {
        // Optional scalars that are unset are absent, not zero.
        continue;
      }
      paths.push_back(name);
    }
    for (std::string& p : paths) {
      absl::StatusOr<std::string> text = trial::GetFieldText(root, p);
      if (!text.ok()) continue;  // cannot happen for a path built from the message
      if (is_text && text->empty()) continue;
      absl::StatusOr<FieldAddress> address = AddressOf(p);
      if (!address.ok()) continue;
      out->push_back(EventField{std::move(p), *std::move(address), *std::move(text), f});
    }
  }
}

std::string SetFieldName(const Message& m, const google::protobuf::OneofDescriptor* oneof) {
  const FieldDescriptor* f = m.GetReflection()->GetOneofFieldDescriptor(m, oneof);
  return f == nullptr ? "unset" : f->name();
}

}  // namespace

std::vector<EventField> Flatten(const Message& message) {
  std::vector<EventField> out;
  FlattenInto(message, message, "", &out);
  return out;
}

absl::StatusOr<FieldAddress> AddressOf(absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("field path is empty");
  std::vector<std::string> names;
  std::vector<std::string> keys;
  size_t last_indexed = 0;
  bool any_index = false;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    const size_t bracket = part.find('[');
    absl::string_view name = part.substr(0, bracket);
    if (name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("field path \"", path, "\" has an empty segment"));
    }
    names.emplace_back(name);
    if (bracket == absl::string_view::npos) continue;
    absl::string_view digits = part.substr(bracket + 1);
    if (digits.size() < 2 || digits.back() != ']') {
      return absl::InvalidArgumentError(absl::StrCat("field path \"", path, "\": bad index"));
    }
    digits.remove_suffix(1);
    uint64_t index = 0;
    for (char c : digits) {
      if (c < '0' || c > '9' || index > 1000000) {
        return absl::InvalidArgumentError(absl::StrCat("field path \"", path, "\": bad index"));
      }
      index = index * 10 + static_cast<uint64_t>(c - '0');
    }
    keys.push_back(absl::StrCat(index + 1));
    last_indexed = names.size();
    any_index = true;
  }
  FieldAddress a;
  a.item = absl::StrJoin(names, ".");
  if (any_index) {
    a.group = absl::StrJoin(names.begin(), names.begin() + static_cast<long>(last_indexed), ".");
    a.repeat_key = absl::StrJoin(keys, ".");
  } else {
    a.group = names.front();
  }
  return a;
}

std::string TrialKind(const v1::TrialEvent& event) {
  return SetFieldName(event, v1::TrialEvent::descriptor()->FindOneofByName("kind"));
}

std::string EventKind(const v1::Event& event) {
  if (event.has_trial()) return absl::StrCat("trial.", TrialKind(event.trial()));
  return SetFieldName(event, v1::Event::descriptor()->FindOneofByName("kind"));
}

std::string EventSummary(const v1::Event& event) {
  auto protocol_text = [](const v1::ProtocolDefinition& p) {
    return absl::StrCat("protocol ", p.protocol_id(), " version ", p.version(), " (", p.title(), ")");
  };
  if (event.has_genesis()) {
    const v1::Genesis& g = event.genesis();
    return absl::StrCat("ledger ", g.ledger_origin(), "; first admin ", g.first_admin().principal_id(),
                        " (", g.first_admin().printed_name(), "); ", protocol_text(g.protocol()));
  }
  if (event.has_trial() && event.trial().has_protocol_amended()) {
    return protocol_text(event.trial().protocol_amended().protocol());
  }
  const Message* payload = &event;
  if (event.has_trial()) payload = &event.trial();
  std::vector<std::string> parts;
  for (const EventField& f : Flatten(*payload)) {
    // Drop the kind prefix ("dose_administered.").
    absl::string_view path = f.path;
    const size_t dot = path.find('.');
    if (dot != absl::string_view::npos) path.remove_prefix(dot + 1);
    std::string value = f.value;
    if (f.descriptor->type() == FieldDescriptor::TYPE_BYTES && value.size() > 8) {
      value = absl::StrCat(value.substr(0, 8), "\u2026");
    }
    parts.push_back(absl::StrCat(path, "=", value));
  }
  return absl::StrJoin(parts, " ");
}

}  // namespace trialog::exporter
