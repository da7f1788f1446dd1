// trialog C++ client library: signs envelopes, appends them with deadlines
// and idempotent retries, and verifies everything the server answers before
// reporting success — every receipt (checkpoint signature under the pinned
// ledger key, inclusion proof of the entry), every read entry (against a
// checkpoint), and every newer checkpoint (consistent with the last trusted
// one, so the server cannot fork or rewrite history unnoticed).
//
// Thread-safety: LedgerClient and Signer are safe to use from many threads.

#ifndef TRIALOG_CLIENT_CLIENT_H_
#define TRIALOG_CLIENT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/crypto/crypto.h"
#include "core/ledger/entry.h"
#include "core/note/checkpoint.h"
#include "core/note/keys.h"
#include "grpcpp/channel.h"
#include "trialog/v1/service.grpc.pb.h"
#include "witness/policy.h"

namespace trialog::client {

// How to reach trialogd.
struct ChannelOptions {
  std::string target;            // "host:port"
  bool plaintext = false;        // no TLS (trialogd allows it on loopback only)
  std::string tls_root_ca_pem;   // CA that signed the server's certificate
  std::string tls_client_cert_pem;  // mutual TLS: this client's certificate chain
  std::string tls_client_key_pem;   // mutual TLS: its private key
  std::string tls_server_name;   // expected name in the server certificate (default: host)
  // Distinct HTTP/2 connections; calls are spread round-robin. One gRPC
  // channel is one connection, which caps throughput (limits.md §3c).
  int connections = 1;
};

// Makes `options.connections` channels. INVALID_ARGUMENT when neither TLS
// material nor plaintext is given.
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> MakeChannels(
    const ChannelOptions& options);

// A principal's signing identity: the actor it claims and its key.
class Signer {
 public:
  Signer(v1::Actor actor, crypto::SigningKey key);
  // Loads the key from an encrypted key file (core/crypto/key_file.h).
  static absl::StatusOr<Signer> FromKeyFile(const std::string& path,
                                            absl::string_view passphrase, v1::Actor actor);

  // Completes `envelope` and signs it: sets trial_id, the actor, a fresh
  // event id if none, client_unix_micros, and observed_at (now, UTC) if
  // unset. The returned bytes are what must be sent (and resent on retry).
  v1::SignedEnvelope Sign(absl::string_view trial_id, v1::Envelope envelope) const;

  const v1::Actor& actor() const { return actor_; }
  std::string public_key() const { return key_.public_key(); }
  const crypto::SigningKey& key() const { return key_; }

 private:
  v1::Actor actor_;
  crypto::SigningKey key_;
};

struct ClientOptions {
  absl::Duration deadline = absl::Seconds(10);  // per attempt
  // Attempts per append; UNAVAILABLE and DEADLINE_EXCEEDED are retried with
  // the same bytes (the event id makes the retry idempotent).
  int max_attempts = 4;
  absl::Duration initial_backoff = absl::Milliseconds(50);  // doubles per retry
  // The verifier's witness policy for RefreshCosignedCheckpoint and
  // CosignedReceipt: which witnesses (cosigner keys) and how many of them
  // must have cosigned, e.g. 2 of 3 (witness::MakeWitnessPolicy). The
  // default (no witnesses, quorum 0) is the ledger key alone.
  witness::WitnessPolicy witness_policy;
};

// An append the client verified.
struct VerifiedAppend {
  uint64_t index = 0;
  std::string leaf_hash;
  int64_t recorded_at_unix_micros = 0;
  uint64_t stream_version = 0;
  bool duplicate = false;  // the event id was already appended (a retry)
  ledger::ParsedEntry entry;
  note::Checkpoint checkpoint;  // the signed checkpoint covering the entry
  v1::Receipt receipt;          // keep it: it verifies offline later
};

class LedgerClient {
 public:
  // A client of trial `trial_id` pinning `verifier_key` (the C2SP verifier
  // key of the trial's checkpoints: `trialogd --print_verifier_key`).
  static absl::StatusOr<std::unique_ptr<LedgerClient>> Create(
      std::vector<std::shared_ptr<grpc::Channel>> channels, std::string trial_id,
      absl::string_view verifier_key, ClientOptions options = {});

  // Appends one signed envelope and verifies the receipt: the checkpoint is
  // signed by the pinned key and consistent with the trusted one, the
  // inclusion proof leads to its root, and the entry holds exactly the
  // bytes sent. Server statuses are returned as they came; a receipt that
  // does not verify gives DATA_LOSS or UNAUTHENTICATED saying what is wrong.
  absl::StatusOr<VerifiedAppend> Append(const v1::SignedEnvelope& signed_envelope);
  // One AppendBatch call (retried as a whole on UNAVAILABLE/DEADLINE):
  // result i answers envelope i, each verified as Append's.
  std::vector<absl::StatusOr<VerifiedAppend>> AppendBatch(
      const std::vector<v1::SignedEnvelope>& signed_envelopes);

  // Reads entries [from, from + limit) (limit 0 = to the end; with
  // `stream_id`, only that stream's) under one signed checkpoint, checking
  // each entry's inclusion proof and the checkpoint's consistency with the
  // trusted one.
  absl::StatusOr<std::vector<ledger::ParsedEntry>> ReadVerified(uint64_t from, uint64_t limit,
                                                                absl::string_view stream_id = "");

  // Fetches the latest checkpoint, verifies its signature and its
  // consistency with the trusted one, and trusts it.
  absl::StatusOr<note::Checkpoint> RefreshCheckpoint();

  // Follows the ledger from `from_index`: fn(entry) for every entry once, in
  // index order, checking each entry's chain link to the previous one;
  // reconnects (resuming after the last entry seen) when the stream breaks.
  // Returns OK when fn returns false, DEADLINE_EXCEEDED after `duration`,
  // or the first non-retryable error.
  absl::Status Subscribe(uint64_t from_index,
                         const std::function<bool(const ledger::ParsedEntry&)>& fn,
                         absl::Duration duration);

  // Fetches the newest checkpoint the server's witnesses cosigned
  // (GetCheckpoint with cosigned = true), verifies the ledger signature,
  // the witness policy (ClientOptions::witness_policy) and consistency with
  // the trusted checkpoint, and trusts it. A checkpoint lacking the
  // cosignatures the policy requires is FAILED_PRECONDITION saying so
  // ("... cosigned by 1 of 3 policy witnesses (w1); the policy needs 2"); a
  // forged cosignature is UNAUTHENTICATED; a server without witnesses or
  // without a cosigned checkpoint yet is FAILED_PRECONDITION too.
  absl::StatusOr<witness::CosignedCheckpoint> RefreshCosignedCheckpoint();

  // A receipt for entry `index` under the newest witness-cosigned checkpoint
  // (GetEntry with with_proof and cosigned), verified like an append's
  // receipt plus the witness policy; trusts its checkpoint. Keep it: it
  // verifies offline with the ledger key and the witness keys.
  // FAILED_PRECONDITION while no cosigned checkpoint covers the entry.
  absl::StatusOr<v1::Receipt> CosignedReceipt(uint64_t index);

  // Starts trust from a checkpoint obtained elsewhere (e.g. saved from an
  // earlier run). It must verify under the pinned key.
  absl::Status TrustCheckpoint(absl::string_view checkpoint_note);
  std::optional<note::Checkpoint> trusted_checkpoint() const;
  const note::Verifier& verifier() const { return verifier_; }
  const std::string& trial_id() const { return trial_id_; }
  // The next channel's stub (round-robin), for calls not wrapped here.
  v1::LedgerService::Stub* stub();

 private:
  LedgerClient() = default;
  // Verifies a receipt against the bytes sent and advances trust.
  absl::StatusOr<VerifiedAppend> VerifyAppend(const v1::SignedEnvelope& sent,
                                              const v1::AppendResponse& response);
  // Checks `cp` (signature already verified) is consistent with the trusted
  // checkpoint, fetching a consistency proof; trusts it if newer.
  absl::Status AdvanceTrust(const note::Checkpoint& cp);
  void SetDeadline(grpc::ClientContext* ctx) const;

  std::string trial_id_;
  note::Verifier verifier_;
  ClientOptions options_;
  std::vector<std::unique_ptr<v1::LedgerService::Stub>> stubs_;
  std::atomic<size_t> next_stub_{0};
  mutable absl::Mutex mu_;
  std::optional<note::Checkpoint> trusted_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trialog::client

#endif  // TRIALOG_CLIENT_CLIENT_H_
