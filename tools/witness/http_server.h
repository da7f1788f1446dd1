// The witness's HTTP front end (libmicrohttpd): tlog-witness v1.0.0's
//   POST <prefix>/add-checkpoint   -> Witness::HandleAddCheckpoint
// and, for operators,
//   GET  <prefix>/                 -> the cosigner key and the witnessed origins
// Other paths answer 404, other methods 405. Request bodies above
// max_body_bytes answer 413 without being processed. HTTP/1.1 keep-alive is
// supported (the spec asks witnesses to).
//
// Thread-safety: the server runs a pool of libmicrohttpd threads that call
// the (thread-safe) Witness concurrently. Start/destroy from one thread.

#ifndef TRIALOG_TOOLS_WITNESS_HTTP_SERVER_H_
#define TRIALOG_TOOLS_WITNESS_HTTP_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tools/witness/witness.h"

struct MHD_Daemon;

namespace trialog::witness {

struct HttpServerOptions {
  // "host:port" with a numeric IPv4 address or "localhost", or "[ipv6]:port".
  // Port 0 picks a free port (see WitnessHttpServer::port()).
  std::string listen = "127.0.0.1:7380";
  // The submission prefix path: "" or "/something" (no trailing "/").
  std::string prefix;
  // Larger request bodies are refused with 413.
  size_t max_body_bytes = 256 * 1024;
  // Worker threads.
  unsigned threads = 4;
  // Seconds an idle connection is kept open.
  unsigned connection_timeout_s = 30;
};

class WitnessHttpServer {
 public:
  // Starts serving `witness` (borrowed; must outlive the server).
  // INVALID_ARGUMENT: bad listen address or prefix. UNAVAILABLE: the address
  // cannot be bound (in use, or not a local address).
  static absl::StatusOr<std::unique_ptr<WitnessHttpServer>> Start(const HttpServerOptions& options,
                                                                  Witness* witness);
  ~WitnessHttpServer();  // stops accepting, waits for requests in flight

  WitnessHttpServer(const WitnessHttpServer&) = delete;
  WitnessHttpServer& operator=(const WitnessHttpServer&) = delete;

  // The bound TCP port.
  int port() const { return port_; }
  // "http://host:port" + prefix: the submission prefix clients use.
  const std::string& url() const { return url_; }

  // Used by the request handler.
  Witness* witness() const { return witness_; }
  const HttpServerOptions& options() const { return options_; }

 private:
  WitnessHttpServer() = default;

  MHD_Daemon* daemon_ = nullptr;
  Witness* witness_ = nullptr;
  HttpServerOptions options_;
  int port_ = 0;
  std::string url_;
};

}  // namespace trialog::witness

#endif  // TRIALOG_TOOLS_WITNESS_HTTP_SERVER_H_
