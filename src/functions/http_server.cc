#include "functions/http_server.h"

#include <microhttpd.h>

#include "util/listen.h"
#include "util/text.h"

namespace lode::functions {

std::string HttpRequest::Header(const std::string& lower_case_name) const {
  auto it = headers.find(lower_case_name);
  return it == headers.end() ? "" : it->second;
}

// One request on its way in: MHD calls OnRequest once with the headers,
// then with each piece of the body, then once more to have it answered.
struct HttpServer::Exchange {
  HttpRequest request;
  bool answered = false;
};

namespace {

MHD_Result Collect(void* map, MHD_ValueKind, const char* key, const char* value) {
  auto* m = static_cast<std::map<std::string, std::string>*>(map);
  (*m)[AsciiLower(key)] = value == nullptr ? "" : value;
  return MHD_YES;
}

MHD_Result CollectQuery(void* map, MHD_ValueKind, const char* key, const char* value) {
  (*static_cast<std::map<std::string, std::string>*>(map))[key] = value == nullptr ? "" : value;
  return MHD_YES;
}

MHD_Result Queue(MHD_Connection* connection, const HttpResponse& response) {
  MHD_Response* r = MHD_create_response_from_buffer(
      response.body.size(), const_cast<char*>(response.body.data()), MHD_RESPMEM_MUST_COPY);
  if (r == nullptr) return MHD_NO;
  for (const auto& [name, value] : response.headers) {
    MHD_add_response_header(r, name.c_str(), value.c_str());
  }
  MHD_Result queued = MHD_queue_response(connection, static_cast<unsigned>(response.status), r);
  MHD_destroy_response(r);
  return queued;
}

void Completed(void*, MHD_Connection*, void** context, MHD_RequestTerminationCode) {
  delete static_cast<HttpServer::Exchange*>(*context);  // NOLINT: MHD owns the pointer's slot
  *context = nullptr;
}

}  // namespace

int HttpServer::OnRequest(MHD_Connection* conn, const char* url, const char* method,
                          const char* upload_data, size_t* upload_size, void** context) {
  HttpServer* server = this;
  auto* exchange = static_cast<Exchange*>(*context);
  if (exchange == nullptr) {
    exchange = new Exchange;
    *context = exchange;
    HttpRequest& r = exchange->request;
    r.method = method;
    r.path = url;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, Collect, &r.headers);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, CollectQuery, &r.query);
    std::string length = r.Header("content-length");
    if (!length.empty() && length.size() < 20 && std::stoull(length) > server->max_body_) {
      r.body_too_large = true;
    }
    if (!r.body_too_large) return MHD_YES;
  }
  HttpRequest& r = exchange->request;
  if (exchange->answered) {  // the rest of a body already refused
    *upload_size = 0;
    return MHD_YES;
  }
  if (*upload_size > 0 && !r.body_too_large) {
    if (r.body.size() + *upload_size > server->max_body_) {
      r.body_too_large = true;
      r.body.clear();
    } else {
      r.body.append(upload_data, *upload_size);
      *upload_size = 0;
      return MHD_YES;
    }
  }
  if (!r.body_too_large) {
    MHD_get_connection_values(conn, MHD_FOOTER_KIND, Collect, &r.trailers);
  }
  *upload_size = 0;
  exchange->answered = true;
  return Queue(conn, server->handler_(r));
}

Result<std::unique_ptr<HttpServer>> HttpServer::Listen(const std::string& address,
                                                       const Options& options, Handler handler) {
  LODE_ASSIGN_OR_RETURN(UniqueFd fd, ListenTcp(address, "HTTP"));
  return Serve(std::move(fd), options, std::move(handler));
}

Result<std::unique_ptr<HttpServer>> HttpServer::Serve(UniqueFd listening, const Options& options,
                                                      Handler handler) {
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(handler), options.max_body));
  LODE_RETURN_IF_ERROR(server->Start(std::move(listening), options));
  return server;
}

Status HttpServer::Start(UniqueFd listening, const Options& options) {
  port_ = LocalPort(listening.get());
  listening_ = std::move(listening);
  unsigned flags =
      MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
  MHD_AccessHandlerCallback on_request =
      [](void* self, MHD_Connection* connection, const char* url, const char* method, const char*,
         const char* upload_data, size_t* upload_size, void** context) {
        return static_cast<MHD_Result>(static_cast<HttpServer*>(self)->OnRequest(
            connection, url, method, upload_data, upload_size, context));
      };
  daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, on_request, this, MHD_OPTION_LISTEN_SOCKET,
                             listening_.get(), MHD_OPTION_CONNECTION_TIMEOUT,
                             options.idle_timeout_seconds, MHD_OPTION_NOTIFY_COMPLETED, &Completed,
                             nullptr, MHD_OPTION_END);
  if (daemon_ == nullptr) return Status::IOError("could not start the HTTP server");
  return Status::Ok();
}

HttpServer::~HttpServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

}  // namespace lode::functions
