#include "server/metrics_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace trialog::server {
namespace {

MHD_Result Handle(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char* /*version*/, const char* /*upload_data*/,
                  size_t* /*upload_data_size*/, void** /*con_cls*/) {
  auto* self = static_cast<MetricsHttpServer*>(cls);
  std::string body;
  unsigned int code = MHD_HTTP_OK;
  const char* type = "text/plain; version=0.0.4; charset=utf-8";
  if (std::strcmp(method, "GET") != 0 && std::strcmp(method, "HEAD") != 0) {
    code = MHD_HTTP_METHOD_NOT_ALLOWED;
    body = "only GET\n";
  } else if (std::strcmp(url, "/metrics") == 0) {
    body = self->render()();
  } else if (std::strcmp(url, "/") == 0) {
    type = "text/plain; charset=utf-8";
    body = "trialogd: metrics at /metrics\n";
  } else {
    code = MHD_HTTP_NOT_FOUND;
    body = "not found; try /metrics\n";
  }
  MHD_Response* response =
      MHD_create_response_from_buffer(body.size(), body.data(), MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(response, "Content-Type", type);
  MHD_Result ret = MHD_queue_response(connection, code, response);
  MHD_destroy_response(response);
  return ret;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& host_port, std::function<std::string()> render) {
  std::string host;
  std::string port_text;
  if (!host_port.empty() && host_port.front() == '[') {
    size_t close = host_port.find("]:");
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("metrics address ", host_port,
                                                     " is not [ipv6]:port"));
    }
    host = host_port.substr(1, close - 1);
    port_text = host_port.substr(close + 2);
  } else {
    size_t colon = host_port.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("metrics address ", host_port,
                                                     " is not host:port"));
    }
    host = host_port.substr(0, colon);
    port_text = host_port.substr(colon + 1);
  }
  if (host == "localhost") host = "127.0.0.1";
  uint32_t port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("metrics address ", host_port,
                                                   " has a bad port"));
  }
  sockaddr_storage addr{};
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD;
  sockaddr_in* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  sockaddr_in6* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    flags |= MHD_USE_IPv6;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address ", host_port, ": host must be a numeric IP or localhost"));
  }
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  server->render_ = std::move(render);
  server->daemon_ = MHD_start_daemon(flags, static_cast<uint16_t>(port), nullptr, nullptr,
                                     &Handle, server.get(), MHD_OPTION_SOCK_ADDR, &addr,
                                     MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", host_port));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info != nullptr ? info->port : static_cast<int>(port);
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

}  // namespace trialog::server
