// A tiny HTTP server (libmicrohttpd) answering GET /metrics with the
// Prometheus text format. Runs its own polling thread.

#ifndef TRIALOG_SERVER_METRICS_HTTP_H_
#define TRIALOG_SERVER_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct MHD_Daemon;

namespace trialog::server {

class MetricsHttpServer {
 public:
  // Listens on `host_port` (IPv4 or [IPv6]; port 0 picks a free port) and
  // answers GET /metrics with render(). INVALID_ARGUMENT for a bad address,
  // UNAVAILABLE when the port cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& host_port, std::function<std::string()> render);
  ~MetricsHttpServer();  // stops the server

  int port() const { return port_; }
  const std::function<std::string()>& render() const { return render_; }

 private:
  MetricsHttpServer() = default;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
  std::function<std::string()> render_;
};

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_METRICS_HTTP_H_
