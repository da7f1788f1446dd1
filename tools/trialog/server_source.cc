// LedgerSource over a live trialogd (gRPC).

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "grpcpp/grpcpp.h"
#include "tools/trialog/cli_util.h"
#include "tools/trialog/sources.h"

namespace trialog::cli {
namespace {

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

class ServerSource : public LedgerSource {
 public:
  ServerSource(std::shared_ptr<grpc::Channel> channel, std::string target, std::string trial)
      : stub_(v1::LedgerService::NewStub(channel)),
        target_(std::move(target)),
        trial_(std::move(trial)) {}

  std::string Describe() const override {
    return absl::StrCat("server ", target_, " trial ", trial_);
  }

  absl::StatusOr<std::string> CheckpointNote() override {
    if (!checkpoint_.empty()) return checkpoint_;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::GetCheckpointRequest req;
    req.set_trial_id(trial_);
    v1::GetCheckpointResponse resp;
    if (absl::Status s = FromGrpc(stub_->GetCheckpoint(&ctx, req, &resp), "GetCheckpoint");
        !s.ok()) {
      return s;
    }
    checkpoint_ = resp.checkpoint();
    size_ = resp.tree_size();
    return checkpoint_;
  }

  absl::StatusOr<std::string> CosignedCheckpointNote() override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::GetCheckpointRequest req;
    req.set_trial_id(trial_);
    req.set_cosigned(true);
    v1::GetCheckpointResponse resp;
    if (absl::Status s = FromGrpc(stub_->GetCheckpoint(&ctx, req, &resp), "GetCheckpoint(cosigned)");
        !s.ok()) {
      return s;
    }
    return resp.checkpoint();
  }

  absl::StatusOr<uint64_t> Size() override {
    absl::StatusOr<std::string> cp = CheckpointNote();
    if (!cp.ok()) return cp.status();
    return size_;
  }

  ledger::EntryReader Reader() override {
    return [this](uint64_t from, const std::function<bool(absl::string_view)>& sink) {
      grpc::ClientContext ctx;
      v1::ReadRequest req;
      req.set_trial_id(trial_);
      req.set_from_index(from);
      req.set_limit(size_ > from ? size_ - from : 0);
      if (size_ <= from) return absl::OkStatus();
      std::unique_ptr<grpc::ClientReader<v1::ReadResponse>> reader = stub_->Read(&ctx, req);
      v1::ReadResponse resp;
      uint64_t expected = from;
      while (reader->Read(&resp)) {
        if (resp.index() != expected) {
          ctx.TryCancel();
          reader->Finish();
          return absl::DataLossError(absl::StrCat("server sent entry ", resp.index(),
                                                  " where entry ", expected, " belongs"));
        }
        ++expected;
        if (!sink(resp.entry())) {
          ctx.TryCancel();
          reader->Finish();
          return absl::OkStatus();
        }
      }
      return FromGrpc(reader->Finish(), "Read");
    };
  }

  absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t old_size,
                                                            uint64_t new_size) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::GetConsistencyProofRequest req;
    req.set_trial_id(trial_);
    req.set_old_size(old_size);
    req.set_new_size(new_size);
    v1::GetConsistencyProofResponse resp;
    if (absl::Status s =
            FromGrpc(stub_->GetConsistencyProof(&ctx, req, &resp), "GetConsistencyProof");
        !s.ok()) {
      return s;
    }
    return std::vector<std::string>(resp.proof().hashes().begin(), resp.proof().hashes().end());
  }

 private:
  std::unique_ptr<v1::LedgerService::Stub> stub_;
  std::string target_, trial_;
  std::string checkpoint_;
  uint64_t size_ = 0;
};

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenServerChannel(const SourceFlags& flags) {
  client::ChannelOptions options;
  options.target = flags.server;
  options.plaintext = flags.plaintext;
  options.tls_server_name = flags.server_name;
  if (!flags.ca_file.empty()) {
    absl::StatusOr<std::string> pem = ReadFile(flags.ca_file);
    if (!pem.ok()) return pem.status();
    options.tls_root_ca_pem = *pem;
  }
  if (!flags.cert_file.empty() || !flags.client_key_file.empty()) {
    absl::StatusOr<std::string> cert = ReadFile(flags.cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(flags.client_key_file);
    if (!key.ok()) return key.status();
    options.tls_client_cert_pem = *cert;
    options.tls_client_key_pem = *key;
  }
  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      client::MakeChannels(options);
  if (!channels.ok()) return channels.status();
  return (*channels)[0];
}

absl::StatusOr<std::unique_ptr<LedgerSource>> OpenServerSource(const SourceFlags& flags) {
  if (flags.trial.empty()) return absl::InvalidArgumentError("--server needs --trial");
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = OpenServerChannel(flags);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<LedgerSource>(new ServerSource(*std::move(channel), flags.server, flags.trial));
}

}  // namespace trialog::cli
