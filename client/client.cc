#include "client/client.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/crypto/key_file.h"
#include "core/ledger/envelope_signer.h"
#include "core/ledger/receipt.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace trialog::client {
namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

bool Retryable(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

}  // namespace

absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> MakeChannels(
    const ChannelOptions& options) {
  if (options.target.empty()) return absl::InvalidArgumentError("no target address");
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.plaintext) {
    creds = grpc::InsecureChannelCredentials();
  } else if (!options.tls_root_ca_pem.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_root_ca_pem;
    ssl.pem_cert_chain = options.tls_client_cert_pem;
    ssl.pem_private_key = options.tls_client_key_pem;
    creds = grpc::SslCredentials(ssl);
  } else {
    return absl::InvalidArgumentError(
        "no transport security: give tls_root_ca_pem, or plaintext for a loopback server");
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  const int n = std::max(1, options.connections);
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    // A distinct argument and a local subchannel pool give each channel its
    // own HTTP/2 connection.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("trialog.channel_index", i);
    args.SetMaxReceiveMessageSize(64 << 20);
    if (!options.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(options.tls_server_name);
    }
    channels.push_back(grpc::CreateCustomChannel(options.target, creds, args));
  }
  return channels;
}

Signer::Signer(v1::Actor actor, crypto::SigningKey key)
    : actor_(std::move(actor)), key_(std::move(key)) {}

absl::StatusOr<Signer> Signer::FromKeyFile(const std::string& path, absl::string_view passphrase,
                                           v1::Actor actor) {
  TRIALOG_ASSIGN_OR_RETURN(crypto::SigningKey key, crypto::LoadKeyFile(path, passphrase));
  return Signer(std::move(actor), std::move(key));
}

v1::SignedEnvelope Signer::Sign(absl::string_view trial_id, v1::Envelope envelope) const {
  envelope.set_trial_id(std::string(trial_id));
  *envelope.mutable_actor() = actor_;
  if (envelope.event_id().empty()) envelope.set_event_id(ledger::NewEventId());
  const int64_t now = absl::ToUnixMicros(absl::Now());
  envelope.set_client_unix_micros(now);
  if (!envelope.has_observed_at()) envelope.mutable_observed_at()->set_unix_micros(now);
  return ledger::SignEnvelope(envelope, key_);
}

absl::StatusOr<std::unique_ptr<LedgerClient>> LedgerClient::Create(
    std::vector<std::shared_ptr<grpc::Channel>> channels, std::string trial_id,
    absl::string_view verifier_key, ClientOptions options) {
  if (channels.empty()) return absl::InvalidArgumentError("no channels");
  std::unique_ptr<LedgerClient> c(new LedgerClient());
  TRIALOG_ASSIGN_OR_RETURN(c->verifier_, note::ParseVerifierKey(verifier_key));
  const std::string suffix = absl::StrCat("/", trial_id);
  if (c->verifier_.name.size() < suffix.size() ||
      c->verifier_.name.compare(c->verifier_.name.size() - suffix.size(), suffix.size(),
                                suffix) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("verifier key name \"", c->verifier_.name,
                                                   "\" is not the origin of trial ", trial_id));
  }
  c->trial_id_ = std::move(trial_id);
  TRIALOG_RETURN_IF_ERROR(witness::CheckWitnessPolicy(options.witness_policy));
  c->options_ = options;
  for (auto& ch : channels) c->stubs_.push_back(v1::LedgerService::NewStub(ch));
  return c;
}

v1::LedgerService::Stub* LedgerClient::stub() {
  return stubs_[next_stub_.fetch_add(1, std::memory_order_relaxed) % stubs_.size()].get();
}

void LedgerClient::SetDeadline(grpc::ClientContext* ctx) const {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + options_.deadline));
}

std::optional<note::Checkpoint> LedgerClient::trusted_checkpoint() const {
  absl::MutexLock lock(&mu_);
  return trusted_;
}

absl::Status LedgerClient::TrustCheckpoint(absl::string_view checkpoint_note) {
  TRIALOG_ASSIGN_OR_RETURN(note::Checkpoint cp,
                           ledger::OpenLedgerCheckpoint(checkpoint_note, verifier_));
  return AdvanceTrust(cp);
}

absl::Status LedgerClient::AdvanceTrust(const note::Checkpoint& cp) {
  while (true) {
    std::optional<note::Checkpoint> trusted = trusted_checkpoint();
    if (!trusted.has_value()) {
      absl::MutexLock lock(&mu_);
      if (trusted_.has_value()) continue;  // raced: check against it
      trusted_ = cp;  // first checkpoint: trust on first use (signature checked)
      return absl::OkStatus();
    }
    const bool newer = cp.size > trusted->size;
    const note::Checkpoint& older_cp = newer ? *trusted : cp;
    const note::Checkpoint& newer_cp = newer ? cp : *trusted;
    v1::ConsistencyProof proof;
    if (older_cp.size != newer_cp.size && older_cp.size != 0) {
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      v1::GetConsistencyProofRequest req;
      req.set_trial_id(trial_id_);
      req.set_old_size(older_cp.size);
      req.set_new_size(newer_cp.size);
      v1::GetConsistencyProofResponse resp;
      grpc::Status s = stub()->GetConsistencyProof(&ctx, req, &resp);
      if (!s.ok()) {
        absl::Status st = FromGrpc(s);
        return absl::Status(st.code(), absl::StrCat("fetching consistency proof ", older_cp.size,
                                                    " -> ", newer_cp.size, ": ", st.message()));
      }
      proof = resp.proof();
    }
    TRIALOG_RETURN_IF_ERROR(ledger::VerifyCheckpointConsistency(older_cp, newer_cp, proof));
    absl::MutexLock lock(&mu_);
    if (trusted_->size != trusted->size || trusted_->root_hash != trusted->root_hash) {
      continue;  // trust moved meanwhile: check against the new one
    }
    if (newer) trusted_ = cp;
    return absl::OkStatus();
  }
}

absl::StatusOr<VerifiedAppend> LedgerClient::VerifyAppend(const v1::SignedEnvelope& sent,
                                                          const v1::AppendResponse& response) {
  TRIALOG_ASSIGN_OR_RETURN(ledger::VerifiedReceipt verified,
                           ledger::VerifyReceipt(response.receipt(), verifier_));
  const v1::SignedEnvelope& stored = verified.entry.entry.signed_envelope();
  if (stored.envelope() != sent.envelope() || stored.signature() != sent.signature()) {
    return absl::DataLossError(absl::StrCat("receipt for entry ", verified.entry.entry.index(),
                                            " holds different envelope bytes than were sent"));
  }
  const v1::Entry& e = verified.entry.entry;
  if (response.index() != e.index() || response.leaf_hash() != verified.entry.leaf_hash ||
      response.recorded_at_unix_micros() != e.recorded_at_unix_micros() ||
      response.stream_version() != e.stream_version()) {
    return absl::DataLossError(absl::StrCat(
        "append answer (index ", response.index(), ", stream version ",
        response.stream_version(), ") differs from its own receipt's entry (index ", e.index(),
        ", stream version ", e.stream_version(), ")"));
  }
  if (verified.checkpoint.origin != verifier_.name) {
    return absl::UnauthenticatedError(absl::StrCat("checkpoint origin ", verified.checkpoint.origin,
                                                   " is not ", verifier_.name));
  }
  TRIALOG_RETURN_IF_ERROR(AdvanceTrust(verified.checkpoint));
  VerifiedAppend out;
  out.index = e.index();
  out.leaf_hash = verified.entry.leaf_hash;
  out.recorded_at_unix_micros = e.recorded_at_unix_micros();
  out.stream_version = e.stream_version();
  out.duplicate = response.duplicate();
  out.entry = std::move(verified.entry);
  out.checkpoint = std::move(verified.checkpoint);
  out.receipt = response.receipt();
  return out;
}

absl::StatusOr<VerifiedAppend> LedgerClient::Append(const v1::SignedEnvelope& signed_envelope) {
  v1::AppendRequest req;
  req.set_trial_id(trial_id_);
  *req.mutable_signed_envelope() = signed_envelope;
  absl::Duration backoff = options_.initial_backoff;
  grpc::Status last;
  for (int attempt = 0; attempt < std::max(1, options_.max_attempts); ++attempt) {
    if (attempt > 0) {
      absl::SleepFor(backoff);
      backoff *= 2;
    }
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::AppendResponse resp;
    last = stub()->Append(&ctx, req, &resp);
    if (last.ok()) return VerifyAppend(signed_envelope, resp);
    if (!Retryable(last)) break;
  }
  return FromGrpc(last);
}

std::vector<absl::StatusOr<VerifiedAppend>> LedgerClient::AppendBatch(
    const std::vector<v1::SignedEnvelope>& signed_envelopes) {
  v1::AppendBatchRequest req;
  req.set_trial_id(trial_id_);
  for (const auto& se : signed_envelopes) *req.add_signed_envelopes() = se;
  absl::Duration backoff = options_.initial_backoff;
  grpc::Status last;
  v1::AppendBatchResponse resp;
  for (int attempt = 0; attempt < std::max(1, options_.max_attempts); ++attempt) {
    if (attempt > 0) {
      absl::SleepFor(backoff);
      backoff *= 2;
    }
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    resp.Clear();
    last = stub()->AppendBatch(&ctx, req, &resp);
    if (last.ok() || !Retryable(last)) break;
  }
  std::vector<absl::StatusOr<VerifiedAppend>> out;
  if (!last.ok()) {
    out.assign(signed_envelopes.size(), FromGrpc(last));
    return out;
  }
  if (static_cast<size_t>(resp.results_size()) != signed_envelopes.size()) {
    out.assign(signed_envelopes.size(),
               absl::DataLossError(absl::StrCat("server answered ", resp.results_size(),
                                                " results for ", signed_envelopes.size(),
                                                " envelopes")));
    return out;
  }
  for (size_t i = 0; i < signed_envelopes.size(); ++i) {
    const v1::AppendResult& r = resp.results(static_cast<int>(i));
    if (r.code() != 0) {
      out.push_back(absl::Status(static_cast<absl::StatusCode>(r.code()), r.message()));
    } else {
      out.push_back(VerifyAppend(signed_envelopes[i], r.response()));
    }
  }
  return out;
}

absl::StatusOr<note::Checkpoint> LedgerClient::RefreshCheckpoint() {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::GetCheckpointRequest req;
  req.set_trial_id(trial_id_);
  v1::GetCheckpointResponse resp;
  TRIALOG_RETURN_IF_ERROR(FromGrpc(stub()->GetCheckpoint(&ctx, req, &resp)));
  TRIALOG_ASSIGN_OR_RETURN(note::Checkpoint cp,
                           ledger::OpenLedgerCheckpoint(resp.checkpoint(), verifier_));
  TRIALOG_RETURN_IF_ERROR(AdvanceTrust(cp));
  return cp;
}

absl::StatusOr<witness::CosignedCheckpoint> LedgerClient::RefreshCosignedCheckpoint() {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::GetCheckpointRequest req;
  req.set_trial_id(trial_id_);
  req.set_cosigned(true);
  v1::GetCheckpointResponse resp;
  TRIALOG_RETURN_IF_ERROR(FromGrpc(stub()->GetCheckpoint(&ctx, req, &resp)));
  TRIALOG_ASSIGN_OR_RETURN(
      witness::CosignedCheckpoint cp,
      witness::OpenCosignedCheckpoint(resp.checkpoint(), verifier_, options_.witness_policy));
  TRIALOG_RETURN_IF_ERROR(AdvanceTrust(cp.checkpoint));
  return cp;
}

absl::StatusOr<v1::Receipt> LedgerClient::CosignedReceipt(uint64_t index) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::GetEntryRequest req;
  req.set_trial_id(trial_id_);
  req.set_index(index);
  req.set_with_proof(true);
  req.set_cosigned(true);
  v1::GetEntryResponse resp;
  TRIALOG_RETURN_IF_ERROR(FromGrpc(stub()->GetEntry(&ctx, req, &resp)));
  TRIALOG_ASSIGN_OR_RETURN(ledger::VerifiedReceipt verified,
                           ledger::VerifyReceipt(resp.receipt(), verifier_));
  if (verified.entry.entry.index() != index) {
    return absl::DataLossError(absl::StrCat("asked for the receipt of entry ", index,
                                            ", got one for entry ",
                                            verified.entry.entry.index()));
  }
  TRIALOG_RETURN_IF_ERROR(witness::OpenCosignedCheckpoint(resp.receipt().checkpoint(), verifier_,
                                                          options_.witness_policy)
                              .status());
  TRIALOG_RETURN_IF_ERROR(AdvanceTrust(verified.checkpoint));
  return resp.receipt();
}

absl::StatusOr<std::vector<ledger::ParsedEntry>> LedgerClient::ReadVerified(
    uint64_t from, uint64_t limit, absl::string_view stream_id) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::ReadRequest req;
  req.set_trial_id(trial_id_);
  req.set_from_index(from);
  req.set_limit(limit);
  req.set_stream_id(std::string(stream_id));
  req.set_with_proof(true);
  std::unique_ptr<grpc::ClientReader<v1::ReadResponse>> reader = stub()->Read(&ctx, req);
  std::vector<ledger::ParsedEntry> out;
  std::optional<note::Checkpoint> cp;
  v1::ReadResponse resp;
  uint64_t expect = from;
  while (reader->Read(&resp)) {
    if (!cp.has_value()) {
      if (resp.checkpoint().empty()) {
        return absl::DataLossError("verified read: first response carries no checkpoint");
      }
      TRIALOG_ASSIGN_OR_RETURN(cp, ledger::OpenLedgerCheckpoint(resp.checkpoint(), verifier_));
    }
    const std::string leaf = merkle::HashLeaf(resp.entry());
    if (resp.inclusion().index() != resp.index()) {
      return absl::DataLossError(absl::StrCat("verified read: entry ", resp.index(),
                                              " comes with a proof for index ",
                                              resp.inclusion().index()));
    }
    TRIALOG_RETURN_IF_ERROR(ledger::VerifyInclusionInCheckpoint(leaf, resp.inclusion(), *cp));
    TRIALOG_ASSIGN_OR_RETURN(ledger::ParsedEntry parsed, ledger::ParseEntry(resp.entry()));
    if (parsed.entry.index() != resp.index()) {
      return absl::DataLossError(absl::StrCat("verified read: entry bytes say index ",
                                              parsed.entry.index(), ", response says ",
                                              resp.index()));
    }
    if (stream_id.empty() && resp.index() != expect) {
      return absl::DataLossError(absl::StrCat("verified read: expected entry ", expect,
                                              ", got ", resp.index()));
    }
    if (!stream_id.empty() && parsed.envelope.stream_id() != std::string(stream_id)) {
      return absl::DataLossError(absl::StrCat("verified read: entry ", resp.index(),
                                              " is on stream ", parsed.envelope.stream_id()));
    }
    expect = resp.index() + 1;
    out.push_back(std::move(parsed));
  }
  TRIALOG_RETURN_IF_ERROR(FromGrpc(reader->Finish()));
  if (cp.has_value()) TRIALOG_RETURN_IF_ERROR(AdvanceTrust(*cp));
  return out;
}

absl::Status LedgerClient::Subscribe(uint64_t from_index,
                                     const std::function<bool(const ledger::ParsedEntry&)>& fn,
                                     absl::Duration duration) {
  const absl::Time end = absl::Now() + duration;
  uint64_t next = from_index;
  std::string prev_leaf;  // leaf hash of entry next-1, once seen
  absl::Duration backoff = options_.initial_backoff;
  while (absl::Now() < end) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(end));
    v1::SubscribeRequest req;
    req.set_trial_id(trial_id_);
    req.set_from_index(next);
    std::unique_ptr<grpc::ClientReader<v1::ReadResponse>> reader = stub()->Subscribe(&ctx, req);
    v1::ReadResponse resp;
    while (reader->Read(&resp)) {
      if (resp.index() != next) {
        ctx.TryCancel();
        return absl::DataLossError(absl::StrCat("subscription: expected entry ", next, ", got ",
                                                resp.index()));
      }
      absl::StatusOr<ledger::ParsedEntry> parsed = ledger::ParseEntry(resp.entry());
      if (!parsed.ok()) {
        ctx.TryCancel();
        return absl::DataLossError(absl::StrCat("subscription: entry ", next, ": ",
                                                parsed.status().message()));
      }
      if (!prev_leaf.empty()) {
        absl::Status link = ledger::CheckChainLink(*parsed, next, prev_leaf);
        if (!link.ok()) {
          ctx.TryCancel();
          return link;
        }
      }
      prev_leaf = parsed->leaf_hash;
      ++next;
      backoff = options_.initial_backoff;
      if (!fn(*parsed)) {
        ctx.TryCancel();
        reader->Finish().ok();
        return absl::OkStatus();
      }
    }
    grpc::Status s = reader->Finish();
    if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && absl::Now() >= end) break;
    if (!s.ok() && !Retryable(s)) return FromGrpc(s);
    absl::SleepFor(backoff);  // reconnect, resuming at `next`
    backoff = std::min(backoff * 2, absl::Seconds(1));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("subscription ended after its duration; next entry would be ", next));
}

}  // namespace trialog::client
