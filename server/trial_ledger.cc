#include "server/trial_ledger.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/ledger/entry.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"

namespace trialog::server {
namespace {

// storage::Admitted is ledger::AdmittedEnvelope: hand it over as is.
storage::Admitted ToStorage(ledger::AdmittedEnvelope a) { return a; }

}  // namespace

absl::StatusOr<CheckpointView> ParseOwnCheckpoint(std::string note_text) {
  size_t blank = note_text.find("\n\n");
  if (blank == std::string::npos) {
    return absl::InternalError("stored checkpoint note has no signature block");
  }
  TRIALOG_ASSIGN_OR_RETURN(note::Checkpoint cp,
                           note::ParseCheckpoint(absl::string_view(note_text).substr(0, blank + 1)));
  CheckpointView view;
  view.size = cp.size;
  view.root = std::move(cp.root_hash);
  view.note = std::move(note_text);
  return view;
}

absl::StatusOr<std::unique_ptr<TrialLedger>> TrialLedger::Open(TrialLedgerOptions options) {
  std::unique_ptr<TrialLedger> t(new TrialLedger());
  t->trial_id_ = options.trial_id;
  t->origin_ = options.origin;
  t->signer_ = std::make_unique<note::NoteSigner>(options.origin, options.ledger_key);
  t->registry_ = std::make_unique<ledger::PrincipalRegistry>();
  t->domain_ = options.machines(options.trial_id);
  std::vector<ledger::StateMachine*> machines;
  for (auto& m : t->domain_) machines.push_back(m.get());

  storage::LedgerOptions lo;
  lo.dir = options.dir;
  lo.checkpoint_signer = t->signer_.get();
  lo.origin = options.origin;
  lo.max_batch = options.max_batch;
  lo.min_free_bytes = options.min_free_bytes;
  lo.sync = options.sync;
  lo.create_if_missing = options.create_if_missing;
  lo.use_snapshot = options.use_snapshot;
  lo.snapshot_every_entries = options.snapshot_every_entries;
  lo.snapshot_interval = options.snapshot_interval;
  TRIALOG_ASSIGN_OR_RETURN(t->store_, storage::Ledger::Open(lo, t->registry_.get(), std::move(machines)));
  RefusalLog::Sink sink = options.log;
  if (!sink) {
    sink = [](absl::string_view line) { std::cerr << "trialogd: " << line << std::endl; };
  }
  const storage::OpenStats& st = t->store_->open_stats();
  sink(absl::StrFormat(
      "trial %s opened: %d entries; %s; replayed %d entries in %.3f s; whole open %.3f s "
      "(RocksDB %.3f, checks %.3f, node cache %.3f, snapshot %.3f)",
      t->trial_id_, t->store_->size(),
      st.snapshot_used ? absl::StrCat("from the snapshot at ", st.snapshot_size)
                       : absl::StrCat("no snapshot used (", st.snapshot_fallback, ")"),
      st.replayed_entries, absl::ToDoubleSeconds(st.replay_time), absl::ToDoubleSeconds(st.open_time),
      absl::ToDoubleSeconds(st.rocksdb_open_time), absl::ToDoubleSeconds(st.check_time),
      absl::ToDoubleSeconds(st.node_load_time), absl::ToDoubleSeconds(st.snapshot_time)));
  t->refusals_ = std::make_unique<RefusalLog>(absl::StrCat("trial ", t->trial_id_), std::move(sink));
  return t;
}

TrialLedger::~TrialLedger() {
  if (store_ != nullptr) store_->Close().IgnoreError();
}

absl::StatusOr<v1::AppendResponse> TrialLedger::FindRepeat(
    const v1::SignedEnvelope& signed_envelope) const {
  // A cheap peek at the event id (no parse of the envelope).
  const std::string event_id = ledger::PeekEventId(signed_envelope.envelope());
  if (event_id.size() != ledger::kEventIdSize) {
    return absl::NotFoundError("not a repeat");  // admission reports what is wrong
  }
  absl::StatusOr<uint64_t> index = store_->FindEventId(event_id);
  if (!index.ok()) return absl::NotFoundError("not a repeat");
  TRIALOG_ASSIGN_OR_RETURN(std::string entry_bytes, store_->ReadEntry(*index));
  TRIALOG_ASSIGN_OR_RETURN(ledger::ParsedEntry parsed, ledger::ParseEntry(entry_bytes));
  const v1::SignedEnvelope& stored = parsed.entry.signed_envelope();
  if (stored.envelope() != signed_envelope.envelope() ||
      stored.signature() != signed_envelope.signature()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "event id ", HexEncode(event_id), " is already used by entry ", *index,
        " with different envelope bytes; a new event needs a new event id"));
  }
  TRIALOG_ASSIGN_OR_RETURN(CheckpointView cp, LatestCheckpoint());
  v1::AppendResponse response;
  response.set_index(*index);
  response.set_leaf_hash(parsed.leaf_hash);
  response.set_recorded_at_unix_micros(parsed.entry.recorded_at_unix_micros());
  response.set_stream_version(parsed.entry.stream_version());
  response.set_duplicate(true);
  TRIALOG_ASSIGN_OR_RETURN(*response.mutable_receipt(), ReceiptFor(*index, cp));
  return response;
}

absl::StatusOr<ledger::AdmittedEnvelope> TrialLedger::Admit(
    v1::SignedEnvelope signed_envelope) const {
  TRIALOG_ASSIGN_OR_RETURN(ledger::AdmittedEnvelope prepared,
                           Prepare(std::move(signed_envelope)));
  TRIALOG_RETURN_IF_ERROR(Verify(prepared));
  return prepared;
}

absl::Status TrialLedger::Verify(const ledger::AdmittedEnvelope& prepared) {
  return ledger::VerifyAdmission(prepared);
}

absl::StatusOr<ledger::AdmittedEnvelope> TrialLedger::Prepare(
    v1::SignedEnvelope signed_envelope) const {
  // The registry only, without waiting for a durable boundary (see
  // storage::Ledger::ReadRegistry): the sequencer re-checks the key.
  absl::StatusOr<ledger::AdmittedEnvelope> prepared = store_->ReadRegistry([&] {
    return ledger::PrepareAdmission(trial_id_, std::move(signed_envelope), *registry_);
  });
  if (!prepared.ok()) return prepared.status();
  if (prepared->envelope.event().kind_case() == v1::Event::kGenesis &&
      prepared->envelope.event().genesis().ledger_origin() != origin_) {
    return absl::FailedPreconditionError(
        absl::StrCat("genesis names ledger origin \"",
                     prepared->envelope.event().genesis().ledger_origin(),
                     "\" but this server's origin for trial ", trial_id_, " is \"", origin_,
                     "\""));
  }
  return prepared;
}

absl::StatusOr<v1::AppendResponse> TrialLedger::ToResponse(
    const storage::AppendResult& r) const {
  v1::AppendResponse response;
  response.set_index(r.index);
  response.set_leaf_hash(r.leaf_hash);
  response.set_recorded_at_unix_micros(r.recorded_at_unix_micros);
  response.set_stream_version(r.stream_version);
  response.set_duplicate(r.duplicate);
  v1::Receipt* receipt = response.mutable_receipt();
  receipt->set_entry(r.entry_bytes);
  receipt->set_leaf_hash(r.leaf_hash);
  receipt->set_checkpoint(r.checkpoint);
  TRIALOG_ASSIGN_OR_RETURN(*receipt->mutable_inclusion(),
                           InclusionProof(r.index, r.checkpoint_size));
  return response;
}

void TrialLedger::EnterAppend(int64_t n) {
  absl::MutexLock lock(&gate_mu_);
  gate_mu_.Await(absl::Condition(
      +[](bool* exclusive) { return !*exclusive; }, &exclusive_));
  in_flight_ += n;
}

void TrialLedger::LeaveAppend(int64_t n) {
  absl::MutexLock lock(&gate_mu_);
  in_flight_ -= n;
}

TrialLedger::ExclusiveAppend::ExclusiveAppend(TrialLedger* t) : t_(t) {
  absl::MutexLock lock(&t_->gate_mu_);
  t_->gate_mu_.Await(absl::Condition(
      +[](bool* exclusive) { return !*exclusive; }, &t_->exclusive_));
  t_->exclusive_ = true;
  t_->gate_mu_.Await(absl::Condition(
      +[](int64_t* in_flight) { return *in_flight == 0; }, &t_->in_flight_));
}

TrialLedger::ExclusiveAppend::~ExclusiveAppend() {
  absl::MutexLock lock(&t_->gate_mu_);
  t_->exclusive_ = false;
}

std::vector<absl::StatusOr<storage::AppendResult>> TrialLedger::AppendAllRaw(
    std::vector<ledger::AdmittedEnvelope> admitted) {
  std::vector<absl::StatusOr<storage::AppendResult>> results = store_->AppendAll(std::move(admitted));
  for (const auto& r : results) refusals_->Record(r.status());
  return results;
}

absl::StatusOr<v1::AppendResponse> TrialLedger::Append(ledger::AdmittedEnvelope admitted) {
  EnterAppend(1);
  absl::StatusOr<storage::AppendResult> r = store_->Append(ToStorage(std::move(admitted)));
  LeaveAppend(1);
  refusals_->Record(r.status());
  if (!r.ok()) return r.status();
  return ToResponse(*r);
}

std::vector<absl::StatusOr<v1::AppendResponse>> TrialLedger::AppendAll(
    std::vector<ledger::AdmittedEnvelope> admitted) {
  std::vector<storage::Admitted> in;
  in.reserve(admitted.size());
  for (auto& a : admitted) in.push_back(ToStorage(std::move(a)));
  const int64_t n = static_cast<int64_t>(in.size());
  EnterAppend(n);
  std::vector<absl::StatusOr<storage::AppendResult>> results = store_->AppendAll(std::move(in));
  LeaveAppend(n);
  std::vector<absl::StatusOr<v1::AppendResponse>> out;
  out.reserve(results.size());
  for (auto& r : results) {
    refusals_->Record(r.status());
    if (!r.ok()) {
      out.push_back(r.status());
    } else {
      out.push_back(ToResponse(*r));
    }
  }
  return out;
}

void TrialLedger::AppendAsync(ledger::AdmittedEnvelope admitted,
                              std::function<void(absl::StatusOr<storage::AppendResult>)> done) {
  EnterAppend(1);
  store_->AppendAsync(ToStorage(std::move(admitted)),
                      [this, done = std::move(done)](absl::StatusOr<storage::AppendResult> r) {
                        refusals_->Record(r.status());
                        LeaveAppend(1);
                        done(std::move(r));
                      });
}

uint64_t TrialLedger::size() const { return store_->size(); }

storage::SequencerStats TrialLedger::sequencer_stats() const { return store_->sequencer_stats(); }

absl::StatusOr<CheckpointView> TrialLedger::LatestCheckpoint() const {
  std::string note_text = store_->latest_checkpoint();
  if (note_text.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", trial_id_, " has no checkpoint yet (no genesis)"));
  }
  return ParseOwnCheckpoint(std::move(note_text));
}

absl::Status TrialLedger::CheckEntryIndex(uint64_t index) const {
  const uint64_t n = size();
  if (index >= n) {
    return absl::OutOfRangeError(
        absl::StrCat("entry ", index, " does not exist; trial ", trial_id_, " has ", n,
                     " entries"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TrialLedger::ReadEntry(uint64_t index) const {
  TRIALOG_RETURN_IF_ERROR(CheckEntryIndex(index));
  return store_->ReadEntry(index);
}

absl::StatusOr<std::string> TrialLedger::LeafHash(uint64_t index) const {
  TRIALOG_RETURN_IF_ERROR(CheckEntryIndex(index));
  return store_->LeafHash(index);
}

absl::Status TrialLedger::ReadRange(
    uint64_t from, uint64_t limit,
    const std::function<bool(uint64_t, absl::string_view)>& fn) const {
  return store_->ReadRange(from, limit, fn);
}

absl::StatusOr<uint64_t> TrialLedger::FindEventId(absl::string_view event_id) const {
  absl::StatusOr<uint64_t> index = store_->FindEventId(event_id);
  if (!index.ok() && index.status().code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(absl::StrCat("no entry of trial ", trial_id_, " has event id ",
                                            HexEncode(event_id)));
  }
  return index;
}

absl::StatusOr<std::vector<uint64_t>> TrialLedger::StreamIndexes(
    absl::string_view stream_id) const {
  return store_->StreamIndexes(stream_id, 1);
}

absl::StatusOr<v1::InclusionProof> TrialLedger::InclusionProof(uint64_t index,
                                                               uint64_t tree_size) const {
  if (index >= tree_size) {
    return absl::InvalidArgumentError(absl::StrCat("index ", index,
                                                   " is not below tree size ", tree_size));
  }
  if (tree_size > size()) {
    return absl::OutOfRangeError(absl::StrCat("tree size ", tree_size, " exceeds the ledger size ",
                                              size()));
  }
  TRIALOG_ASSIGN_OR_RETURN(std::vector<std::string> hashes,
                           store_->InclusionProof(index, tree_size));
  v1::InclusionProof proof;
  proof.set_index(index);
  proof.set_tree_size(tree_size);
  for (auto& h : hashes) proof.add_hashes(std::move(h));
  return proof;
}

absl::StatusOr<v1::ConsistencyProof> TrialLedger::ConsistencyProof(uint64_t old_size,
                                                                   uint64_t new_size) const {
  if (old_size == 0 || old_size > new_size) {
    return absl::InvalidArgumentError(absl::StrCat("consistency proof needs 0 < old_size <= "
                                                   "new_size; got ",
                                                   old_size, " and ", new_size));
  }
  if (new_size > size()) {
    return absl::OutOfRangeError(absl::StrCat("tree size ", new_size, " exceeds the ledger size ",
                                              size()));
  }
  TRIALOG_ASSIGN_OR_RETURN(std::vector<std::string> hashes,
                           store_->ConsistencyProof(old_size, new_size));
  v1::ConsistencyProof proof;
  proof.set_old_size(old_size);
  proof.set_new_size(new_size);
  for (auto& h : hashes) proof.add_hashes(std::move(h));
  return proof;
}

absl::StatusOr<v1::Receipt> TrialLedger::ReceiptFor(uint64_t index,
                                                    const CheckpointView& checkpoint) const {
  TRIALOG_ASSIGN_OR_RETURN(std::string entry, ReadEntry(index));
  v1::Receipt receipt;
  receipt.set_leaf_hash(merkle::HashLeaf(entry));
  receipt.set_entry(std::move(entry));
  receipt.set_checkpoint(checkpoint.note);
  TRIALOG_ASSIGN_OR_RETURN(*receipt.mutable_inclusion(), InclusionProof(index, checkpoint.size));
  return receipt;
}

bool TrialLedger::WaitForSize(uint64_t at_least, absl::Duration timeout) const {
  return store_->WaitForSize(at_least, timeout);
}

absl::Status TrialLedger::Close() { return store_->Close(); }

}  // namespace trialog::server
