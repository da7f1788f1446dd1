#include "storage/sequencer.h"

#include <sys/statvfs.h>
#include <time.h>

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/ledger/entry.h"
#include "core/util/bytes.h"
#include "core/util/thread_name.h"
#include "rocksdb/write_batch.h"
#include "storage/batch_trace.h"
#include "storage/entry_encoding.h"

namespace trialog::storage {
namespace {

// CPU time of the calling thread.
absl::Duration ThreadCpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return absl::DurationFromTimespec(ts);
}

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

bool SameSignedEnvelope(const v1::SignedEnvelope& a, const v1::SignedEnvelope& b) {
  return a.envelope() == b.envelope() && a.signature() == b.signature();
}

absl::Status AlreadyUsed(absl::string_view event_id, uint64_t index) {
  return absl::AlreadyExistsError(absl::StrCat(
      "event id ", HexEncode(event_id), " is already used by entry ", index,
      " with a different signed envelope"));
}

}  // namespace

// Everything one batch accumulates before its write.
struct Sequencer::Batch {
  std::vector<Request> requests;
  std::vector<absl::StatusOr<AppendResult>> results;
  rocksdb::WriteBatch write;
  std::vector<std::pair<merkle::NodeId, std::string>> cached_nodes;  // for NodeStore::Publish
  absl::flat_hash_map<std::string, size_t> event_ids;  // event id -> position (new entries)
  std::vector<IndexRow> index_rows;                    // for Indexer::Stage
  absl::flat_hash_map<std::string, uint64_t> stream_versions;  // pending stream heads
  int64_t now = 0;
  uint64_t appended = 0;
  // Set when appended > 0: the new head, and the checkpoint signed over it
  // (or why signing failed).
  uint64_t size = 0;
  std::string root;
  absl::StatusOr<std::string> note = absl::UnknownError("not signed");
  absl::Duration sequence_time, sign_time;
  absl::Duration sequence_cpu;  // the sequencing thread's CPU in Prepare
  BatchTimes times;  // for BatchTrace (profiling)
};

Sequencer::Sequencer(const SequencerOptions& options, Db* db, NodeStore* nodes,
                     const Checkpointer* checkpointer, ledger::PrincipalRegistry* registry,
                     std::vector<ledger::StateMachine*> machines, ChainState chain,
                     Published* published, Indexer* indexer)
    : options_(options),
      db_(db),
      nodes_(nodes),
      checkpointer_(checkpointer),
      registry_(registry),
      machines_(std::move(machines)),
      published_(published),
      indexer_(indexer),
      chain_(std::move(chain)) {
  writer_ = std::thread([this] {
    NameThisThread("tl-write");
    RunWrites();
  });
  sequencer_ = std::thread([this] {
    NameThisThread("tl-sequence");
    Run();
  });
}

Sequencer::~Sequencer() { Close(); }

void Sequencer::Submit(std::vector<Request> requests) {
  absl::Status refuse;
  {
    absl::MutexLock lock(&mu_);
    if (closing_) {
      refuse = absl::UnavailableError("ledger is closed");
    } else if (absl::Status health = published_->health(); !health.ok()) {
      refuse = health;
    } else {
      for (Request& r : requests) queue_.push_back(std::move(r));
      return;
    }
  }
  for (Request& r : requests) r.done(refuse);
}

void Sequencer::Close() {
  absl::MutexLock close_lock(&close_mu_);
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  if (sequencer_.joinable()) sequencer_.join();  // hands over everything queued
  {
    absl::MutexLock lock(&pipe_mu_);
    sequencer_done_ = true;
  }
  if (writer_.joinable()) writer_.join();
}

SequencerStats Sequencer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void Sequencer::Run() {
  const size_t max_batch = std::max<size_t>(1, options_.max_batch);
  for (;;) {
    // Take the next requests only once the writer took the previous batch
    // (it is writing it now): requests arriving during that write join
    // the next batch instead of trickling into small ones.
    {
      const absl::Time start = absl::Now();
      bool waited = false;
      {
        absl::MutexLock lock(&pipe_mu_);
        auto free = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pipe_mu_) { return handed_ == nullptr; };
        if (!free()) {
          waited = true;
          pipe_mu_.Await(absl::Condition(&free));
        }
      }
      if (waited) {
        const absl::Duration d = absl::Now() - start;
        absl::MutexLock lock(&mu_);
        stats_.handoff_wait_time += d;
      }
    }
    if (state_locked_) {
      // Nothing queued: keep the state lock while a batch is being written
      // and requests may still arrive to overlap with it; once everything
      // handed is written and the queue is still empty, let readers in
      // (every Apply they would see is durable then).
      bool idle;
      {
        absl::MutexLock lock(&mu_);
        auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return !queue_.empty() || closing_ || writer_finished_ == handed_count_ ||
                 published_->state_readers_waiting().load(std::memory_order_relaxed) > 0;
        };
        mu_.Await(absl::Condition(&wake));
        idle = queue_.empty();
      }
      if (idle) ReleaseState();
    }
    std::vector<Request> requests;
    BatchTimes times;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || closing_;
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) break;  // closing, and everything queued is handed over
      const size_t n = std::min(max_batch, queue_.size());
      requests.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        requests.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      stats_.largest_batch = std::max<uint64_t>(stats_.largest_batch, n);
      times.queued = queue_.size();
    }
    times.taken = absl::Now();
    if (state_locked_ && published_->state_readers_waiting().load(std::memory_order_relaxed) > 0) {
      ReleaseState();  // a reader waits: a durable boundary first
    }
    std::unique_ptr<Batch> batch = Prepare(std::move(requests));
    if (batch != nullptr) {
      batch->times.taken = times.taken;
      batch->times.queued = times.queued;
      Handoff(std::move(batch));
    }
  }
  ReleaseState();
}

void Sequencer::Handoff(std::unique_ptr<Batch> batch) {
  const absl::Time start = absl::Now();
  {
    absl::MutexLock lock(&pipe_mu_);
    // The slot is free once the writer took the previous batch (it may
    // still be writing it): the writer then finds this one ready as soon as
    // it finishes, without waiting for this thread to wake up.
    auto free = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pipe_mu_) { return handed_ == nullptr; };
    pipe_mu_.Await(absl::Condition(&free));
    batch->times.handed = absl::Now();
    handed_ = std::move(batch);
    ++handed_seq_;  // under pipe_mu_: the writer evaluates our Await conditions
  }
  ++handed_count_;
  const absl::Duration waited = absl::Now() - start;
  absl::MutexLock lock(&mu_);
  stats_.handoff_wait_time += waited;
}

void Sequencer::WaitDrained() {
  absl::MutexLock lock(&pipe_mu_);
  auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pipe_mu_) {
    return finished_seq_ == handed_seq_;
  };
  pipe_mu_.Await(absl::Condition(&drained));
}

void Sequencer::ReleaseState() {
  if (!state_locked_) return;
  WaitDrained();
  published_->state_mu().WriterUnlock();
  state_locked_ = false;
}

void Sequencer::RunWrites() {
  for (;;) {
    std::unique_ptr<Batch> batch;
    {
      absl::MutexLock lock(&pipe_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pipe_mu_) {
        return handed_ != nullptr || sequencer_done_;
      };
      pipe_mu_.Await(absl::Condition(&ready));
      if (handed_ == nullptr) return;
      batch = std::move(handed_);
    }
    Commit(*batch);
    batch.reset();
    {
      absl::MutexLock lock(&pipe_mu_);
      ++finished_seq_;
    }
    // After finished_seq_: when the sequencing thread sees this, the
    // pipeline is drained.
    absl::MutexLock lock(&mu_);
    ++writer_finished_;
  }
}

absl::Status Sequencer::CheckKey(const Admitted& admitted) const {
  if (registry_ == nullptr) return absl::OkStatus();
  const v1::Envelope& env = admitted.envelope;
  const std::string& principal = env.actor().principal_id();
  if (env.event().has_genesis() && chain_.size == 0) {
    if (admitted.verified_key != env.event().genesis().first_admin().public_key()) {
      return absl::UnauthenticatedError(
          "genesis must be signed with the first admin's key it carries, but it was verified "
          "under another key");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> key = registry_->KeyFor(env.actor());
  if (!key.ok()) {
    if (absl::IsUnauthenticated(key.status())) {
      return absl::UnauthenticatedError(
          absl::StrCat("key of principal ", principal,
                       " changed/revoked before sequencing: ", key.status().message()));
    }
    return key.status();
  }
  if (*key != admitted.verified_key) {
    return absl::UnauthenticatedError(absl::StrCat(
        "key of principal ", principal,
        " changed/revoked before sequencing: the envelope was verified under a key the "
        "registry no longer names for it"));
  }
  return absl::OkStatus();
}

absl::StatusOr<AppendResult> Sequencer::StoredDuplicate(const Request& request, uint64_t index) {
  const std::string& event_id = request.admitted.envelope.event_id();
  absl::StatusOr<std::string> bytes = db_->Get(Cf::kEntries, EntryKey(index));
  if (!bytes.ok()) {
    if (absl::IsNotFound(bytes.status())) {
      return absl::DataLossError(absl::StrCat("event id ", HexEncode(event_id),
                                              " points at entry ", index, ", which is missing"));
    }
    return bytes.status();
  }
  v1::Entry stored;
  if (!stored.ParseFromString(*bytes)) {
    return absl::DataLossError(absl::StrCat("stored entry ", index, " does not parse"));
  }
  if (!SameSignedEnvelope(stored.signed_envelope(), request.admitted.signed_envelope)) {
    return AlreadyUsed(event_id, index);
  }
  AppendResult r;
  r.index = index;
  r.leaf_hash = merkle::HashLeaf(*bytes);
  r.recorded_at_unix_micros = stored.recorded_at_unix_micros();
  r.stream_version = stored.stream_version();
  r.entry_bytes = *std::move(bytes);
  r.duplicate = true;
  return r;
}

absl::StatusOr<AppendResult> Sequencer::SequenceOne(Batch& batch, size_t position) {
  Request& request = batch.requests[position];
  const Admitted& admitted = request.admitted;
  const v1::Envelope& env = admitted.envelope;

  // Shape checks the rest relies on (admission already did the full ones).
  if (env.event_id().size() != ledger::kEventIdSize) {
    return absl::InvalidArgumentError(absl::StrCat("event_id must be ", ledger::kEventIdSize,
                                                   " bytes, got ", env.event_id().size()));
  }
  if (absl::Status s = ValidateStreamId(env.stream_id()); !s.ok()) return s;
  if (!chain_.trial_id.empty() && env.trial_id() != chain_.trial_id) {
    return absl::InvalidArgumentError(absl::StrCat("envelope is for trial \"", env.trial_id(),
                                                   "\" but this ledger records trial \"",
                                                   chain_.trial_id, "\""));
  }

  // 1. Idempotency.
  if (auto it = batch.event_ids.find(env.event_id()); it != batch.event_ids.end()) {
    const Request& original = batch.requests[it->second];
    const AppendResult& first = *batch.results[it->second];
    if (!SameSignedEnvelope(original.admitted.signed_envelope, admitted.signed_envelope)) {
      return AlreadyUsed(env.event_id(), first.index);
    }
    AppendResult dup = first;
    dup.duplicate = true;
    return dup;
  }
  const EventIdKey event_key = ToEventIdKey(env.event_id());
  if (std::optional<uint64_t> pending = indexer_->FindPending(event_key); pending.has_value()) {
    // Sequenced earlier, not indexed yet. If its batch is not written yet,
    // answer from the stored entry once it is there.
    if (*pending >= published_->size()) {
      WaitDrained();
      if (absl::Status health = published_->health(); !health.ok()) return health;
    }
    return StoredDuplicate(request, *pending);
  }
  std::string value;
  absl::StatusOr<bool> used = db_->Find(Cf::kEventIds, env.event_id(), &value);
  if (!used.ok()) return used.status();
  if (*used) {
    absl::StatusOr<uint64_t> index = DecodeU64Value(value, "an event_ids row");
    if (!index.ok()) return index.status();
    return StoredDuplicate(request, *index);
  }

  // 2. Expected stream version.
  uint64_t version = 0;
  if (auto it = batch.stream_versions.find(env.stream_id()); it != batch.stream_versions.end()) {
    version = it->second;
  } else if (auto cached = stream_heads_.find(env.stream_id()); cached != stream_heads_.end()) {
    version = cached->second;
  } else {
    absl::StatusOr<uint64_t> v = LastStreamVersion(*db_, env.stream_id());
    if (!v.ok()) return v.status();
    version = *v;
  }
  if (env.has_expected_stream_version() && env.expected_stream_version() != version) {
    return absl::AbortedError(absl::StrCat("stream ", env.stream_id(), " is at version ", version,
                                           ", expected ", env.expected_stream_version()));
  }

  // 3. The signer's key is still the registered one.
  if (absl::Status s = CheckKey(admitted); !s.ok()) return s;
  if (env.event().has_genesis() && env.event().genesis().ledger_origin() != checkpointer_->origin()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "genesis names ledger origin \"", env.event().genesis().ledger_origin(),
        "\" but this ledger's checkpoints are signed as \"", checkpointer_->origin(), "\""));
  }

  // 4. Domain rules.
  const uint64_t index = chain_.size;
  const int64_t recorded_at = std::max(batch.now, chain_.last_recorded_at);
  const ledger::Candidate candidate{env, index, recorded_at, version + 1};
  if (registry_ != nullptr) {
    if (absl::Status s = registry_->Check(candidate); !s.ok()) return s;
  }
  for (const ledger::StateMachine* m : machines_) {
    if (absl::Status s = m->Check(candidate); !s.ok()) return s;
  }

  // Accepted: build, fold, stage.
  ledger::ParsedEntry parsed;
  // The stored bytes straight from the fields (storage/entry_encoding.h:
  // equal to protobuf's serialisation); parsed.entry is filled too, as
  // the state machines read it.
  parsed.bytes = EncodeEntry(index, chain_.head, recorded_at, version + 1,
                             admitted.signed_envelope);
  parsed.entry.set_index(index);
  parsed.entry.set_prev_leaf_hash(chain_.head);
  parsed.entry.set_recorded_at_unix_micros(recorded_at);
  parsed.entry.set_stream_version(version + 1);
  *parsed.entry.mutable_signed_envelope() = admitted.signed_envelope;
  parsed.leaf_hash = merkle::HashLeaf(parsed.bytes);
  // The request's envelope is not needed any more: move it.
  parsed.envelope = std::move(request.admitted.envelope);
  const v1::Envelope& stored_env = parsed.envelope;

  if (!state_locked_) {
    published_->state_mu().WriterLock();
    state_locked_ = true;
  }
  if (registry_ != nullptr) {
    absl::MutexLock registry_lock(&published_->registry_mu());  // admission reads it
    registry_->Apply(parsed);
  }
  for (ledger::StateMachine* m : machines_) m->Apply(parsed);

  rocksdb::WriteBatch& w = batch.write;
  chain_.tree.Append(parsed.leaf_hash, [&](merkle::NodeId id, absl::string_view hash) {
    // Nodes below kStoredNodeMinLevel are not stored: their tile's entry
    // rows determine them (storage/schema.h).
    if (id.level >= kStoredNodeMinLevel) {
      w.Put(db_->handle(Cf::kNodes), ToSlice(NodeKey(id)), ToSlice(hash));
    }
    batch.cached_nodes.emplace_back(id, std::string(hash));  // NodeStore keeps recent ones
  });
  w.Put(db_->handle(Cf::kEntries), ToSlice(EntryKey(index)), ToSlice(parsed.bytes));
  // The index rows are written after the synced batch (storage/indexer.h).
  batch.index_rows.push_back(IndexRow{event_key, stored_env.stream_id(), version + 1, index});
  batch.event_ids[stored_env.event_id()] = position;
  batch.stream_versions[stored_env.stream_id()] = version + 1;
  ++batch.appended;

  if (index == 0) chain_.trial_id = stored_env.trial_id();
  chain_.size = index + 1;
  chain_.head = parsed.leaf_hash;
  chain_.last_recorded_at = recorded_at;

  AppendResult r;
  r.index = index;
  r.leaf_hash = std::move(parsed.leaf_hash);
  r.recorded_at_unix_micros = recorded_at;
  r.stream_version = version + 1;
  r.entry_bytes = std::move(parsed.bytes);
  return r;
}

absl::Status Sequencer::CheckFreeSpace() const {
  if (options_.min_free_bytes == 0) return absl::OkStatus();
  struct statvfs fs;
  if (statvfs(options_.dir.c_str(), &fs) != 0) return absl::OkStatus();  // cannot tell: let RocksDB answer
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes >= options_.min_free_bytes) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      "ledger ", options_.dir, ": only ", free_bytes >> 20, " MiB free on its file system (reserve ",
      options_.min_free_bytes >> 20, " MiB): appends are refused until space is freed"));
}

std::unique_ptr<Sequencer::Batch> Sequencer::Prepare(std::vector<Request> requests) {
  auto refuse_all = [&](const absl::Status& status) -> std::unique_ptr<Batch> {
    for (Request& r : requests) r.done(status);
    absl::MutexLock lock(&mu_);
    stats_.requests += requests.size();
    return nullptr;
  };
  if (absl::Status health = published_->health(); !health.ok()) return refuse_all(health);
  if (absl::Status space = CheckFreeSpace(); !space.ok()) return refuse_all(space);

  const absl::Duration cpu_start = ThreadCpu();
  auto batch = std::make_unique<Batch>();
  const size_t n = requests.size();
  batch->requests = std::move(requests);
  batch->results.reserve(n);
  const absl::Time start = absl::Now();
  batch->now = absl::ToUnixMicros(start);
  for (size_t i = 0; i < n; ++i) batch->results.push_back(SequenceOne(*batch, i));
  const absl::Time sequenced = absl::Now();
  batch->sequence_time = sequenced - start;
  if (batch->appended == 0) {  // answered in order, nothing to write
    batch->times.sequenced = sequenced;
    batch->sequence_cpu = ThreadCpu() - cpu_start;
    return batch;
  }

  batch->size = chain_.size;
  batch->root = chain_.tree.Root();
  batch->note = checkpointer_->Sign(chain_.size, batch->root);
  batch->times.sequenced = absl::Now();
  batch->sign_time = batch->times.sequenced - sequenced;
  if (batch->note.ok()) {
    // The checkpoint is the batch's only meta row: size and root are in
    // it, the head and recorded_at are those of the last entry.
    batch->write.Put(db_->handle(Cf::kMeta), ToSlice(kMetaCheckpoint), ToSlice(*batch->note));
  }
  // The versions as sequenced, for the next batches' lookups (the store
  // has them once this batch is written; if it is not, the ledger fails).
  if (stream_heads_.size() + batch->stream_versions.size() > kMaxCachedStreamHeads) {
    // A cleared stream is then read from the store: everything before this
    // batch must be durable and indexed (if that fails, so did the ledger).
    WaitDrained();
    indexer_->WaitIndexed(chain_.size - batch->appended).IgnoreError();
    stream_heads_.clear();
  }
  for (const auto& [stream, version] : batch->stream_versions) stream_heads_[stream] = version;
  // From now on the batch's event ids are found in the indexer's pending map.
  indexer_->Stage(chain_.size, std::move(batch->index_rows));
  batch->sequence_cpu = ThreadCpu() - cpu_start;
  return batch;
}

void Sequencer::Commit(Batch& batch) {
  const absl::Duration cpu_start = ThreadCpu();
  const size_t n = batch.requests.size();
  absl::Status failure;
  absl::Duration write_time;
  const absl::Time write_start = absl::Now();
  if (batch.appended > 0) {
    if (absl::Status health = published_->health(); !health.ok()) {
      failure = health;  // an earlier batch failed: this one is not written
    } else if (!batch.note.ok()) {
      failure = absl::UnavailableError(absl::StrCat(
          "signing the checkpoint failed; the ledger refuses appends until reopened: ",
          batch.note.status().message()));
    } else {
      absl::Status write_status = db_->Write(&batch.write, options_.sync);
      write_time = absl::Now() - write_start;
      if (!write_status.ok()) {
        failure = absl::UnavailableError(absl::StrCat(
            "ledger write failed; the ledger refuses appends until reopened: ",
            write_status.message()));
      } else {
        indexer_->Durable(batch.size);  // before Publish: readers wait for the index
        nodes_->Publish(batch.cached_nodes);
        published_->Publish(batch.size, batch.root, *batch.note);
      }
    }
    if (!failure.ok()) published_->Fail(failure);
  }
  const absl::Time written = absl::Now();

  if (!failure.ok()) {
    for (Request& r : batch.requests) r.done(failure);
  } else {
    uint64_t checkpoint_size = 0;
    std::string checkpoint;
    published_->Checkpoint(&checkpoint_size, &checkpoint);
    for (size_t i = 0; i < n; ++i) {
      absl::StatusOr<AppendResult>& r = batch.results[i];
      if (r.ok()) {
        r->checkpoint_size = checkpoint_size;
        r->checkpoint = checkpoint;
      }
      batch.requests[i].done(std::move(r));
    }
  }
  const absl::Time answered = absl::Now();
  if (BatchTrace* trace = BatchTrace::Installed(); trace != nullptr) {
    batch.times.requests = n;
    batch.times.appended = batch.appended;
    batch.times.write_start = write_start;
    batch.times.write_end = write_start + write_time;
    batch.times.answered = answered;
    trace->Record(batch.times);
  }
  absl::MutexLock lock(&mu_);
  stats_.requests += n;
  if (failure.ok()) {
    stats_.entries_appended += batch.appended;
    if (batch.appended > 0) ++stats_.batches_written;
  }
  stats_.sequence_time += batch.sequence_time;
  stats_.sign_time += batch.sign_time;
  stats_.write_time += write_time;
  stats_.answer_time += answered - written;
  stats_.sequence_cpu_time += batch.sequence_cpu;
  stats_.commit_cpu_time += ThreadCpu() - cpu_start;
}

}  // namespace trialog::storage
