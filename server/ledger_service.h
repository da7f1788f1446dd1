// trialog.v1.LedgerService over the synchronous gRPC API. Each handler
// thread does admission (parse, key lookup under the registry lock only,
// Ed25519 verification outside any lock, so verification runs in parallel
// across calls) and hands the admitted envelope to the trial's sequencer,
// which batches concurrent calls into one group commit.

#ifndef TRIALOG_SERVER_LEDGER_SERVICE_H_
#define TRIALOG_SERVER_LEDGER_SERVICE_H_

#include <atomic>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "absl/status/statusor.h"
#include "server/access_control.h"
#include "server/ledger_set.h"
#include "server/metrics.h"
#include "server/witnessing.h"
#include "trialog/v1/service.grpc.pb.h"

namespace trialog::server {

struct ServiceLimits {
  size_t max_batch_envelopes = 1024;  // per AppendBatch call
  size_t max_stream_in_flight = 256;  // AppendStream envelopes awaiting the sequencer
  size_t max_read_limit = 0;          // 0 = unlimited
};

class LedgerServiceImpl final : public v1::LedgerService::Service {
 public:
  // `ledgers` and `metrics` must outlive the service.
  LedgerServiceImpl(LedgerSet* ledgers, Metrics* metrics, ServiceLimits limits);

  // Stops accepting appends (new ones fail UNAVAILABLE "server is shutting
  // down") and makes Subscribe calls end with UNAVAILABLE; appends already
  // admitted still finish. Then waits until none is in flight or `grace`
  // passes; returns whether all finished.
  bool BeginShutdown(absl::Duration grace);

  // Serves cosigned checkpoints from `witnessing` (not owned; may be null:
  // no witnesses). Call before serving.
  void set_witnessing(const Witnessing* witnessing) { witnessing_ = witnessing; }

  // Checks every call with `access` (not owned; null = no checks, no
  // access log). Call before serving.
  void set_access_control(AccessControl* access) { access_ = access; }

  grpc::Status Append(grpc::ServerContext* context, const v1::AppendRequest* request,
                      v1::AppendResponse* response) override;
  grpc::Status AppendBatch(grpc::ServerContext* context, const v1::AppendBatchRequest* request,
                           v1::AppendBatchResponse* response) override;
  grpc::Status AppendStream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::AppendResult, v1::AppendRequest>* stream) override;
  grpc::Status Read(grpc::ServerContext* context, const v1::ReadRequest* request,
                    grpc::ServerWriter<v1::ReadResponse>* writer) override;
  grpc::Status Subscribe(grpc::ServerContext* context, const v1::SubscribeRequest* request,
                         grpc::ServerWriter<v1::ReadResponse>* writer) override;
  grpc::Status GetCheckpoint(grpc::ServerContext* context,
                             const v1::GetCheckpointRequest* request,
                             v1::GetCheckpointResponse* response) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* context,
                                 const v1::GetInclusionProofRequest* request,
                                 v1::GetInclusionProofResponse* response) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* context,
                                   const v1::GetConsistencyProofRequest* request,
                                   v1::GetConsistencyProofResponse* response) override;
  grpc::Status GetEntry(grpc::ServerContext* context, const v1::GetEntryRequest* request,
                        v1::GetEntryResponse* response) override;
  grpc::Status ListTrials(grpc::ServerContext* context, const v1::ListTrialsRequest* request,
                          v1::ListTrialsResponse* response) override;

 private:
  // The witness-cosigned checkpoint (FAILED_PRECONDITION without witnesses).
  absl::StatusOr<CheckpointView> LatestCosigned(absl::string_view trial_id) const;
  // Appends one envelope to `trial_id` (creating the trial for a genesis
  // when allowed). Records metrics.
  absl::StatusOr<v1::AppendResponse> AppendOne(absl::string_view trial_id,
                                               v1::SignedEnvelope signed_envelope);
  // Resolves the trial of an append: the served ledger, or, for an unknown
  // trial, NOT_FOUND unless `signed_envelope` is a genesis and new trials
  // are accepted (then *create is set).
  absl::StatusOr<std::shared_ptr<TrialLedger>> TrialForAppend(
      absl::string_view trial_id, const v1::SignedEnvelope& signed_envelope, bool* create);

  LedgerSet* ledgers_;
  Metrics* metrics_;
  const Witnessing* witnessing_ = nullptr;
  AccessControl* access_ = nullptr;
  const ServiceLimits limits_;
  // Counts envelopes between acceptance and answer; Enter fails once
  // shutting down.
  bool EnterAppend();
  void ExitAppend();

  std::atomic<bool> shutting_down_{false};
  absl::Mutex in_flight_mu_;
  int64_t in_flight_ ABSL_GUARDED_BY(in_flight_mu_) = 0;
};

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_LEDGER_SERVICE_H_
