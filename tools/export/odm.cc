#include "tools/export/odm.h"

#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/trial/permissions.h"
#include "core/util/bytes.h"
#include "google/protobuf/descriptor.h"
#include "tools/export/event_fields.h"
#include "tools/export/timestamps.h"
#include "tools/export/xml_writer.h"

namespace trialog::exporter {
namespace {

using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;

constexpr absl::string_view kStudyEventOid = "SE.LEDGER";
constexpr absl::string_view kMetaDataVersionOid = "MDV.1";
constexpr absl::string_view kRecordGroup = "record";
constexpr absl::string_view kObservedItem = "record.observed_at";
constexpr absl::string_view kEventIdItem = "record.event_id";
constexpr absl::string_view kSponsorLocation = "LOC.SPONSOR";

std::string FormOid(absl::string_view kind) { return absl::StrCat("F.", kind); }
std::string GroupOid(absl::string_view group) { return absl::StrCat("IG.", group); }
std::string ItemOid(absl::string_view item) { return absl::StrCat("IT.", item); }
std::string SiteOid(absl::string_view site) { return absl::StrCat("LOC.", site); }

std::string LocationOf(const v1::Actor& a) {
  if (!a.site_id().empty()) return SiteOid(a.site_id());
  if (a.role() == v1::ROLE_EXTERNAL_SYSTEM) return absl::StrCat("LOC.EXT.", a.principal_id());
  return std::string(kSponsorLocation);
}

std::string UserType(v1::Role role) {
  switch (role) {
    case v1::ROLE_INVESTIGATOR:
    case v1::ROLE_SUB_INVESTIGATOR:
    case v1::ROLE_STUDY_COORDINATOR:
    case v1::ROLE_PHARMACIST:
    case v1::ROLE_RADIOLOGIST:
      return "Investigator";
    case v1::ROLE_EXTERNAL_SYSTEM:
      return "Lab";
    case v1::ROLE_SPONSOR_ADMIN:
    case v1::ROLE_DATA_MANAGER:
    case v1::ROLE_MONITOR:
    case v1::ROLE_SAFETY_PHYSICIAN:
      return "Sponsor";
    default:
      return "Other";
  }
}

// The field an item path names, walking from `root` (nullptr if none).
const FieldDescriptor* FieldOfItem(absl::string_view item,
                                   const google::protobuf::Descriptor* root = v1::TrialEvent::descriptor()) {
  const google::protobuf::Descriptor* d = root;
  const FieldDescriptor* f = nullptr;
  for (absl::string_view name : absl::StrSplit(item, '.')) {
    if (d == nullptr) return nullptr;
    f = d->FindFieldByName(std::string(name));
    if (f == nullptr) return nullptr;
    d = f->message_type();
  }
  return f;
}

struct ItemDef {
  std::string data_type;
  const EnumDescriptor* enum_type = nullptr;
};

ItemDef DefFor(const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return {"integer", nullptr};
    case FieldDescriptor::CPPTYPE_BOOL:
      return {"boolean", nullptr};
    case FieldDescriptor::CPPTYPE_ENUM:
      return {"text", f->enum_type()};
    case FieldDescriptor::CPPTYPE_STRING:
      return {f->type() == FieldDescriptor::TYPE_BYTES ? "hexBinary" : "text", nullptr};
    default:
      return {"text", nullptr};
  }
}

std::string CodeListOid(const EnumDescriptor* e) { return absl::StrCat("CL.", e->name()); }

// The metadata the clinical data uses, in order of first use.
class Metadata {
 public:
  void Use(absl::string_view kind, absl::string_view group, bool repeating, absl::string_view item,
           const ItemDef& def) {
    const std::string form = FormOid(kind);
    if (!forms_.count(form)) form_order_.push_back(form);
    AddUnique(&forms_[form], GroupOid(group));
    const std::string g = GroupOid(group);
    if (!groups_.count(g)) group_order_.push_back(g);
    Group& gi = groups_[g];
    gi.repeating = gi.repeating || repeating;
    gi.name = std::string(group);
    AddUnique(&gi.items, ItemOid(item));
    const std::string i = ItemOid(item);
    if (!items_.count(i)) item_order_.push_back(i);
    items_[i] = Item{std::string(item), def};
    if (def.enum_type != nullptr) enums_[CodeListOid(def.enum_type)] = def.enum_type;
  }

  void Write(XmlWriter& w, int version) const {
    if (version == 2) return Write2(w);
    w.Start("Protocol");
    w.Empty("StudyEventRef", {{"StudyEventOID", std::string(kStudyEventOid)}, {"OrderNumber", "1"},
                              {"Mandatory", "Yes"}});
    w.End();
    w.Start("StudyEventDef", {{"OID", std::string(kStudyEventOid)}, {"Name", "Ledger records"},
                              {"Repeating", "No"}, {"Type", "Common"}});
    Description(w, "Every record of a subject's ledger stream, in ledger order; FormRepeatKey is the "
                   "ledger index of the entry that created the record.");
    for (const std::string& f : form_order_) {
      w.Empty("FormRef", {{"FormOID", f}, {"Mandatory", "No"}});
    }
    w.End();
    for (const std::string& f : form_order_) {
      w.Start("FormDef", {{"OID", f}, {"Name", f.substr(2)}, {"Repeating", "Yes"}});
      for (const std::string& g : forms_.at(f)) {
        w.Empty("ItemGroupRef", {{"ItemGroupOID", g}, {"Mandatory", "No"}});
      }
      w.End();
    }
    for (const std::string& g : group_order_) {
      const Group& gi = groups_.at(g);
      w.Start("ItemGroupDef", {{"OID", g}, {"Name", gi.name}, {"Repeating", gi.repeating ? "Yes" : "No"}});
      for (const std::string& i : gi.items) w.Empty("ItemRef", {{"ItemOID", i}, {"Mandatory", "No"}});
      w.End();
    }
    WriteItemDefsAndCodeLists(w, "EnumeratedItem");
  }

  // ODM 2.0: forms are ItemGroupDefs of Type Form holding Section groups.
  void Write2(XmlWriter& w) const {
    w.Start("StudyEventDef", {{"OID", std::string(kStudyEventOid)}, {"Name", "Ledger records"},
                              {"Repeating", "No"}, {"Type", "Common"}});
    Description(w, "Every record of a subject's ledger stream, in ledger order; the form's ItemGroupRepeatKey is "
                   "the ledger index of the entry that created the record.", 2);
    for (const std::string& f : form_order_) {
      if (!subject_forms_.count(f)) continue;
      w.Empty("ItemGroupRef", {{"ItemGroupOID", f}, {"Mandatory", "No"}});
    }
    w.End();
    for (const std::string& f : form_order_) {
      w.Start("ItemGroupDef", {{"OID", f}, {"Name", f.substr(2)}, {"Repeating", "Simple"}, {"Type", "Form"}});
      for (const std::string& g : forms_.at(f)) w.Empty("ItemGroupRef", {{"ItemGroupOID", g}, {"Mandatory", "No"}});
      w.End();
    }
    for (const std::string& g : group_order_) {
      const Group& gi = groups_.at(g);
      w.Start("ItemGroupDef", {{"OID", g}, {"Name", gi.name}, {"Repeating", gi.repeating ? "Simple" : "No"},
                               {"Type", "Section"}});
      for (const std::string& i : gi.items) w.Empty("ItemRef", {{"ItemOID", i}, {"Mandatory", "No"}});
      w.End();
    }
    WriteItemDefsAndCodeLists(w, "CodeListItem");
  }

  // The ItemDefs and CodeLists, the same in both ODM versions but for the
  // element naming a code list's value (1.3: EnumeratedItem, 2.0:
  // CodeListItem).
  void WriteItemDefsAndCodeLists(XmlWriter& w, const std::string& code_list_item) const {
    for (const std::string& i : item_order_) {
      const Item& it = items_.at(i);
      w.Start("ItemDef", {{"OID", i}, {"Name", it.name}, {"DataType", it.def.data_type}});
      if (it.def.enum_type != nullptr) w.Empty("CodeListRef", {{"CodeListOID", CodeListOid(it.def.enum_type)}});
      w.End();
    }
    for (const auto& [oid, e] : enums_) {
      w.Start("CodeList", {{"OID", oid}, {"Name", e->name()}, {"DataType", "text"}});
      for (int v = 0; v < e->value_count(); ++v) w.Empty(code_list_item, {{"CodedValue", e->value(v)->name()}});
      w.End();
    }
  }

  // Marks a form as one of subject records (listed by the study event).
  void SubjectForm(absl::string_view kind) { subject_forms_.insert(FormOid(kind)); }

  static void Description(XmlWriter& w, absl::string_view text, int version = 1) {
    w.Start("Description");
    if (version == 2) {
      w.Element("TranslatedText", text, {{"xml:lang", "en"}, {"Type", "text/plain"}});
    } else {
      w.Element("TranslatedText", text, {{"xml:lang", "en"}});
    }
    w.End();
  }

 private:
  struct Group {
    std::string name;
    bool repeating = false;
    std::vector<std::string> items;
  };
  struct Item {
    std::string name;
    ItemDef def;
  };
  static void AddUnique(std::vector<std::string>* v, const std::string& s) {
    for (const std::string& x : *v) {
      if (x == s) return;
    }
    v->push_back(s);
  }

  std::vector<std::string> form_order_, group_order_, item_order_;
  std::map<std::string, std::vector<std::string>> forms_;
  std::map<std::string, Group> groups_;
  std::map<std::string, Item> items_;
  std::map<std::string, const EnumDescriptor*> enums_;
  std::set<std::string> subject_forms_;
};

struct RecordRef {
  std::string kind;
  uint64_t index = 0;
};

class OdmBuilder {
 public:
  OdmBuilder(const ExportInput& in, const OdmOptions& options, int version)
      : in_(in), options_(options), v2_(version == 2) {}

  absl::StatusOr<std::string> Build();

 private:
  std::string EditPoint(const ledger::ParsedEntry& e) const {
    if (ever_locked_before_[e.entry.index()]) return "DBAudit";
    switch (e.envelope.actor().role()) {
      case v1::ROLE_DATA_MANAGER:
      case v1::ROLE_EXTERNAL_SYSTEM:
      case v1::ROLE_SPONSOR_ADMIN:
        return "DataManagement";
      default:
        return "Monitoring";
    }
  }
  std::string DateTimeStamp(const ledger::ParsedEntry& e) const {
    return LocalTimestamp(e.entry.recorded_at_unix_micros(), e.envelope.observed_at().utc_offset_minutes());
  }
  std::string SourceId(const ledger::ParsedEntry& e) const {
    return absl::StrCat("trialog:", in_.checkpoint.origin, ";entry=", e.entry.index(), ";leaf=",
                        HexEncode(e.leaf_hash));
  }
  // 1.3.2: first child of its element, may carry an ID. 2.0: after the
  // element's data, no ID, UsedMethod for UsedImputationMethod.
  void Audit(XmlWriter& w, const ledger::ParsedEntry& e, absl::string_view reason, absl::string_view id = "") {
    if (v2_) {
      w.Start("AuditRecord", {{"EditPoint", EditPoint(e)}, {"UsedMethod", "No"}});
    } else {
      w.Start("AuditRecord", {{"EditPoint", EditPoint(e)}, {"UsedImputationMethod", "No"},
                              {"ID", std::string(id), true}});
    }
    w.Empty("UserRef", {{"UserOID", UserOid(e.envelope.actor().principal_id())}});
    w.Empty("LocationRef", {{"LocationOID", LocationOf(e.envelope.actor())}});
    w.Element("DateTimeStamp", DateTimeStamp(e));
    if (!reason.empty()) w.Element("ReasonForChange", reason);
    w.Element("SourceID", SourceId(e));
    w.End();
  }
  void Item(XmlWriter& w, const ledger::ParsedEntry& e, absl::string_view item, absl::string_view value,
            absl::string_view transaction, absl::string_view reason) {
    if (v2_) {
      w.Start("ItemData", {{"ItemOID", ItemOid(item)}, {"TransactionType", std::string(transaction)}});
      w.Element("Value", value, {{"SeqNum", "1"}});
    } else {
      w.Start("ItemData", {{"ItemOID", ItemOid(item)}, {"TransactionType", std::string(transaction)},
                           {"Value", std::string(value)}});
    }
    Audit(w, e, reason);
    w.End();
  }
  // The form of a record: FormData (1.3.2) or a Form item group (2.0).
  void StartForm(XmlWriter& w, absl::string_view kind, uint64_t index, absl::string_view transaction = "") {
    if (v2_) {
      w.Start("ItemGroupData", {{"ItemGroupOID", FormOid(kind)}, {"ItemGroupRepeatKey", absl::StrCat(index)},
                                {"TransactionType", std::string(transaction), true}});
    } else {
      w.Start("FormData", {{"FormOID", FormOid(kind)}, {"FormRepeatKey", absl::StrCat(index)},
                           {"TransactionType", std::string(transaction), true}});
    }
  }
  void Signature(XmlWriter& w, const ledger::ParsedEntry& e, const trial::SignatureDef& def,
                 const v1::ESignature& sig, int n, absl::string_view record_hash) {
    w.Start("Signature", {{"ID", absl::StrCat("SG.", e.entry.index(), ".", n)}});
    w.Empty("UserRef", {{"UserOID", UserOid(e.envelope.actor().principal_id())}});
    w.Empty("LocationRef", {{"LocationOID", LocationOf(e.envelope.actor())}});
    w.Empty("SignatureRef", {{"SignatureOID", std::string(def.oid)}});
    w.Element("DateTimeStamp", DateTimeStamp(e));
    w.End();
    const std::string text = absl::StrCat(
        "Signature manifestation: ", sig.printed_name(), ", ", DateTimeStamp(e), ", ", def.meaning_word, " (",
        def.oid, "): \"", sig.meaning_text(), "\". Ed25519-signed ledger entry ", e.entry.index(), " (", SourceId(e),
        ")", record_hash.empty() ? "" : absl::StrCat(" over record version ", HexEncode(record_hash)), ".");
    w.Start("Annotation", {{"SeqNum", "1"}});
    if (v2_) {
      w.Start("Comment");
      w.Element("TranslatedText", text, {{"xml:lang", "en"}, {"Type", "text/plain"}});
      w.End();
    } else {
      w.Element("Comment", text);
    }
    w.End();
  }
  // Every value of `message` (flattened from `root`) as inserted items of
  // form `kind`, grouped by item group in order of first appearance.
  void Values(XmlWriter& w, const ledger::ParsedEntry& e, absl::string_view kind,
              const google::protobuf::Message& message) {
    std::vector<std::pair<std::string, std::string>> order;
    std::map<std::pair<std::string, std::string>, std::vector<EventField>> by_group;
    for (EventField& f : Flatten(message)) {
      auto k = std::make_pair(f.address.group, f.address.repeat_key);
      if (!by_group.count(k)) order.push_back(k);
      by_group[k].push_back(std::move(f));
    }
    for (const auto& k : order) {
      w.Start("ItemGroupData", {{"ItemGroupOID", GroupOid(k.first)}, {"ItemGroupRepeatKey", k.second, true}});
      for (const EventField& f : by_group[k]) {
        meta_.Use(kind, f.address.group, !f.address.repeat_key.empty(), f.address.item, DefFor(f.descriptor));
        inserted_.insert(absl::StrCat(kind, "|", e.entry.index(), "|", f.address.group, "|", f.address.repeat_key,
                                      "|", f.address.item));
        Item(w, e, f.address.item, f.value, "Insert", e.envelope.reason());
      }
      w.End();
    }
  }

  absl::Status WriteSubject(XmlWriter& w, const std::string& subject,
                            const std::vector<const ledger::ParsedEntry*>& entries);
  absl::Status WriteEntry(XmlWriter& w, const ledger::ParsedEntry& e);
  void WriteTrialLevel(XmlWriter& w, const ledger::ParsedEntry& e);
  void WriteAdminData(XmlWriter& w);

  const ExportInput& in_;
  const OdmOptions& options_;
  const bool v2_;
  std::vector<bool> ever_locked_before_;
  std::map<std::string, RecordRef> records_;  // event id -> record
  std::set<std::string> inserted_;            // form|key|group|gkey|item
  Metadata meta_;
  std::map<std::string, std::string> sites_;  // site id -> first activation date
};

absl::Status OdmBuilder::WriteEntry(XmlWriter& w, const ledger::ParsedEntry& e) {
  const v1::TrialEvent& t = e.envelope.event().trial();
  const std::string kind = TrialKind(t);
  const std::string index = absl::StrCat(e.entry.index());
  auto target = [&](const std::string& event_id) -> absl::StatusOr<RecordRef> {
    auto it = records_.find(event_id);
    if (it == records_.end()) {
      return absl::FailedPreconditionError(absl::StrCat("entry ", e.entry.index(), " refers to event ",
                                                        HexEncode(event_id), ", which is not a record of ",
                                                        e.envelope.stream_id()));
    }
    return it->second;
  };

  if (t.has_data_corrected()) {
    const v1::DataCorrected& c = t.data_corrected();
    absl::StatusOr<RecordRef> r = target(c.target_event_id());
    if (!r.ok()) return r.status();
    absl::StatusOr<FieldAddress> a = AddressOf(c.field_path());
    if (!a.ok()) return a.status();
    const FieldDescriptor* f = FieldOfItem(a->item);
    if (f == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("entry ", index, ": field path ", c.field_path(),
                                                        " names no field"));
    }
    meta_.Use(r->kind, a->group, !a->repeat_key.empty(), a->item, DefFor(f));
    const std::string key = absl::StrCat(r->kind, "|", r->index, "|", a->group, "|", a->repeat_key, "|", a->item);
    const bool existed = inserted_.count(key) > 0;
    inserted_.insert(key);
    std::string reason = v1::CorrectionReason_Name(c.reason_code());
    if (!e.envelope.reason().empty()) absl::StrAppend(&reason, ": ", e.envelope.reason());
    if (!c.query_id().empty()) absl::StrAppend(&reason, " (query ", c.query_id(), ")");
    w.Start("StudyEventData", {{"StudyEventOID", std::string(kStudyEventOid)}});
    StartForm(w, r->kind, r->index);
    w.Start("ItemGroupData", {{"ItemGroupOID", GroupOid(a->group)}, {"ItemGroupRepeatKey", a->repeat_key, true}});
    Item(w, e, a->item, c.new_value(), existed ? "Update" : "Insert", reason);
    w.End();
    w.End();
    w.End();
    return absl::OkStatus();
  }
  if (t.has_event_voided()) {
    absl::StatusOr<RecordRef> r = target(t.event_voided().target_event_id());
    if (!r.ok()) return r.status();
    w.Start("StudyEventData", {{"StudyEventOID", std::string(kStudyEventOid)}});
    StartForm(w, r->kind, r->index, "Remove");
    Audit(w, e, absl::StrCat("Entered in error (voided): ", e.envelope.reason()));
    w.End();
    w.End();
    return absl::OkStatus();
  }
  if (t.has_e_signature()) {
    const v1::ESignature& sig = t.e_signature();
    const trial::SignatureDef* def = trial::FindSignatureDef(sig.meaning());
    if (def == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("entry ", index, ": unknown signature meaning"));
    }
    w.Start("StudyEventData", {{"StudyEventOID", std::string(kStudyEventOid)}});
    if (sig.meaning() == v1::SIG_CASEBOOK) {
      // The whole casebook: the signature applies at the subject's event level.
      Signature(w, e, *def, sig, 1, sig.records_size() > 0 ? sig.records(0).record_hash() : "");
    } else {
      int n = 0;
      for (const v1::SignedRecord& rec : sig.records()) {
        absl::StatusOr<RecordRef> r = target(rec.event_id());
        if (!r.ok()) return r.status();
        StartForm(w, r->kind, r->index);
        Signature(w, e, *def, sig, ++n, rec.record_hash());
        w.End();
      }
    }
    w.End();
    return absl::OkStatus();
  }

  // A new record: when it was observed, its event id, and every value.
  records_[e.envelope.event_id()] = RecordRef{kind, e.entry.index()};
  meta_.SubjectForm(kind);
  w.Start("StudyEventData", {{"StudyEventOID", std::string(kStudyEventOid)}});
  StartForm(w, kind, e.entry.index());
  meta_.Use(kind, kRecordGroup, false, kObservedItem, {"datetime", nullptr});
  meta_.Use(kind, kRecordGroup, false, kEventIdItem, {"hexBinary", nullptr});
  w.Start("ItemGroupData", {{"ItemGroupOID", GroupOid(kRecordGroup)}});
  Item(w, e, kObservedItem,
       LocalTimestamp(e.envelope.observed_at().unix_micros(), e.envelope.observed_at().utc_offset_minutes()),
       "Insert", e.envelope.reason());
  Item(w, e, kEventIdItem, HexEncode(e.envelope.event_id()), "Insert", e.envelope.reason());
  w.End();
  Values(w, e, kind, t);
  w.End();
  w.End();
  return absl::OkStatus();
}

// ODM 2.0 only: a trial-level or administrative entry as a ClinicalData-
// level item group (kind "trial.<event>" or the ledger event's name).
void OdmBuilder::WriteTrialLevel(XmlWriter& w, const ledger::ParsedEntry& e) {
  const v1::Event& ev = e.envelope.event();
  const std::string kind = EventKind(ev);
  StartForm(w, kind, e.entry.index());
  meta_.Use(kind, kRecordGroup, false, kObservedItem, {"datetime", nullptr});
  meta_.Use(kind, kRecordGroup, false, kEventIdItem, {"hexBinary", nullptr});
  w.Start("ItemGroupData", {{"ItemGroupOID", GroupOid(kRecordGroup)}});
  Item(w, e, kObservedItem,
       LocalTimestamp(e.envelope.observed_at().unix_micros(), e.envelope.observed_at().utc_offset_minutes()),
       "Insert", e.envelope.reason());
  Item(w, e, kEventIdItem, HexEncode(e.envelope.event_id()), "Insert", e.envelope.reason());
  w.End();
  // Items are named from the Event (trial events from their TrialEvent).
  if (ev.has_trial()) {
    Values(w, e, kind, ev.trial());
  } else {
    // Flatten from Event: descriptors for ItemDefs come with each value.
    Values(w, e, kind, ev);
  }
  w.End();
}

absl::Status OdmBuilder::WriteSubject(XmlWriter& w, const std::string& subject,
                                      const std::vector<const ledger::ParsedEntry*>& entries) {
  const ledger::ParsedEntry& first = *entries.front();
  w.Start("SubjectData", {{"SubjectKey", subject}, {"TransactionType", "Insert"}});
  if (!v2_) Audit(w, first, first.envelope.reason());
  std::string site;
  if (first.envelope.event().trial().has_subject_registered()) {
    site = first.envelope.event().trial().subject_registered().site_id();
  }
  if (site.empty()) site = first.envelope.actor().site_id();
  if (!site.empty()) w.Empty("SiteRef", {{"LocationOID", SiteOid(site)}});
  for (const ledger::ParsedEntry* e : entries) {
    if (absl::Status s = WriteEntry(w, *e); !s.ok()) return s;
  }
  if (v2_) Audit(w, first, first.envelope.reason());
  w.End();
  return absl::OkStatus();
}

void OdmBuilder::WriteAdminData(XmlWriter& w) {
  const std::string genesis_date =
      LocalDate(in_.entries.front().entry.recorded_at_unix_micros(),
                in_.entries.front().envelope.observed_at().utc_offset_minutes());
  // Locations: activated sites, principals' sites, sponsor, external systems.
  std::map<std::string, std::pair<std::string, std::string>> locations;  // oid -> (name, type)
  std::map<std::string, std::string> effective;                         // oid -> date
  locations[std::string(kSponsorLocation)] = {"Sponsor", "Sponsor"};
  for (const auto& [site, date] : sites_) {
    locations[SiteOid(site)] = {absl::StrCat("Site ", site), "Site"};
    effective[SiteOid(site)] = date;
  }
  for (const auto& [id, p] : in_.registry.principals()) {
    v1::Actor a;
    a.set_principal_id(id);
    a.set_role(p.role);
    a.set_site_id(p.site_id);
    const std::string loc = LocationOf(a);
    if (!locations.count(loc)) {
      locations[loc] = p.role == v1::ROLE_EXTERNAL_SYSTEM
                           ? std::make_pair(p.printed_name, std::string("Lab"))
                           : std::make_pair(absl::StrCat("Site ", p.site_id), std::string("Site"));
    }
  }
  w.Start("AdminData", {{"StudyOID", absl::StrCat("ST.", in_.trial_id)}});
  for (const auto& [id, p] : in_.registry.principals()) {
    v1::Actor a;
    a.set_principal_id(id);
    a.set_role(p.role);
    a.set_site_id(p.site_id);
    if (v2_) {
      w.Start("User", {{"OID", UserOid(id)}, {"UserType", UserType(p.role)}, {"LocationOID", LocationOf(a)}});
      w.Element("UserName", id);
      w.Element("FullName", p.printed_name);
    } else {
      w.Start("User", {{"OID", UserOid(id)}, {"UserType", UserType(p.role)}});
      w.Element("LoginName", id);
      w.Element("FullName", p.printed_name);
      w.Element("Organization", p.site_id.empty() ? "Sponsor" : absl::StrCat("Site ", p.site_id));
      w.Empty("LocationRef", {{"LocationOID", LocationOf(a)}});
    }
    w.End();
  }
  for (const auto& [oid, nt] : locations) {
    if (v2_) {
      w.Start("Location", {{"OID", oid}, {"Name", nt.first}, {"Role", nt.second}});
    } else {
      w.Start("Location", {{"OID", oid}, {"Name", nt.first}, {"LocationType", nt.second}});
    }
    auto it = effective.find(oid);
    w.Empty("MetaDataVersionRef", {{"StudyOID", absl::StrCat("ST.", in_.trial_id)},
                                   {"MetaDataVersionOID", std::string(kMetaDataVersionOid)},
                                   {"EffectiveDate", it == effective.end() ? genesis_date : it->second}});
    w.End();
  }
  for (const trial::SignatureDef& def : trial::SignatureCatalogue()) {
    w.Start("SignatureDef", {{"OID", std::string(def.oid)}, {"Methodology", "Digital"}});
    w.Element("Meaning", def.meaning_word);
    w.Element("LegalReason", def.legal_text);
    w.End();
  }
  w.End();
}

absl::StatusOr<std::string> OdmBuilder::Build() {
  const int64_t last_recorded = in_.entries.back().entry.recorded_at_unix_micros();
  const int64_t created = options_.creation_unix_micros != 0 ? options_.creation_unix_micros
                                                             : absl::ToUnixMicros(absl::Now());
  if (created < last_recorded) {
    return absl::InvalidArgumentError(absl::StrCat("ODM creation time ", UtcTimestamp(created),
                                                   " precedes the last entry (", UtcTimestamp(last_recorded), ")"));
  }
  // Pre-pass: lock history, sites, subjects.
  ever_locked_before_.assign(in_.entries.size(), false);
  bool locked = false;
  std::map<std::string, std::vector<const ledger::ParsedEntry*>> subjects;
  std::vector<const ledger::ParsedEntry*> trial_level;
  for (const ledger::ParsedEntry& e : in_.entries) {
    ever_locked_before_[e.entry.index()] = locked;
    const v1::Event& ev = e.envelope.event();
    if (ev.has_trial() && ev.trial().has_database_locked()) locked = true;
    if (ev.has_trial() && ev.trial().has_site_activated()) {
      const std::string& site = ev.trial().site_activated().site_id();
      if (!sites_.count(site)) {
        sites_[site] = LocalDate(e.entry.recorded_at_unix_micros(), e.envelope.observed_at().utc_offset_minutes());
      }
    }
    const std::string subject = SubjectOfStream(e.envelope.stream_id());
    if (!subject.empty() && ev.has_trial()) {
      subjects[subject].push_back(&e);
    } else {
      trial_level.push_back(&e);
    }
  }
  if (!options_.subject_id.empty() && !subjects.count(options_.subject_id)) {
    return absl::InvalidArgumentError(absl::StrCat("no subject ", options_.subject_id, " in this ledger"));
  }

  XmlWriter clinical(/*fragment=*/true, 1);
  clinical.Start("ClinicalData", {{"StudyOID", absl::StrCat("ST.", in_.trial_id)},
                                  {"MetaDataVersionOID", std::string(kMetaDataVersionOid)}});
  for (const auto& [subject, entries] : subjects) {
    if (!options_.subject_id.empty() && subject != options_.subject_id) continue;
    if (absl::Status s = WriteSubject(clinical, subject, entries); !s.ok()) return s;
  }
  if (v2_) {
    // Trial-level and administrative entries: study-level item groups with
    // their values and audit records (2.0 has no AuditRecords container).
    for (const ledger::ParsedEntry* e : trial_level) WriteTrialLevel(clinical, *e);
  } else {
    // Trial-level and administrative entries: audit records of the study.
    clinical.Start("AuditRecords");
    for (const ledger::ParsedEntry* e : trial_level) {
      std::string what = absl::StrCat(EventKind(e->envelope.event()), ": ", EventSummary(e->envelope.event()));
      if (!e->envelope.reason().empty()) absl::StrAppend(&what, "; reason: ", e->envelope.reason());
      Audit(clinical, *e, what, absl::StrCat("AR.", e->entry.index()));
    }
    clinical.End();
  }
  clinical.End();

  const std::string description =
      absl::StrCat("trialog export of ledger ", in_.checkpoint.origin, " at checkpoint size ", in_.checkpoint.size,
                   ", root ", Base64Encode(in_.checkpoint.root_hash),
                   ". The signed ledger entries are the authoritative record; every AuditRecord's SourceID names "
                   "its entry and leaf hash.");
  const std::string file_oid = options_.file_oid.empty()
                                   ? absl::StrCat("trialog.", in_.trial_id, ".", in_.checkpoint.size)
                                   : options_.file_oid;
  const std::string granularity = options_.subject_id.empty() ? "All" : "SingleSubject";
  const v1::ProtocolDefinition* protocol = in_.state->protocol();
  const std::string protocol_name = protocol != nullptr ? protocol->protocol_id() : in_.trial_id;
  const std::string mdv_description =
      absl::StrCat("Items of every event kind recorded in the ledger, as protocol ", protocol_name, " versions 1..",
                   protocol != nullptr ? protocol->version() : 0, " define them");
  XmlWriter w;
  if (v2_) {
    w.Start("ODM", {{"xmlns", "http://www.cdisc.org/ns/odm/v2.0"},
                    {"FileType", "Transactional"},
                    {"Granularity", granularity},
                    {"Context", "Archive"},
                    {"FileOID", file_oid},
                    {"CreationDateTime", UtcTimestamp(created)},
                    {"AsOfDateTime", UtcTimestamp(last_recorded)},
                    {"ODMVersion", "2.0"},
                    {"Originator", "trialog"},
                    {"SourceSystem", "trialog"},
                    {"SourceSystemVersion", "0.1.0"}});
    Metadata::Description(w, description, 2);
    w.Start("Study", {{"OID", absl::StrCat("ST.", in_.trial_id)},
                      {"StudyName", in_.trial_id},
                      {"ProtocolName", protocol_name}});
    Metadata::Description(w, in_.trial_title.empty() ? in_.trial_id : in_.trial_title, 2);
    w.Start("MetaDataVersion", {{"OID", std::string(kMetaDataVersionOid)}, {"Name", "trialog ledger records"}});
    Metadata::Description(w, mdv_description, 2);
  } else {
    w.Start("ODM", {{"xmlns", "http://www.cdisc.org/ns/odm/v1.3"},
                    {"Description", description},
                    {"FileType", "Transactional"},
                    {"Granularity", granularity},
                    {"Archival", "Yes"},
                    {"FileOID", file_oid},
                    {"CreationDateTime", UtcTimestamp(created)},
                    {"AsOfDateTime", UtcTimestamp(last_recorded)},
                    {"ODMVersion", "1.3.2"},
                    {"Originator", "trialog"},
                    {"SourceSystem", "trialog"},
                    {"SourceSystemVersion", "0.1.0"}});
    w.Start("Study", {{"OID", absl::StrCat("ST.", in_.trial_id)}});
    w.Start("GlobalVariables");
    w.Element("StudyName", in_.trial_id);
    w.Element("StudyDescription", in_.trial_title);
    w.Element("ProtocolName", protocol_name);
    w.End();
    w.Start("MetaDataVersion", {{"OID", std::string(kMetaDataVersionOid)},
                                {"Name", "trialog ledger records"},
                                {"Description", mdv_description}});
  }
  meta_.Write(w, v2_ ? 2 : 1);
  w.End();
  w.End();
  WriteAdminData(w);
  std::string doc = w.Release();
  doc += clinical.Release();
  doc += "</ODM>\n";
  return doc;
}

}  // namespace

std::string UserOid(absl::string_view principal_id) { return absl::StrCat("USR.", principal_id); }

absl::StatusOr<std::string> WriteOdm132(const ExportInput& input, const OdmOptions& options) {
  OdmBuilder b(input, options, 1);
  return b.Build();
}

absl::StatusOr<std::string> WriteOdm20(const ExportInput& input, const OdmOptions& options) {
  OdmBuilder b(input, options, 2);
  return b.Build();
}

}  // namespace trialog::exporter
