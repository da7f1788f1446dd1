#include "server/bulk_import.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/crypto/crypto.h"
#include "core/ledger/batch.h"
#include "core/ledger/entry.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"
#include "server/status_util.h"
#include "storage/schema.h"

namespace trialog::server {
namespace {

absl::Status At(size_t position, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat("envelope ", position, ": ", s.message()));
}

// Copies of the registry and the domain machines, for the dry run.
struct Copies {
  std::unique_ptr<ledger::StateMachine> registry;
  std::vector<std::unique_ptr<ledger::StateMachine>> domain;
  uint64_t size = 0;
};

absl::StatusOr<Copies> CopyState(const TrialLedger& trial) {
  return trial.ReadLedgerState(
      [&](const ledger::PrincipalRegistry& registry,
          const std::vector<std::unique_ptr<ledger::StateMachine>>& domain)
          -> absl::StatusOr<Copies> {
        Copies c;
        c.size = trial.size();
        c.registry = registry.Clone();
        for (const auto& m : domain) {
          std::unique_ptr<ledger::StateMachine> copy = m->Clone();
          if (copy == nullptr) {
            return absl::UnimplementedError(
                "bulk import needs state machines that can be copied (StateMachine::Clone); "
                "this server's domain has one that cannot");
          }
          c.domain.push_back(std::move(copy));
        }
        return c;
      });
}

}  // namespace

absl::StatusOr<v1::ImportBatchResponse> ImportBatch(TrialLedger& trial,
                                                    const v1::SignedBatch& batch,
                                                    bool want_receipts) {
  // 1. Admission: shape, signer, actors; one signature.
  absl::StatusOr<ledger::AdmittedBatch> admitted =
      trial.ReadLedgerState([&](const ledger::PrincipalRegistry& registry, const auto&) {
        return ledger::PrepareBatchAdmission(trial.trial_id(), batch, registry);
      });
  if (!admitted.ok()) return admitted.status();
  TRIALOG_RETURN_IF_ERROR(ledger::VerifyBatchAdmission(*admitted));
  const size_t n = admitted->envelopes.size();

  // 2. Hold the trial; dry run.
  TrialLedger::ExclusiveAppend hold(&trial);
  std::vector<int64_t> existing(n, -1);  // index of an identical stored entry
  absl::flat_hash_set<std::string> batch_ids;
  size_t already = 0;
  for (size_t i = 0; i < n; ++i) {
    const ledger::AdmittedEnvelope& a = admitted->envelopes[i];
    const std::string& id = a.envelope.event_id();
    if (!batch_ids.insert(id).second) {
      return At(i, absl::AlreadyExistsError(absl::StrCat(
                       "event id ", HexEncode(id), " appears twice in the batch")));
    }
    absl::StatusOr<uint64_t> index = trial.FindEventId(id);
    if (!index.ok()) {
      if (index.status().code() == absl::StatusCode::kNotFound) continue;
      return At(i, index.status());
    }
    TRIALOG_ASSIGN_OR_RETURN(std::string bytes, trial.ReadEntry(*index));
    TRIALOG_ASSIGN_OR_RETURN(ledger::ParsedEntry stored, ledger::ParseEntry(bytes));
    const v1::SignedEnvelope& se = stored.entry.signed_envelope();
    if (se.envelope() != a.signed_envelope.envelope() || !se.has_batch_proof() ||
        se.batch_proof().signature() != admitted->signature ||
        se.batch_proof().position() != i || se.batch_proof().batch_size() != n) {
      return At(i, absl::AlreadyExistsError(absl::StrCat(
                       "event id ", HexEncode(id), " is already used by entry ", *index,
                       ", which is not this envelope of this signed batch; "
                       "a new event needs a new event id")));
    }
    existing[i] = static_cast<int64_t>(*index);
    ++already;
  }

  std::vector<ledger::AdmittedEnvelope> to_append;
  std::vector<size_t> positions;  // batch position of to_append[k]
  if (already < n) {
    TRIALOG_ASSIGN_OR_RETURN(Copies copies, CopyState(trial));
    // The current version of every stream the batch appends to, read in
    // one pass (first event of each stream named if its id is malformed).
    absl::flat_hash_map<std::string, uint64_t> versions;
    {
      std::vector<absl::string_view> streams;
      for (size_t i = 0; i < n; ++i) {
        if (existing[i] >= 0) continue;
        const std::string& stream = admitted->envelopes[i].envelope.stream_id();
        if (!versions.emplace(stream, 0).second) continue;
        if (absl::Status s = storage::ValidateStreamId(stream); !s.ok()) return At(i, s);
        streams.push_back(stream);
      }
      TRIALOG_ASSIGN_OR_RETURN(std::vector<uint64_t> current, trial.StreamVersions(streams));
      for (size_t k = 0; k < streams.size(); ++k) versions.find(streams[k])->second = current[k];
    }
    const int64_t now = absl::ToUnixMicros(absl::Now());
    uint64_t next_index = copies.size;
    for (size_t i = 0; i < n; ++i) {
      if (existing[i] >= 0) continue;
      ledger::AdmittedEnvelope& a = admitted->envelopes[i];
      const std::string& stream = a.envelope.stream_id();
      auto it = versions.find(stream);
      if (a.envelope.has_expected_stream_version() &&
          a.envelope.expected_stream_version() != it->second) {
        return At(i, absl::AbortedError(absl::StrCat("stream ", stream, " is at version ",
                                                     it->second, ", expected ",
                                                     a.envelope.expected_stream_version())));
      }
      const uint64_t version = it->second + 1;
      ledger::Candidate candidate{a.envelope, next_index, now, version};
      if (absl::Status s = copies.registry->Check(candidate); !s.ok()) return At(i, s);
      for (const auto& m : copies.domain) {
        if (absl::Status s = m->Check(candidate); !s.ok()) return At(i, s);
      }
      // Fold it into the copies as the sequencer will, with only what
      // Apply reads (StateMachine::Apply's contract): no entry bytes, and
      // the time and the leaf hash are placeholders. The real leaf hash
      // depends on the chain link and the time, fixed only when sequenced,
      // so the placeholder is random: a rule comparing a record's hash (an
      // e-signature's) must not be satisfiable by a client guessing it.
      ledger::ParsedEntry parsed;
      parsed.entry.set_index(next_index);
      parsed.entry.set_recorded_at_unix_micros(now);
      parsed.entry.set_stream_version(version);
      parsed.leaf_hash = crypto::RandomBytes(merkle::kHashSize);
      parsed.envelope = a.envelope;
      copies.registry->Apply(parsed);
      for (const auto& m : copies.domain) m->Apply(parsed);
      it->second = version;
      ++next_index;
      positions.push_back(i);
      to_append.push_back(std::move(a));
    }
  }

  // 3. Append all of it; answer when all is durable.
  v1::ImportBatchResponse response;
  response.set_count(n);
  CheckpointView checkpoint;
  if (to_append.empty()) {
    response.set_duplicate(true);
    TRIALOG_ASSIGN_OR_RETURN(checkpoint, trial.LatestCheckpoint());
  } else {
    std::vector<absl::StatusOr<storage::AppendResult>> results =
        trial.AppendAllRaw(std::move(to_append));
    uint64_t appended = 0;
    absl::Status first_error;
    size_t first_error_at = 0;
    size_t last_ok = 0;
    for (size_t k = 0; k < results.size(); ++k) {
      if (results[k].ok() && !results[k]->duplicate) {
        existing[positions[k]] = static_cast<int64_t>(results[k]->index);
        ++appended;
        last_ok = k;
      } else if (first_error.ok()) {
        first_error = results[k].ok()
                          ? absl::InternalError("appended concurrently by another caller")
                          : results[k].status();
        first_error_at = positions[k];
      }
    }
    if (!first_error.ok()) {
      // Cannot happen while the trial is held and the dry run passed,
      // except when the ledger fails (UNAVAILABLE: then nothing of this
      // group commit is durable; earlier group commits may be — a retry
      // completes the batch).
      return At(first_error_at,
                absl::Status(first_error.code(),
                             absl::StrCat(first_error.message(), " (", appended, " of ",
                                          results.size(),
                                          " envelopes were appended; retrying the same batch "
                                          "appends the rest)")));
    }
    TRIALOG_ASSIGN_OR_RETURN(checkpoint, ParseOwnCheckpoint(results[last_ok]->checkpoint));
  }
  response.set_first_index(static_cast<uint64_t>(existing[0]));
  response.set_checkpoint(checkpoint.note);
  if (existing[0] > 0) {
    TRIALOG_ASSIGN_OR_RETURN(*response.mutable_consistency(),
                             trial.ConsistencyProof(static_cast<uint64_t>(existing[0]),
                                                    checkpoint.size));
  }
  if (want_receipts) {
    for (size_t i = 0; i < n; ++i) {
      TRIALOG_ASSIGN_OR_RETURN(*response.add_receipts(),
                               trial.ReceiptFor(static_cast<uint64_t>(existing[i]), checkpoint));
    }
  }
  return response;
}

grpc::Status BulkImportServiceImpl::ImportBatch(grpc::ServerContext* context,
                                                const v1::ImportBatchRequest* request,
                                                v1::ImportBatchResponse* response) {
  absl::StatusOr<Caller> caller =
      AuthorizeCall(access_, *context, Rpc::kImportBatch, request->trial_id(), {});
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (request->ByteSizeLong() > kMaxImportBatchBytes) {
    return ToGrpcStatus(absl::ResourceExhaustedError(absl::StrCat(
        "request is ", request->ByteSizeLong(), " bytes; the limit is ", kMaxImportBatchBytes)));
  }
  absl::StatusOr<std::shared_ptr<TrialLedger>> trial = ledgers_->Find(request->trial_id());
  if (!trial.ok()) return ToGrpcStatus(trial.status());
  if (access_ != nullptr && request->batch().envelopes_size() > 0) {
    // With mutual TLS the caller must be the batch signer (envelope 0's
    // actor; admission checks that every envelope names the same actor).
    v1::SignedEnvelope first;
    first.set_envelope(request->batch().envelopes(0));
    if (absl::Status s = access_->CheckSigner(*caller, Rpc::kImportBatch, request->trial_id(), first);
        !s.ok()) {
      return ToGrpcStatus(s);
    }
  }
  absl::StatusOr<v1::ImportBatchResponse> r =
      server::ImportBatch(**trial, request->batch(), request->want_receipts());
  if (!r.ok()) return ToGrpcStatus(r.status());
  *response = *std::move(r);
  return grpc::Status::OK;
}

}  // namespace trialog::server
