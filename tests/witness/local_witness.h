// An in-process witness (tools/witness) behind a real HTTP server on a
// loopback port, for tests of the log side (witness/).

#ifndef TRIALOG_TESTS_WITNESS_LOCAL_WITNESS_H_
#define TRIALOG_TESTS_WITNESS_LOCAL_WITNESS_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/note/cosignature.h"
#include "core/note/keys.h"
#include "gtest/gtest.h"
#include "tools/witness/http_server.h"
#include "tools/witness/witness.h"
#include "witness/submitter.h"

namespace trialog::witness::testing {

class LocalWitness {
 public:
  LocalWitness(std::string name, std::string dir, note::Verifier ledger_key)
      : name_(std::move(name)), dir_(std::move(dir)), ledger_key_(std::move(ledger_key)) {}

  // Starts (or restarts) the witness on its directory; port 0 = any.
  void Start(int port = 0) {
    WitnessOptions o;
    o.dir = dir_;
    o.name = name_;
    o.logs = {LogConfig{ledger_key_.name, {ledger_key_}}};
    absl::StatusOr<std::unique_ptr<Witness>> w = Witness::Open(std::move(o), key_);
    ASSERT_TRUE(w.ok()) << w.status();
    witness_ = *std::move(w);
    HttpServerOptions http;
    http.listen = absl::StrCat("127.0.0.1:", port);
    absl::StatusOr<std::unique_ptr<WitnessHttpServer>> s =
        WitnessHttpServer::Start(http, witness_.get());
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    port_ = server_->port();
  }
  void Stop() {
    server_.reset();
    witness_.reset();
  }

  note::Cosigner cosigner() const {
    return {name_, note::KeyIdForType(name_, note::kAlgCosignatureV1, key_.public_key()),
            key_.public_key()};
  }
  std::string cosigner_key() const { return note::FormatCosignerKey(name_, key_.public_key()); }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }
  int port() const { return port_; }
  WitnessEndpoint endpoint() const { return {url(), cosigner()}; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::string dir_;
  note::Verifier ledger_key_;
  crypto::SigningKey key_ = crypto::SigningKey::Generate();
  std::unique_ptr<Witness> witness_;
  std::unique_ptr<WitnessHttpServer> server_;
  int port_ = 0;
};

}  // namespace trialog::witness::testing

#endif  // TRIALOG_TESTS_WITNESS_LOCAL_WITNESS_H_
