#include "core/trial/field_path.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/util/bytes.h"
#include "google/protobuf/descriptor.h"

namespace trialog::trial {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

struct Segment {
  std::string name;
  int index = -1;  // -1: no index
};

absl::StatusOr<std::vector<Segment>> ParsePath(absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("field path is empty");
  std::vector<Segment> out;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    Segment s;
    size_t bracket = part.find('[');
    absl::string_view name = part.substr(0, bracket);
    if (name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("field path \"", path, "\" has an empty segment"));
    }
    for (char c : name) {
      if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) {
        return absl::InvalidArgumentError(
            absl::StrCat("field path \"", path, "\": bad character in \"", name, "\""));
      }
    }
    s.name = std::string(name);
    if (bracket != absl::string_view::npos) {
      absl::string_view rest = part.substr(bracket + 1);
      if (rest.size() < 2 || rest.back() != ']') {
        return absl::InvalidArgumentError(absl::StrCat("field path \"", path, "\": bad index"));
      }
      absl::string_view digits = rest.substr(0, rest.size() - 1);
      uint32_t idx = 0;
      if (digits.empty() || (digits.size() > 1 && digits[0] == '0') ||
          !std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) ||
          !absl::SimpleAtoi(digits, &idx) || idx > 1000000) {
        return absl::InvalidArgumentError(absl::StrCat("field path \"", path, "\": bad index"));
      }
      s.index = static_cast<int>(idx);
    }
    out.push_back(std::move(s));
  }
  return out;
}

absl::Status NotFound(absl::string_view path, absl::string_view why) {
  return absl::NotFoundError(absl::StrCat("field path \"", path, "\": ", why));
}

// Walks to the message holding the leaf. With `mutate`, message is mutable.
struct Leaf {
  Message* owner_mutable = nullptr;
  const Message* owner = nullptr;
  const FieldDescriptor* field = nullptr;
  int index = -1;
};

absl::StatusOr<Leaf> Walk(const Message& root, Message* mutable_root, absl::string_view path) {
  absl::StatusOr<std::vector<Segment>> segs = ParsePath(path);
  if (!segs.ok()) return segs.status();
  const Message* cur = &root;
  Message* cur_mut = mutable_root;
  for (size_t i = 0; i < segs->size(); ++i) {
    const Segment& s = (*segs)[i];
    const FieldDescriptor* f = cur->GetDescriptor()->FindFieldByName(s.name);
    if (f == nullptr) return NotFound(path, absl::StrCat("no field \"", s.name, "\""));
    const Reflection* r = cur->GetReflection();
    const bool last = i + 1 == segs->size();
    if (f->is_repeated() != (s.index >= 0)) {
      return NotFound(path, absl::StrCat("\"", s.name, "\" ",
                                         f->is_repeated() ? "needs an index" : "takes no index"));
    }
    if (f->is_repeated() && s.index >= r->FieldSize(*cur, f)) {
      return NotFound(path, absl::StrCat("index ", s.index, " is out of range"));
    }
    if (last) {
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        return NotFound(path, "names a message, not a value");
      }
      return Leaf{cur_mut, cur, f, s.index};
    }
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      return NotFound(path, absl::StrCat("\"", s.name, "\" is not a message"));
    }
    if (f->is_repeated()) {
      cur = &r->GetRepeatedMessage(*cur, f, s.index);
      if (cur_mut) cur_mut = r->MutableRepeatedMessage(cur_mut, f, s.index);
    } else {
      if (!r->HasField(*cur, f)) {
        return NotFound(path, absl::StrCat("\"", s.name, "\" is not set in this record"));
      }
      cur = &r->GetMessage(*cur, f);
      if (cur_mut) cur_mut = r->MutableMessage(cur_mut, f);
    }
  }
  return NotFound(path, "is empty");
}

absl::Status BadValue(const FieldDescriptor* f, absl::string_view text, absl::string_view want) {
  return absl::InvalidArgumentError(absl::StrCat("value \"", text, "\" for field ", f->name(),
                                                 " is not canonical ", want));
}

template <typename T>
absl::StatusOr<T> ParseInt(const FieldDescriptor* f, absl::string_view text) {
  T v{};
  if (!absl::SimpleAtoi(text, &v) || absl::StrCat(v) != text) {
    return BadValue(f, text, "decimal integer text");
  }
  return v;
}

}  // namespace

std::string LeafFieldName(absl::string_view path) {
  absl::StatusOr<std::vector<Segment>> segs = ParsePath(path);
  if (!segs.ok() || segs->empty()) return "";
  return segs->back().name;
}

absl::StatusOr<std::string> GetFieldText(const Message& message, absl::string_view path) {
  absl::StatusOr<Leaf> leaf = Walk(message, nullptr, path);
  if (!leaf.ok()) return leaf.status();
  const Reflection* r = leaf->owner->GetReflection();
  const Message& m = *leaf->owner;
  const FieldDescriptor* f = leaf->field;
  const bool rep = leaf->index >= 0;
  const int i = leaf->index;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(m, f, i) : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(rep ? r->GetRepeatedInt64(m, f, i) : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, i) : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, i) : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return std::string((rep ? r->GetRepeatedBool(m, f, i) : r->GetBool(m, f)) ? "true" : "false");
    case FieldDescriptor::CPPTYPE_ENUM:
      return std::string((rep ? r->GetRepeatedEnum(m, f, i) : r->GetEnum(m, f))->name());
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string v = rep ? r->GetRepeatedString(m, f, i) : r->GetString(m, f);
      if (f->type() == FieldDescriptor::TYPE_BYTES) return HexEncode(v);
      return v;
    }
    default:
      return NotFound(path, "has a type that cannot be corrected");
  }
}

absl::Status SetFieldText(Message* message, absl::string_view path, absl::string_view text) {
  absl::StatusOr<Leaf> leaf = Walk(*message, message, path);
  if (!leaf.ok()) return leaf.status();
  const Reflection* r = leaf->owner_mutable->GetReflection();
  Message* m = leaf->owner_mutable;
  const FieldDescriptor* f = leaf->field;
  const bool rep = leaf->index >= 0;
  const int i = leaf->index;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      absl::StatusOr<int32_t> v = ParseInt<int32_t>(f, text);
      if (!v.ok()) return v.status();
      rep ? r->SetRepeatedInt32(m, f, i, *v) : r->SetInt32(m, f, *v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      absl::StatusOr<int64_t> v = ParseInt<int64_t>(f, text);
      if (!v.ok()) return v.status();
      rep ? r->SetRepeatedInt64(m, f, i, *v) : r->SetInt64(m, f, *v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      absl::StatusOr<uint32_t> v = ParseInt<uint32_t>(f, text);
      if (!v.ok()) return v.status();
      rep ? r->SetRepeatedUInt32(m, f, i, *v) : r->SetUInt32(m, f, *v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      absl::StatusOr<uint64_t> v = ParseInt<uint64_t>(f, text);
      if (!v.ok()) return v.status();
      rep ? r->SetRepeatedUInt64(m, f, i, *v) : r->SetUInt64(m, f, *v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      if (text != "true" && text != "false") return BadValue(f, text, "\"true\" or \"false\"");
      rep ? r->SetRepeatedBool(m, f, i, text == "true") : r->SetBool(m, f, text == "true");
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const google::protobuf::EnumValueDescriptor* v =
          f->enum_type()->FindValueByName(std::string(text));
      if (v == nullptr) return BadValue(f, text, absl::StrCat(f->enum_type()->name(), " value name"));
      rep ? r->SetRepeatedEnum(m, f, i, v) : r->SetEnum(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string v(text);
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        absl::StatusOr<std::string> raw = HexDecode(text);
        if (!raw.ok() || HexEncode(*raw) != text) return BadValue(f, text, "lower-case hex");
        v = *raw;
      }
      rep ? r->SetRepeatedString(m, f, i, v) : r->SetString(m, f, v);
      return absl::OkStatus();
    }
    default:
      return NotFound(path, "has a type that cannot be corrected");
  }
}

}  // namespace trialog::trial
