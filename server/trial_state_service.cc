#include "server/trial_state_service.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/ledger/entry.h"
#include "core/trial/replay.h"
#include "core/util/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "server/status_util.h"

namespace trialog::server {
namespace {

constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;
constexpr uint64_t kMinSnapshotEvery = 256;
constexpr size_t kMaxSnapshots = 64;
constexpr size_t kRecentStates = 4;

// The entries of one TrialLedger, frozen at `size` (so a replay sees one
// consistent prefix while appends go on).
class LedgerEntrySource : public trial::EntrySource {
 public:
  LedgerEntrySource(std::shared_ptr<TrialLedger> ledger, uint64_t size)
      : ledger_(std::move(ledger)), size_(size) {}
  uint64_t size() const override { return size_; }
  absl::StatusOr<ledger::ParsedEntry> Read(uint64_t index) const override {
    if (index >= size_) {
      return absl::NotFoundError(absl::StrCat("entry ", index, " is past the end (size ", size_, ")"));
    }
    TRIALOG_ASSIGN_OR_RETURN(std::string bytes, ledger_->ReadEntry(index));
    return ledger::ParseEntry(bytes);
  }

 private:
  std::shared_ptr<TrialLedger> ledger_;
  uint64_t size_;
};

const trial::TrialStateMachine* FindTrialMachine(
    const std::vector<std::unique_ptr<ledger::StateMachine>>& machines) {
  for (const auto& m : machines) {
    if (const auto* t = dynamic_cast<const trial::TrialStateMachine*>(m.get())) return t;
  }
  return nullptr;
}

// The oneof field name of `message`'s `kind` ("" when unset).
std::string KindName(const google::protobuf::Message& message, int kind_case) {
  const google::protobuf::FieldDescriptor* f = message.GetDescriptor()->FindFieldByNumber(kind_case);
  return f == nullptr ? "" : f->name();
}

// History page tokens: "h1.<next entry index>.<last index of the state>".
std::string PageToken(uint64_t next_index, uint64_t last_index) {
  return absl::StrCat("h1.", next_index, ".", last_index);
}

absl::Status ParsePageToken(absl::string_view token, uint64_t* next_index, uint64_t* last_index) {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3 || parts[0] != "h1" || !absl::SimpleAtoi(parts[1], next_index) ||
      !absl::SimpleAtoi(parts[2], last_index) || *next_index > *last_index) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_token \"", token, "\" is malformed (use a next_page_token as it was returned)"));
  }
  return absl::OkStatus();
}

}  // namespace

struct TrialStateAt::Live {
  uint64_t size = 0;  // entries folded in
  trial::TrialView view;
  v1::TrialSummary summary;
};

struct TrialStateServiceImpl::TrialCache {
  std::weak_ptr<TrialLedger> ledger;  // the cache is valid for this ledger only
  absl::Mutex mu;
  std::shared_ptr<const TrialStateAt::Live> live ABSL_GUARDED_BY(mu);
  // Replay snapshots (TrialStateMachine::Snapshot()) by last entry index.
  std::map<uint64_t, std::shared_ptr<const std::string>> snapshots ABSL_GUARDED_BY(mu);
  // The last replayed states (most recent last), by last entry index.
  std::deque<std::shared_ptr<const trial::TrialStateMachine>> recent ABSL_GUARDED_BY(mu);
};

TrialStateServiceImpl::~TrialStateServiceImpl() = default;

absl::StatusOr<v1::SubjectState> TrialStateAt::Subject(absl::string_view subject_id) const {
  if (live_ != nullptr) {
    const v1::SubjectState* s = live_->view.Subject(subject_id);
    if (s == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no subject ", subject_id, " (as of entry ", last_index_, ")"));
    }
    return *s;
  }
  absl::StatusOr<v1::SubjectState> s = replayed_->Subject(subject_id);
  if (!s.ok()) {
    return absl::NotFoundError(
        absl::StrCat("no subject ", subject_id, " (as of entry ", last_index_, ")"));
  }
  return s;
}

std::vector<std::string> TrialStateAt::SubjectIds() const {
  if (live_ == nullptr) return replayed_->SubjectIds();
  std::vector<std::string> ids;
  ids.reserve(live_->view.subjects.size());
  for (const auto& entry : live_->view.subjects) ids.push_back(entry.first);
  return ids;
}

v1::TrialSummary TrialStateAt::Summary() const {
  return live_ != nullptr ? live_->summary : replayed_->Summary();
}

absl::StatusOr<std::shared_ptr<TrialStateServiceImpl::TrialCache>> TrialStateServiceImpl::CacheFor(
    const std::shared_ptr<TrialLedger>& ledger) const {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<TrialCache>& cache = caches_[ledger->trial_id()];
  if (cache == nullptr || cache->ledger.lock() != ledger) {
    cache = std::make_shared<TrialCache>();
    cache->ledger = ledger;
  }
  return cache;
}

absl::StatusOr<TrialStateAt> TrialStateServiceImpl::LiveState(
    const std::shared_ptr<TrialLedger>& ledger, TrialCache* cache) const {
  std::shared_ptr<const TrialStateAt::Live> live;
  {
    absl::MutexLock lock(&cache->mu);
    live = cache->live;
  }
  if (live == nullptr || live->size != ledger->size()) {
    // The only time spent under the ledger's state lock: the view's copy.
    std::optional<trial::TrialView> view = ledger->ReadDomain(
        [](const std::vector<std::unique_ptr<ledger::StateMachine>>& machines)
            -> std::optional<trial::TrialView> {
          const trial::TrialStateMachine* m = FindTrialMachine(machines);
          if (m == nullptr) return std::nullopt;
          return m->View();
        });
    if (!view.has_value()) {
      return absl::UnimplementedError(
          absl::StrCat("trial ", ledger->trial_id(), " keeps no live trial state machine"));
    }
    if (!view->has_applied) {
      return absl::NotFoundError(absl::StrCat("trial ", ledger->trial_id(), " has no entries"));
    }
    auto fresh = std::make_shared<TrialStateAt::Live>();
    fresh->size = view->last_index + 1;
    fresh->view = *std::move(view);
    fresh->summary = fresh->view.Summary();
    {
      absl::MutexLock lock(&cache->mu);
      if (cache->live == nullptr || cache->live->size < fresh->size) cache->live = fresh;
    }
    live = std::move(fresh);
  }
  TrialStateAt at;
  at.last_index_ = live->view.last_index;
  at.live_ = std::move(live);
  return at;
}

absl::StatusOr<TrialStateAt> TrialStateServiceImpl::Replay(
    const std::shared_ptr<TrialLedger>& ledger, TrialCache* cache, uint64_t size,
    uint64_t last_index) const {
  LedgerEntrySource source(ledger, size);
  std::map<uint64_t, std::string> start;  // the nearest snapshot, if any
  {
    absl::MutexLock lock(&cache->mu);
    for (const auto& state : cache->recent) {
      if (state->last_index() == last_index) {
        TrialStateAt at;
        at.last_index_ = last_index;
        at.replayed_ = state;
        return at;
      }
    }
    auto it = cache->snapshots.upper_bound(last_index);
    if (it != cache->snapshots.begin()) {
      --it;
      start.emplace(it->first, *it->second);
    }
  }
  std::map<uint64_t, std::string> made;
  trial::ReplayOptions options;
  options.snapshots = &start;
  options.snapshots_out = &made;
  options.snapshot_every = std::max<uint64_t>(kMinSnapshotEvery, size / 16);
  TRIALOG_ASSIGN_OR_RETURN(std::unique_ptr<trial::TrialStateMachine> replayed,
                           trial::StateAsOfEntry(source, last_index, options));
  std::shared_ptr<const trial::TrialStateMachine> machine = std::move(replayed);
  {
    absl::MutexLock lock(&cache->mu);
    cache->recent.push_back(machine);
    if (cache->recent.size() > kRecentStates) cache->recent.pop_front();
    for (auto& [index, bytes] : made) {
      if (cache->snapshots.size() >= kMaxSnapshots) break;
      cache->snapshots.emplace(index, std::make_shared<const std::string>(std::move(bytes)));
    }
  }
  TrialStateAt at;
  at.last_index_ = last_index;
  at.replayed_ = std::move(machine);
  return at;
}

absl::StatusOr<TrialStateAt> TrialStateServiceImpl::StateAtIndexIn(
    const std::shared_ptr<TrialLedger>& ledger, uint64_t last_index) const {
  TRIALOG_ASSIGN_OR_RETURN(std::shared_ptr<TrialCache> cache, CacheFor(ledger));
  absl::StatusOr<TrialStateAt> live = LiveState(ledger, cache.get());
  if (live.ok() && live->last_index() == last_index) return live;
  if (!live.ok() && live.status().code() != absl::StatusCode::kUnimplemented) {
    return live.status();
  }
  const uint64_t size = ledger->size();
  if (last_index >= size) {
    return absl::OutOfRangeError(absl::StrCat("as_of_index ", last_index,
                                              " is past the end of trial ", ledger->trial_id(),
                                              " (size ", size, ")"));
  }
  return Replay(ledger, cache.get(), size, last_index);
}

absl::StatusOr<TrialStateAt> TrialStateServiceImpl::StateAtIndex(absl::string_view trial_id,
                                                                 uint64_t last_index) const {
  TRIALOG_ASSIGN_OR_RETURN(std::shared_ptr<TrialLedger> ledger, ledgers_->Find(trial_id));
  return StateAtIndexIn(ledger, last_index);
}

absl::StatusOr<TrialStateAt> TrialStateServiceImpl::StateOf(absl::string_view trial_id,
                                                            const v1::AsOf& as_of) const {
  if (as_of.has_as_of_index() && as_of.has_as_of_time_unix_micros()) {
    return absl::InvalidArgumentError("set at most one of as_of_index and as_of_time_unix_micros");
  }
  TRIALOG_ASSIGN_OR_RETURN(std::shared_ptr<TrialLedger> ledger, ledgers_->Find(trial_id));
  const uint64_t size = ledger->size();
  if (size == 0) return absl::NotFoundError(absl::StrCat("trial ", trial_id, " has no entries"));
  if (as_of.has_as_of_time_unix_micros()) {
    LedgerEntrySource source(ledger, size);
    TRIALOG_ASSIGN_OR_RETURN(uint64_t last,
                             trial::LastEntryAtOrBefore(source, as_of.as_of_time_unix_micros()));
    return StateAtIndexIn(ledger, last);
  }
  if (as_of.has_as_of_index()) {
    if (as_of.as_of_index() >= size) {
      return absl::OutOfRangeError(absl::StrCat("as_of_index ", as_of.as_of_index(),
                                                " is past the end of trial ", trial_id, " (size ",
                                                size, ")"));
    }
    return StateAtIndexIn(ledger, as_of.as_of_index());
  }
  TRIALOG_ASSIGN_OR_RETURN(std::shared_ptr<TrialCache> cache, CacheFor(ledger));
  absl::StatusOr<TrialStateAt> live = LiveState(ledger, cache.get());
  if (live.ok() || live.status().code() != absl::StatusCode::kUnimplemented) return live;
  return Replay(ledger, cache.get(), size, size - 1);  // no live machine: replay it all
}

absl::StatusOr<v1::GetSubjectHistoryResponse> TrialStateServiceImpl::History(
    const v1::GetSubjectHistoryRequest& request) const {
  const std::string stream = absl::StrCat("subject/", request.subject_id());
  TRIALOG_RETURN_IF_ERROR(trial::SubjectIdFromStream(stream).status());
  if (request.page_size() > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size ", request.page_size(), " is above the maximum ", kMaxPageSize));
  }
  const uint32_t page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  TRIALOG_ASSIGN_OR_RETURN(std::shared_ptr<TrialLedger> ledger,
                           ledgers_->Find(request.trial_id()));
  uint64_t from_index = 0;
  std::optional<TrialStateAt> state;
  if (!request.page_token().empty()) {
    uint64_t last = 0;
    TRIALOG_RETURN_IF_ERROR(ParsePageToken(request.page_token(), &from_index, &last));
    if (last >= ledger->size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "page_token names entry ", last, " but trial ", request.trial_id(), " has ",
          ledger->size(), " entries (a token of another trial?)"));
    }
    TRIALOG_ASSIGN_OR_RETURN(state, StateAtIndexIn(ledger, last));
  } else {
    TRIALOG_ASSIGN_OR_RETURN(state, StateOf(request.trial_id(), request.as_of()));
  }
  const uint64_t last_index = state->last_index();

  TRIALOG_ASSIGN_OR_RETURN(std::vector<uint64_t> indexes, ledger->StreamIndexes(stream));
  indexes.erase(std::upper_bound(indexes.begin(), indexes.end(), last_index), indexes.end());
  if (indexes.empty()) {
    return absl::NotFoundError(absl::StrCat("no subject ", request.subject_id(), " in trial ",
                                            request.trial_id(), " (as of entry ", last_index, ")"));
  }
  // Every entry of the subject up to last_index: what later entries did to
  // a record on this page may be on a later page.
  std::vector<ledger::ParsedEntry> entries;
  entries.reserve(indexes.size());
  std::map<std::string, size_t> by_event_id;  // -> position in entries
  for (uint64_t index : indexes) {
    TRIALOG_ASSIGN_OR_RETURN(std::string bytes, ledger->ReadEntry(index));
    TRIALOG_ASSIGN_OR_RETURN(ledger::ParsedEntry parsed, ledger::ParseEntry(bytes));
    by_event_id.emplace(parsed.envelope.event_id(), entries.size());
    entries.push_back(std::move(parsed));
  }
  std::map<std::string, v1::SignatureState> signatures;  // by signature event id
  if (absl::StatusOr<v1::SubjectState> subject = state->Subject(request.subject_id()); subject.ok()) {
    for (const v1::SignatureState& s : subject->signatures()) signatures[s.event_id()] = s;
  }

  v1::GetSubjectHistoryResponse response;
  response.set_last_index(last_index);
  response.set_total_entries(entries.size());
  std::vector<v1::SubjectHistoryEntry> out(entries.size());
  auto target_of = [&](const std::string& event_id) -> const ledger::ParsedEntry* {
    auto it = by_event_id.find(event_id);
    return it == by_event_id.end() ? nullptr : &entries[it->second];
  };
  auto type_of = [](const ledger::ParsedEntry& e) {
    return e.envelope.event().has_trial()
               ? KindName(e.envelope.event().trial(), e.envelope.event().trial().kind_case())
               : KindName(e.envelope.event(), e.envelope.event().kind_case());
  };
  google::protobuf::util::JsonPrintOptions json_options;
  json_options.preserve_proto_field_names = true;
  for (size_t i = 0; i < entries.size(); ++i) {
    const ledger::ParsedEntry& e = entries[i];
    const v1::Envelope& env = e.envelope;
    v1::SubjectHistoryEntry& h = out[i];
    h.set_index(e.entry.index());
    h.set_recorded_at_unix_micros(e.entry.recorded_at_unix_micros());
    h.set_observed_at_unix_micros(env.observed_at().unix_micros());
    h.set_observed_utc_offset_minutes(env.observed_at().utc_offset_minutes());
    h.set_event_id(env.event_id());
    h.set_leaf_hash(e.leaf_hash);
    h.set_stream_version(e.entry.stream_version());
    h.set_event_type(type_of(e));
    h.set_principal_id(env.actor().principal_id());
    h.set_role(env.actor().role());
    h.set_printed_name(env.actor().printed_name());
    h.set_reason(env.reason());
    if (!env.event().has_trial()) continue;
    const v1::TrialEvent& te = env.event().trial();
    *h.mutable_event() = te;
    std::string json;
    if (google::protobuf::util::MessageToJsonString(te, &json, json_options).ok()) {
      h.set_event_json(std::move(json));
    }
    if (te.has_data_corrected()) {
      const v1::DataCorrected& c = te.data_corrected();
      v1::CorrectionView* view = h.mutable_correction();
      view->set_target_event_id(c.target_event_id());
      view->set_field_path(c.field_path());
      view->set_old_value(c.old_value());
      view->set_new_value(c.new_value());
      view->set_reason_code(c.reason_code());
      view->set_reason(env.reason());
      if (const ledger::ParsedEntry* t = target_of(c.target_event_id()); t != nullptr) {
        view->set_target_index(t->entry.index());
        view->set_target_event_type(type_of(*t));
        out[by_event_id[c.target_event_id()]].add_corrected_by_indexes(e.entry.index());
      }
    } else if (te.has_event_voided()) {
      v1::VoidView* view = h.mutable_voiding();
      view->set_target_event_id(te.event_voided().target_event_id());
      view->set_reason(env.reason());
      if (const ledger::ParsedEntry* t = target_of(te.event_voided().target_event_id()); t != nullptr) {
        view->set_target_index(t->entry.index());
        view->set_target_event_type(type_of(*t));
        v1::SubjectHistoryEntry& target = out[by_event_id[te.event_voided().target_event_id()]];
        target.set_voided(true);
        target.set_voided_by_index(e.entry.index());
      }
    } else if (te.has_e_signature()) {
      const v1::ESignature& sig = te.e_signature();
      v1::SignatureView* view = h.mutable_signature();
      view->set_meaning(sig.meaning());
      view->set_meaning_text(sig.meaning_text());
      view->set_printed_name(sig.printed_name());
      for (const v1::SignedRecord& r : sig.records()) {
        *view->add_records() = r;
        const ledger::ParsedEntry* t = target_of(r.event_id());
        view->add_record_indexes(t == nullptr ? 0 : t->entry.index());
      }
      auto s = signatures.find(env.event_id());
      if (s != signatures.end()) {
        view->set_status(s->second.status());
        view->set_outdated_by_index(s->second.outdated_by_index());
      }
    }
  }
  size_t first = std::lower_bound(indexes.begin(), indexes.end(), from_index) - indexes.begin();
  size_t end = std::min(entries.size(), first + page_size);
  for (size_t i = first; i < end; ++i) *response.add_entries() = std::move(out[i]);
  if (end < entries.size()) response.set_next_page_token(PageToken(indexes[end], last_index));
  return response;
}

grpc::Status TrialStateServiceImpl::GetSubject(grpc::ServerContext* context,
                                               const v1::GetSubjectRequest* request,
                                               v1::GetSubjectResponse* response) {
  if (absl::StatusOr<Caller> c =
          AuthorizeCall(access_, *context, Rpc::kGetSubject, request->trial_id(), {request->subject_id()});
      !c.ok()) {
    return ToGrpcStatus(c.status());
  }
  absl::StatusOr<TrialStateAt> state = StateOf(request->trial_id(), request->as_of());
  if (!state.ok()) return ToGrpcStatus(state.status());
  absl::StatusOr<v1::SubjectState> subject = state->Subject(request->subject_id());
  if (!subject.ok()) return ToGrpcStatus(subject.status());
  *response->mutable_subject() = *std::move(subject);
  response->set_last_index(state->last_index());
  return grpc::Status::OK;
}

grpc::Status TrialStateServiceImpl::ListSubjects(grpc::ServerContext* context,
                                                 const v1::ListSubjectsRequest* request,
                                                 v1::ListSubjectsResponse* response) {
  if (absl::StatusOr<Caller> c =
          AuthorizeCall(access_, *context, Rpc::kListSubjects, request->trial_id(), {"*"});
      !c.ok()) {
    return ToGrpcStatus(c.status());
  }
  absl::StatusOr<TrialStateAt> state = StateOf(request->trial_id(), request->as_of());
  if (!state.ok()) return ToGrpcStatus(state.status());
  for (std::string& id : state->SubjectIds()) response->add_subject_ids(std::move(id));
  response->set_last_index(state->last_index());
  return grpc::Status::OK;
}

grpc::Status TrialStateServiceImpl::GetSummary(grpc::ServerContext* context,
                                               const v1::GetSummaryRequest* request,
                                               v1::GetSummaryResponse* response) {
  if (absl::StatusOr<Caller> c =
          AuthorizeCall(access_, *context, Rpc::kGetSummary, request->trial_id(), {});
      !c.ok()) {
    return ToGrpcStatus(c.status());
  }
  absl::StatusOr<TrialStateAt> state = StateOf(request->trial_id(), request->as_of());
  if (!state.ok()) return ToGrpcStatus(state.status());
  *response->mutable_summary() = state->Summary();
  response->set_last_index(state->last_index());
  return grpc::Status::OK;
}

grpc::Status TrialStateServiceImpl::GetSubjectHistory(grpc::ServerContext* context,
                                                      const v1::GetSubjectHistoryRequest* request,
                                                      v1::GetSubjectHistoryResponse* response) {
  if (absl::StatusOr<Caller> c =
          AuthorizeCall(access_, *context, Rpc::kGetSubjectHistory, request->trial_id(), {request->subject_id()});
      !c.ok()) {
    return ToGrpcStatus(c.status());
  }
  absl::StatusOr<v1::GetSubjectHistoryResponse> history = History(*request);
  if (!history.ok()) return ToGrpcStatus(history.status());
  *response = *std::move(history);
  return grpc::Status::OK;
}

}  // namespace trialog::server
