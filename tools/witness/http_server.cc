#include "tools/witness/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace trialog::witness {
namespace {

// Per-request state for POST add-checkpoint, kept in libmicrohttpd's
// per-request pointer between the calls that deliver the body.
struct PostState {
  std::string body;
  bool too_large = false;
};

MHD_Result Send(MHD_Connection* connection, unsigned int status, const std::string& content_type,
                const std::string& body, const char* allow = nullptr) {
  MHD_Response* response = MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type.c_str());
  if (allow != nullptr) MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allow);
  const MHD_Result ret = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return ret;
}

MHD_Result SendText(MHD_Connection* connection, unsigned int status, const std::string& body,
                    const char* allow = nullptr) {
  return Send(connection, status, "text/plain; charset=utf-8", body, allow);
}

std::string InfoPage(const WitnessHttpServer& server) {
  const Witness& w = *server.witness();
  std::string page = absl::StrCat(
      "trialog witness (C2SP tlog-witness v1.0.0, tlog-cosignature v1)\n", "cosigner key: ",
      w.cosigner_key(), "\n", "submit: POST ", server.options().prefix, kAddCheckpointPath,
      "\n", "logs:\n");
  for (const std::string& origin : w.origins()) absl::StrAppend(&page, "  ", origin, "\n");
  return page;
}

MHD_Result Handle(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char* /*version*/, const char* upload_data, size_t* upload_data_size,
                  void** con_cls) {
  auto* server = static_cast<WitnessHttpServer*>(cls);
  const HttpServerOptions& options = server->options();
  if (*con_cls == nullptr) {  // first call: the headers have arrived
    const absl::string_view path(url);
    const bool is_post = std::strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    const bool is_get = std::strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                        std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (path == absl::StrCat(options.prefix, kAddCheckpointPath)) {
      if (!is_post) {
        return SendText(connection, MHD_HTTP_METHOD_NOT_ALLOWED,
                        "add-checkpoint takes POST (tlog-witness v1.0.0)\n", "POST");
      }
      const char* length =
          MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
      uint64_t declared = 0;
      if (length != nullptr && absl::SimpleAtoi(length, &declared) &&
          declared > options.max_body_bytes) {
        return SendText(connection, 413,
                        absl::StrCat("request body above ", options.max_body_bytes, " bytes\n"));
      }
      *con_cls = new PostState();
      return MHD_YES;
    }
    if (path == absl::StrCat(options.prefix, "/") ||
        (!options.prefix.empty() && path == options.prefix)) {
      if (!is_get) return SendText(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n", "GET, HEAD");
      return SendText(connection, MHD_HTTP_OK, InfoPage(*server));
    }
    return SendText(connection, MHD_HTTP_NOT_FOUND,
                    absl::StrCat("not found; submit checkpoints with POST ", options.prefix,
                                 kAddCheckpointPath, "\n"));
  }

  auto* state = static_cast<PostState*>(*con_cls);
  if (*upload_data_size > 0) {
    if (!state->too_large) {
      if (state->body.size() + *upload_data_size > options.max_body_bytes) {
        state->too_large = true;
        state->body.clear();
        state->body.shrink_to_fit();
      } else {
        state->body.append(upload_data, *upload_data_size);
      }
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (state->too_large) {
    return SendText(connection, 413,
                    absl::StrCat("request body above ", options.max_body_bytes, " bytes\n"));
  }
  const HttpReply reply = server->witness()->HandleAddCheckpoint(state->body);
  return Send(connection, static_cast<unsigned int>(reply.status), reply.content_type, reply.body);
}

void Completed(void* /*cls*/, MHD_Connection* /*connection*/, void** con_cls,
               MHD_RequestTerminationCode /*code*/) {
  delete static_cast<PostState*>(*con_cls);
  *con_cls = nullptr;
}

}  // namespace

absl::StatusOr<std::unique_ptr<WitnessHttpServer>> WitnessHttpServer::Start(
    const HttpServerOptions& options, Witness* witness) {
  const std::string& listen = options.listen;
  std::string host;
  std::string port_text;
  bool bracketed = false;
  if (!listen.empty() && listen.front() == '[') {
    const size_t close = listen.find("]:");
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("listen address ", listen,
                                                     " is not [ipv6]:port"));
    }
    host = listen.substr(1, close - 1);
    port_text = listen.substr(close + 2);
    bracketed = true;
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("listen address ", listen,
                                                     " is not host:port"));
    }
    host = listen.substr(0, colon);
    port_text = listen.substr(colon + 1);
  }
  if (host == "localhost") host = "127.0.0.1";
  uint32_t port = 0;
  if (port_text.empty() || !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("listen address ", listen,
                                                   " has a bad port (0..65535)"));
  }
  if (!options.prefix.empty() && (options.prefix.front() != '/' || options.prefix.back() == '/')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "submission prefix ", options.prefix, " must be empty or start with '/' and not end in '/'"));
  }
  if (options.threads == 0) return absl::InvalidArgumentError("the witness needs >= 1 thread");

  sockaddr_storage addr{};
  unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (!bracketed && inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    flags |= MHD_USE_IPv6;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address ", listen, ": host must be a numeric IP address or localhost"));
  }

  std::unique_ptr<WitnessHttpServer> server(new WitnessHttpServer());
  server->witness_ = witness;
  server->options_ = options;
  server->daemon_ = MHD_start_daemon(
      flags, static_cast<uint16_t>(port), nullptr, nullptr, &Handle, server.get(),
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&addr), MHD_OPTION_THREAD_POOL_SIZE,
      options.threads, MHD_OPTION_CONNECTION_TIMEOUT, options.connection_timeout_s,
      MHD_OPTION_NOTIFY_COMPLETED, &Completed, nullptr, MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", listen, " (address in use, or not an address of this machine)"));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info != nullptr && info->port != 0 ? info->port : static_cast<int>(port);
  server->url_ = absl::StrCat("http://", bracketed ? absl::StrCat("[", host, "]") : host, ":",
                              server->port_, options.prefix);
  return server;
}

WitnessHttpServer::~WitnessHttpServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

}  // namespace trialog::witness
