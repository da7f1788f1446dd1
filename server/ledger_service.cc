#include "server/ledger_service.h"

#include <deque>
#include <optional>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/ledger/entry.h"
#include "core/merkle/merkle.h"
#include "core/util/status_macros.h"
#include "server/status_util.h"

namespace trialog::server {
namespace {

double SecondsSince(absl::Time start) { return absl::ToDoubleSeconds(absl::Now() - start); }

// Moves `r` into `out` (a receipt is ~1.5 KB: copying it showed in profiles).
void FillResult(absl::StatusOr<v1::AppendResponse>&& r, v1::AppendResult* out) {
  if (r.ok()) {
    out->set_code(0);
    out->mutable_response()->Swap(&*r);
  } else {
    out->set_code(static_cast<int32_t>(r.status().code()));
    out->set_message(std::string(r.status().message()));
  }
}

// Writes one entry to a Read/Subscribe stream.
bool WriteEntry(grpc::ServerWriter<v1::ReadResponse>* writer, uint64_t index,
                absl::string_view bytes, v1::ReadResponse* response) {
  response->set_index(index);
  response->set_entry(std::string(bytes));
  response->set_leaf_hash(merkle::HashLeaf(bytes));
  return writer->Write(*response);
}


const absl::Status& ShuttingDown() {
  static const absl::Status* s =
      new absl::Status(absl::UnavailableError("server is shutting down; retry on another server "
                                              "or after it restarts"));
  return *s;
}

}  // namespace

bool LedgerServiceImpl::EnterAppend() {
  absl::MutexLock lock(&in_flight_mu_);
  if (shutting_down_.load()) return false;
  ++in_flight_;
  return true;
}

void LedgerServiceImpl::ExitAppend() {
  absl::MutexLock lock(&in_flight_mu_);
  --in_flight_;
}

bool LedgerServiceImpl::BeginShutdown(absl::Duration grace) {
  absl::MutexLock lock(&in_flight_mu_);
  shutting_down_.store(true);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(in_flight_mu_) { return in_flight_ == 0; };
  return in_flight_mu_.AwaitWithTimeout(absl::Condition(&idle), grace);
}

LedgerServiceImpl::LedgerServiceImpl(LedgerSet* ledgers, Metrics* metrics, ServiceLimits limits)
    : ledgers_(ledgers), metrics_(metrics), limits_(limits) {
  metrics_->SetTrials(ledgers_->List().size());
}

absl::StatusOr<std::shared_ptr<TrialLedger>> LedgerServiceImpl::TrialForAppend(
    absl::string_view trial_id, const v1::SignedEnvelope& signed_envelope, bool* create) {
  *create = false;
  absl::StatusOr<std::shared_ptr<TrialLedger>> t = ledgers_->Find(trial_id);
  if (t.ok() || !ledgers_->accept_new_trials()) return t;
  TRIALOG_ASSIGN_OR_RETURN(v1::Envelope envelope,
                           ledger::ParseEnvelope(signed_envelope.envelope()));
  if (envelope.event().kind_case() != v1::Event::kGenesis) {
    return absl::NotFoundError(absl::StrCat(
        "trial \"", absl::CHexEscape(trial_id),
        "\" is not served here; only a genesis envelope creates a trial"));
  }
  *create = true;
  return std::shared_ptr<TrialLedger>();
}

absl::StatusOr<v1::AppendResponse> LedgerServiceImpl::AppendOne(
    absl::string_view trial_id, v1::SignedEnvelope signed_envelope) {
  bool create = false;
  TRIALOG_ASSIGN_OR_RETURN(std::shared_ptr<TrialLedger> t,
                           TrialForAppend(trial_id, signed_envelope, &create));
  if (create) {
    absl::StatusOr<v1::AppendResponse> r =
        ledgers_->CreateWithGenesis(trial_id, std::move(signed_envelope));
    metrics_->SetTrials(ledgers_->List().size());
    return r;
  }
  if (absl::StatusOr<v1::AppendResponse> repeat = t->FindRepeat(signed_envelope);
      repeat.ok() || repeat.status().code() != absl::StatusCode::kNotFound) {
    return repeat;
  }
  TRIALOG_ASSIGN_OR_RETURN(ledger::AdmittedEnvelope admitted,
                           t->Admit(std::move(signed_envelope)));
  return t->Append(std::move(admitted));
}

grpc::Status LedgerServiceImpl::Append(grpc::ServerContext* context,
                                       const v1::AppendRequest* request,
                                       v1::AppendResponse* response) {
  const absl::Time start = absl::Now();
  metrics_->RecordRequest("Append");
  Caller caller;
  if (access_ != nullptr) {
    absl::StatusOr<Caller> c = access_->AuthorizeAppend(*context, Rpc::kAppend,
                                                        request->trial_id(),
                                                        request->signed_envelope());
    if (!c.ok()) {
      metrics_->RecordRejection(c.status());
      return ToGrpcStatus(c.status());
    }
    caller = *std::move(c);
  }
  if (!EnterAppend()) {
    metrics_->RecordRejection(ShuttingDown());
    return ToGrpcStatus(ShuttingDown());
  }
  absl::StatusOr<v1::AppendResponse> r = AppendOne(request->trial_id(), request->signed_envelope());
  ExitAppend();
  if (!r.ok()) {
    if (access_ != nullptr) {
      access_->NoteAppendResult(caller, Rpc::kAppend, request->trial_id(),
                                request->signed_envelope(), r.status());
    }
    metrics_->RecordRejection(r.status());
    return ToGrpcStatus(r.status());
  }
  metrics_->RecordAppended(SecondsSince(start), r->duplicate());
  *response = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::AppendBatch(grpc::ServerContext* context,
                                            const v1::AppendBatchRequest* request,
                                            v1::AppendBatchResponse* response) {
  const absl::Time start = absl::Now();
  metrics_->RecordRequest("AppendBatch");
  // The whole batch is refused when the caller may not append or any
  // envelope is signed by someone else: nothing of it is appended.
  absl::StatusOr<Caller> caller =
      AuthorizeCall(access_, *context, Rpc::kAppendBatch, request->trial_id(), {});
  if (caller.ok() && access_ != nullptr) {
    for (const v1::SignedEnvelope& se : request->signed_envelopes()) {
      absl::Status s = access_->CheckSigner(*caller, Rpc::kAppendBatch, request->trial_id(), se);
      if (!s.ok()) {
        caller = s;
        break;
      }
    }
  }
  if (!caller.ok()) {
    metrics_->RecordRejection(caller.status());
    return ToGrpcStatus(caller.status());
  }
  const size_t n = request->signed_envelopes_size();
  metrics_->RecordBatchSize(n);
  if (n > limits_.max_batch_envelopes) {
    absl::Status s = absl::ResourceExhaustedError(
        absl::StrCat("batch has ", n, " envelopes; the limit is ", limits_.max_batch_envelopes));
    metrics_->RecordRejection(s);
    return ToGrpcStatus(s);
  }
  if (!EnterAppend()) {
    metrics_->RecordRejection(ShuttingDown());
    return ToGrpcStatus(ShuttingDown());
  }
  struct Exit {
    LedgerServiceImpl* self;
    ~Exit() { self->ExitAppend(); }
  } exit_guard{this};
  std::vector<absl::StatusOr<v1::AppendResponse>> results(n, absl::UnknownError("not answered"));
  size_t first = 0;
  absl::StatusOr<std::shared_ptr<TrialLedger>> t = ledgers_->Find(request->trial_id());
  if (!t.ok() && n > 0) {
    // An unknown trial: its genesis may come first in the batch.
    bool create = false;
    absl::StatusOr<std::shared_ptr<TrialLedger>> r =
        TrialForAppend(request->trial_id(), request->signed_envelopes(0), &create);
    if (!r.ok() || !create) {
      absl::Status s = r.ok() ? t.status() : r.status();
      metrics_->RecordRejection(s);
      return ToGrpcStatus(s);
    }
    results[0] = AppendOne(request->trial_id(), request->signed_envelopes(0));
    first = 1;
    t = ledgers_->Find(request->trial_id());
  }
  std::vector<ledger::AdmittedEnvelope> prepared;
  std::vector<size_t> prepared_positions;
  for (size_t i = first; i < n && t.ok(); ++i) {
    const v1::SignedEnvelope& se = request->signed_envelopes(static_cast<int>(i));
    if (absl::StatusOr<v1::AppendResponse> repeat = (*t)->FindRepeat(se);
        repeat.ok() || repeat.status().code() != absl::StatusCode::kNotFound) {
      results[i] = std::move(repeat);
      continue;
    }
    absl::StatusOr<ledger::AdmittedEnvelope> a = (*t)->Prepare(se);
    if (!a.ok()) {
      results[i] = a.status();
      continue;
    }
    prepared.push_back(*std::move(a));
    prepared_positions.push_back(i);
  }
  if (!t.ok()) {
    for (size_t i = first; i < n; ++i) results[i] = t.status();
  }
  // Signatures (the costly part) on up to kVerifyThreads cores.
  std::vector<absl::Status> verified(prepared.size());
  auto verify_range = [&](size_t begin, size_t end) {
    for (size_t k = begin; k < end; ++k) verified[k] = TrialLedger::Verify(prepared[k]);
  };
  const size_t workers =
      prepared.size() >= 16 ? std::max(1u, std::min(4u, std::thread::hardware_concurrency())) : 1;
  std::vector<std::thread> helpers;
  const size_t chunk = (prepared.size() + workers - 1) / std::max<size_t>(workers, 1);
  for (size_t w = 1; w < workers; ++w) {
    helpers.emplace_back(verify_range, std::min(prepared.size(), w * chunk),
                         std::min(prepared.size(), (w + 1) * chunk));
  }
  verify_range(0, std::min(prepared.size(), chunk));
  for (auto& h : helpers) h.join();
  std::vector<ledger::AdmittedEnvelope> admitted;
  std::vector<size_t> positions;
  for (size_t k = 0; k < prepared.size(); ++k) {
    if (!verified[k].ok()) {
      results[prepared_positions[k]] = verified[k];
      continue;
    }
    admitted.push_back(std::move(prepared[k]));
    positions.push_back(prepared_positions[k]);
  }
  if (!admitted.empty()) {
    std::vector<absl::StatusOr<v1::AppendResponse>> appended = (*t)->AppendAll(std::move(admitted));
    for (size_t k = 0; k < positions.size(); ++k) results[positions[k]] = std::move(appended[k]);
  }
  const double seconds = SecondsSince(start);
  for (size_t i = 0; i < n; ++i) {
    absl::StatusOr<v1::AppendResponse>& r = results[i];
    if (r.ok()) {
      metrics_->RecordAppended(seconds, r->duplicate());
    } else {
      if (access_ != nullptr) {
        access_->NoteAppendResult(*caller, Rpc::kAppendBatch, request->trial_id(),
                                  request->signed_envelopes(static_cast<int>(i)), r.status());
      }
      metrics_->RecordRejection(r.status());
    }
    FillResult(std::move(r), response->add_results());
  }
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::AppendStream(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::AppendResult, v1::AppendRequest>* stream) {
  metrics_->RecordRequest("AppendStream");
  struct Slot {
    absl::Time start;
    bool done = false;
    std::optional<absl::StatusOr<v1::AppendResponse>> response;  // set when answered here
    std::optional<absl::StatusOr<storage::AppendResult>> raw;     // set by the sequencer
    std::shared_ptr<TrialLedger> ledger;
    bool counted = false;  // holds an EnterAppend
    Caller caller;         // who sent it (access control)
    std::string trial_id;
    v1::SignedEnvelope for_log;  // kept to log a refusal (with access control only)
  };
  struct State {
    absl::Mutex mu;
    std::deque<std::shared_ptr<Slot>> queue ABSL_GUARDED_BY(mu);
    bool reader_done ABSL_GUARDED_BY(mu) = false;
  };
  auto state = std::make_shared<State>();
  const size_t window = limits_.max_stream_in_flight;

  // Reader: admission in request order, handing envelopes to the sequencer
  // without waiting for durability, up to `window` in flight.
  std::thread reader([this, context, state, stream, window] {
    v1::AppendRequest request;
    while (stream->Read(&request)) {
      auto slot = std::make_shared<Slot>();
      slot->start = absl::Now();
      {
        absl::MutexLock lock(&state->mu);
        State* st = state.get();
        auto has_room = [st, window]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return st->queue.size() < window;
        };
        state->mu.Await(absl::Condition(&has_room));
        state->queue.push_back(slot);
      }
      auto answer = [&](absl::StatusOr<v1::AppendResponse> r) {
        absl::MutexLock lock(&state->mu);
        slot->response = std::move(r);
        slot->done = true;
      };
      if (access_ != nullptr) {
        absl::StatusOr<Caller> c = access_->AuthorizeAppend(*context, Rpc::kAppendStream,
                                                            request.trial_id(),
                                                            request.signed_envelope());
        if (!c.ok()) {
          answer(c.status());
          continue;
        }
        slot->caller = *std::move(c);
        slot->trial_id = request.trial_id();
        if (access_->logging()) slot->for_log = request.signed_envelope();
      }
      if (!EnterAppend()) {
        answer(ShuttingDown());
        continue;
      }
      slot->counted = true;
      bool create = false;
      absl::StatusOr<std::shared_ptr<TrialLedger>> t =
          TrialForAppend(request.trial_id(), request.signed_envelope(), &create);
      if (!t.ok()) {
        answer(t.status());
        continue;
      }
      if (create) {
        answer(AppendOne(request.trial_id(), request.signed_envelope()));
        continue;
      }
      if (absl::StatusOr<v1::AppendResponse> repeat = (*t)->FindRepeat(request.signed_envelope());
          repeat.ok() || repeat.status().code() != absl::StatusCode::kNotFound) {
        answer(std::move(repeat));
        continue;
      }
      absl::StatusOr<ledger::AdmittedEnvelope> admitted =
          (*t)->Admit(std::move(*request.mutable_signed_envelope()));
      if (!admitted.ok()) {
        answer(admitted.status());
        continue;
      }
      slot->ledger = *t;
      (*t)->AppendAsync(*std::move(admitted),
                        [state, slot](absl::StatusOr<storage::AppendResult> r) {
                          absl::MutexLock lock(&state->mu);
                          slot->raw = std::move(r);
                          slot->done = true;
                        });
    }
    absl::MutexLock lock(&state->mu);
    state->reader_done = true;
  });

  // Writer (this thread): answers in request order as entries become durable.
  bool write_ok = true;
  while (true) {
    std::shared_ptr<Slot> slot;
    {
      absl::MutexLock lock(&state->mu);
      state->mu.Await(absl::Condition(
          +[](State* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return (!s->queue.empty() && s->queue.front()->done) ||
                   (s->reader_done && s->queue.empty());
          },
          state.get()));
      if (state->queue.empty()) break;
      slot = state->queue.front();
      state->queue.pop_front();
    }
    absl::StatusOr<v1::AppendResponse> r = absl::UnknownError("unanswered");
    if (slot->response.has_value()) {
      r = std::move(*slot->response);
    } else if (slot->raw->ok()) {
      r = slot->ledger->ToResponse(**slot->raw);
    } else {
      r = slot->raw->status();
    }
    if (r.ok()) {
      metrics_->RecordAppended(SecondsSince(slot->start), r->duplicate());
    } else {
      // Refusals by access control itself were logged when made (not counted).
      if (access_ != nullptr && slot->counted) {
        access_->NoteAppendResult(slot->caller, Rpc::kAppendStream, slot->trial_id,
                                  slot->for_log, r.status());
      }
      metrics_->RecordRejection(r.status());
    }
    if (slot->counted) ExitAppend();
    v1::AppendResult result;
    FillResult(std::move(r), &result);
    if (write_ok && !stream->Write(result)) {
      write_ok = false;
      context->TryCancel();  // the client is gone: stop the reader too
    }
  }
  reader.join();
  if (!write_ok) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  return grpc::Status::OK;
}

// Subjects a Read/Subscribe hands out: the subject of a subject stream,
// else every subject ("*").
static std::vector<std::string> SubjectsRead(absl::string_view stream_id) {
  std::vector<std::string> subjects = SubjectsOfStream(stream_id);
  if (subjects.empty()) subjects.push_back("*");
  return subjects;
}

grpc::Status LedgerServiceImpl::Read(grpc::ServerContext* context, const v1::ReadRequest* request,
                                     grpc::ServerWriter<v1::ReadResponse>* writer) {
  if (absl::StatusOr<Caller> c = AuthorizeCall(access_, *context, Rpc::kRead, request->trial_id(),
                                               SubjectsRead(request->stream_id()));
      !c.ok()) {
    return ToGrpcStatus(c.status());
  }
  absl::StatusOr<std::shared_ptr<TrialLedger>> t = ledgers_->Find(request->trial_id());
  if (!t.ok()) return ToGrpcStatus(t.status());
  std::optional<CheckpointView> cp;
  uint64_t end = (*t)->size();
  if (request->with_proof()) {
    absl::StatusOr<CheckpointView> latest = (*t)->LatestCheckpoint();
    if (!latest.ok()) return ToGrpcStatus(latest.status());
    cp = *std::move(latest);
    end = cp->size;
  }
  if (request->from_index() > end) {
    return ToGrpcStatus(absl::OutOfRangeError(absl::StrCat(
        "from_index ", request->from_index(), " is past the end; the ledger has ", end,
        " entries")));
  }
  uint64_t count = end - request->from_index();
  if (request->limit() != 0 && request->limit() < count) count = request->limit();
  bool first = true;
  absl::Status error;
  auto emit = [&](uint64_t index, absl::string_view bytes) {
    if (context->IsCancelled()) return false;
    v1::ReadResponse response;
    if (cp.has_value()) {
      if (first) response.set_checkpoint(cp->note);
      absl::StatusOr<v1::InclusionProof> proof = (*t)->InclusionProof(index, cp->size);
      if (!proof.ok()) {
        error = proof.status();
        return false;
      }
      *response.mutable_inclusion() = *std::move(proof);
    }
    first = false;
    return WriteEntry(writer, index, bytes, &response);
  };
  if (request->stream_id().empty()) {
    absl::Status s = (*t)->ReadRange(request->from_index(), count, emit);
    if (!s.ok()) return ToGrpcStatus(s);
  } else {
    absl::StatusOr<std::vector<uint64_t>> indexes = (*t)->StreamIndexes(request->stream_id());
    if (!indexes.ok()) return ToGrpcStatus(indexes.status());
    uint64_t sent = 0;
    for (uint64_t index : *indexes) {
      if (index < request->from_index()) continue;
      if (index >= end || (request->limit() != 0 && sent >= request->limit())) break;
      absl::StatusOr<std::string> bytes = (*t)->ReadEntry(index);
      if (!bytes.ok()) return ToGrpcStatus(bytes.status());
      if (!emit(index, *bytes)) break;
      ++sent;
    }
  }
  if (!error.ok()) return ToGrpcStatus(error);
  if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::Subscribe(grpc::ServerContext* context,
                                          const v1::SubscribeRequest* request,
                                          grpc::ServerWriter<v1::ReadResponse>* writer) {
  if (absl::StatusOr<Caller> c =
          AuthorizeCall(access_, *context, Rpc::kSubscribe, request->trial_id(), {"*"});
      !c.ok()) {
    return ToGrpcStatus(c.status());
  }
  absl::StatusOr<std::shared_ptr<TrialLedger>> t = ledgers_->Find(request->trial_id());
  if (!t.ok()) return ToGrpcStatus(t.status());
  uint64_t next = request->from_index();
  constexpr uint64_t kChunk = 1024;
  while (true) {
    if (context->IsCancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "subscriber cancelled");
    }
    if (shutting_down_.load()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          absl::StrCat("server is shutting down; resubscribe from index ", next));
    }
    const uint64_t size = (*t)->size();
    if (next < size) {
      bool ok = true;
      absl::Status s = (*t)->ReadRange(
          next, std::min(size - next, kChunk), [&](uint64_t index, absl::string_view bytes) {
            v1::ReadResponse response;
            if (!WriteEntry(writer, index, bytes, &response)) {
              ok = false;
              return false;
            }
            next = index + 1;
            return true;
          });
      if (!s.ok()) return ToGrpcStatus(s);
      if (!ok) return grpc::Status(grpc::StatusCode::CANCELLED, "subscriber went away");
    } else {
      (*t)->WaitForSize(next + 1, absl::Milliseconds(200));
    }
  }
}

absl::StatusOr<CheckpointView> LedgerServiceImpl::LatestCosigned(
    absl::string_view trial_id) const {
  if (witnessing_ == nullptr) {
    return absl::FailedPreconditionError(
        "this server has no witnesses configured, so no cosigned checkpoints (--witness)");
  }
  return witnessing_->LatestCosigned(trial_id);
}

grpc::Status LedgerServiceImpl::GetCheckpoint(grpc::ServerContext* context,
                                              const v1::GetCheckpointRequest* request,
                                              v1::GetCheckpointResponse* response) {
  if (absl::StatusOr<Caller> c =
          AuthorizeCall(access_, *context, Rpc::kGetCheckpoint, request->trial_id(), {});
      !c.ok()) {
    return ToGrpcStatus(c.status());
  }
  absl::StatusOr<std::shared_ptr<TrialLedger>> t = ledgers_->Find(request->trial_id());
  if (!t.ok()) return ToGrpcStatus(t.status());
  absl::StatusOr<CheckpointView> cp =
      request->cosigned() ? LatestCosigned(request->trial_id()) : (*t)->LatestCheckpoint();
  if (!cp.ok()) return ToGrpcStatus(cp.status());
  response->set_checkpoint(cp->note);
  response->set_tree_size(cp->size);
  response->set_root_hash(cp->root);
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetInclusionProof(grpc::ServerContext* context,
                                                  const v1::GetInclusionProofRequest* request,
                                                  v1::GetInclusionProofResponse* response) {
  if (absl::StatusOr<Caller> c =
          AuthorizeCall(access_, *context, Rpc::kGetInclusionProof, request->trial_id(), {});
      !c.ok()) {
    return ToGrpcStatus(c.status());
  }
  absl::StatusOr<std::shared_ptr<TrialLedger>> t = ledgers_->Find(request->trial_id());
  if (!t.ok()) return ToGrpcStatus(t.status());
  uint64_t tree_size = request->tree_size();
  if (tree_size == 0) {
    absl::StatusOr<CheckpointView> cp = (*t)->LatestCheckpoint();
    if (!cp.ok()) return ToGrpcStatus(cp.status());
    tree_size = cp->size;
  }
  absl::StatusOr<v1::InclusionProof> proof = (*t)->InclusionProof(request->index(), tree_size);
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  // From the tile the proof just hashed: no second read of the entry.
  absl::StatusOr<std::string> leaf_hash = (*t)->LeafHash(request->index());
  if (!leaf_hash.ok()) return ToGrpcStatus(leaf_hash.status());
  *response->mutable_proof() = *std::move(proof);
  response->set_leaf_hash(*std::move(leaf_hash));
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetConsistencyProof(grpc::ServerContext* context,
                                                    const v1::GetConsistencyProofRequest* request,
                                                    v1::GetConsistencyProofResponse* response) {
  if (absl::StatusOr<Caller> c =
          AuthorizeCall(access_, *context, Rpc::kGetConsistencyProof, request->trial_id(), {});
      !c.ok()) {
    return ToGrpcStatus(c.status());
  }
  absl::StatusOr<std::shared_ptr<TrialLedger>> t = ledgers_->Find(request->trial_id());
  if (!t.ok()) return ToGrpcStatus(t.status());
  uint64_t new_size = request->new_size();
  if (new_size == 0) {
    absl::StatusOr<CheckpointView> cp = (*t)->LatestCheckpoint();
    if (!cp.ok()) return ToGrpcStatus(cp.status());
    new_size = cp->size;
  }
  absl::StatusOr<v1::ConsistencyProof> proof =
      (*t)->ConsistencyProof(request->old_size(), new_size);
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  *response->mutable_proof() = *std::move(proof);
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetEntry(grpc::ServerContext* context,
                                         const v1::GetEntryRequest* request,
                                         v1::GetEntryResponse* response) {
  // The read is logged once the entry (and so its subject) is known.
  absl::StatusOr<Caller> caller = AuthorizeCall(access_, *context, Rpc::kGetEntry,
                                                request->trial_id(), {}, /*log_read=*/false);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<std::shared_ptr<TrialLedger>> t = ledgers_->Find(request->trial_id());
  if (!t.ok()) return ToGrpcStatus(t.status());
  uint64_t index = 0;
  switch (request->key_case()) {
    case v1::GetEntryRequest::kIndex:
      index = request->index();
      break;
    case v1::GetEntryRequest::kEventId: {
      if (request->event_id().size() != ledger::kEventIdSize) {
        return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
            "event_id must be ", ledger::kEventIdSize, " bytes, got ",
            request->event_id().size())));
      }
      absl::StatusOr<uint64_t> found = (*t)->FindEventId(request->event_id());
      if (!found.ok()) return ToGrpcStatus(found.status());
      index = *found;
      break;
    }
    default:
      return ToGrpcStatus(absl::InvalidArgumentError("GetEntry needs an index or an event_id"));
  }
  absl::StatusOr<std::string> entry = (*t)->ReadEntry(index);
  if (!entry.ok()) return ToGrpcStatus(entry.status());
  response->set_index(index);
  response->set_leaf_hash(merkle::HashLeaf(*entry));
  if (request->with_proof()) {
    absl::StatusOr<CheckpointView> cp =
        request->cosigned() ? LatestCosigned(request->trial_id()) : (*t)->LatestCheckpoint();
    if (!cp.ok()) return ToGrpcStatus(cp.status());
    if (request->cosigned() && index >= cp->size) {
      return ToGrpcStatus(absl::FailedPreconditionError(absl::StrCat(
          "entry ", index, " is not yet covered by a witness-cosigned checkpoint (cosigned size ",
          cp->size, ")")));
    }
    absl::StatusOr<v1::Receipt> receipt = (*t)->ReceiptFor(index, *cp);
    if (!receipt.ok()) return ToGrpcStatus(receipt.status());
    *response->mutable_receipt() = *std::move(receipt);
  }
  if (access_ != nullptr) {
    std::vector<std::string> subjects = {"*"};  // an entry that does not parse: say so broadly
    if (absl::StatusOr<ledger::ParsedEntry> parsed = ledger::ParseEntry(*entry); parsed.ok()) {
      subjects = SubjectsOfStream(parsed->envelope.stream_id());
    }
    absl::Status logged =
        access_->LogSubjectRead(*caller, Rpc::kGetEntry, request->trial_id(), subjects);
    if (!logged.ok()) return ToGrpcStatus(logged);
  }
  response->set_entry(*std::move(entry));
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::ListTrials(grpc::ServerContext* context,
                                           const v1::ListTrialsRequest*,
                                           v1::ListTrialsResponse* response) {
  absl::StatusOr<Caller> caller = AuthorizeCall(access_, *context, Rpc::kListTrials, "", {});
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  for (const std::shared_ptr<TrialLedger>& t : ledgers_->List()) {
    // Only the trials the caller is a principal of.
    if (access_ != nullptr && !access_->MaySee(*caller, *t)) continue;
    v1::ListTrialsResponse::Trial* out = response->add_trials();
    out->set_trial_id(t->trial_id());
    out->set_origin(t->origin());
    out->set_size(t->size());
  }
  return grpc::Status::OK;
}

}  // namespace trialog::server
