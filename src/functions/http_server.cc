#include "functions/http_server.h"

#include <microhttpd.h>

#include <cstdlib>

#include "util/listen.h"
#include "util/text.h"

namespace lode::functions {

std::string HttpRequest::Header(const std::string& lower_case_name) const {
  auto it = headers.find(lower_case_name);
  return it == headers.end() ? "" : it->second;
}

std::string HttpResponse::Header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

// One request on its way in: MHD calls OnRequest once with the headers,
// then with each piece of the body, then once more to have it answered.
struct HttpServer::Exchange {
  HttpRequest request;
  uint64_t announced = 0;  // Content-Length
  uint64_t dropped = 0;    // bytes of a body too long to keep
  bool answered = false;
};

namespace {

// The most of a too long body read (and dropped) before answering.
constexpr uint64_t kMaxDropped = 64ull << 20;

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

}  // namespace

void HttpServer::OnCompleted(Exchange* exchange) {
  if (exchange == nullptr) return;
  delete exchange;  // NOLINT: MHD owns the pointer's slot
  std::lock_guard lock(mu_);
  --in_flight_;
  completed_.notify_all();
}

int HttpServer::OnRequest(MHD_Connection* conn, const char* url, const char* method,
                          const char* upload_data, size_t* upload_size, void** context) {
  auto* exchange = static_cast<Exchange*>(*context);
  if (exchange == nullptr) {
    exchange = new Exchange;
    *context = exchange;
    {
      std::lock_guard lock(mu_);
      ++in_flight_;
    }
    HttpRequest& r = exchange->request;
    r.method = method;
    r.path = url;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, Collect, &r.headers);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, CollectQuery, &r.query);
    std::string length = r.Header("content-length");
    exchange->announced = length.empty() ? 0 : std::strtoull(length.c_str(), nullptr, 10);
    r.body_too_large = exchange->announced > max_body_;
    // An absurd body is refused before it is sent (the connection closes).
    if (exchange->announced <= kMaxDropped) return MHD_YES;
    exchange->answered = true;
    return Queue(conn, handler_(r));
  }
  HttpRequest& r = exchange->request;
  if (*upload_size > 0) {
    if (exchange->answered) {
      // the rest of a body already refused
    } else if (!r.body_too_large && r.body.size() + *upload_size <= max_body_) {
      r.body.append(upload_data, *upload_size);
    } else {
      // Too long: read and dropped, so that a client still sending it gets
      // the answer rather than a reset.
      r.body_too_large = true;
      r.body.clear();
      exchange->dropped += *upload_size;
      if (exchange->dropped > kMaxDropped) {
        exchange->answered = true;
        *upload_size = 0;
        return Queue(conn, handler_(r));
      }
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (exchange->answered) return MHD_YES;
  if (!r.body_too_large) MHD_get_connection_values(conn, MHD_FOOTER_KIND, Collect, &r.trailers);
  exchange->answered = true;
  return Queue(conn, handler_(r));
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
  MHD_RequestCompletedCallback on_completed = [](void* self, MHD_Connection*, void** context,
                                                 MHD_RequestTerminationCode) {
    static_cast<HttpServer*>(self)->OnCompleted(static_cast<Exchange*>(*context));
    *context = nullptr;
  };
  daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, on_request, this, MHD_OPTION_LISTEN_SOCKET,
                             listening_.get(), MHD_OPTION_CONNECTION_TIMEOUT,
                             options.idle_timeout_seconds, MHD_OPTION_NOTIFY_COMPLETED,
                             on_completed, this, MHD_OPTION_END);
  if (daemon_ == nullptr) return Status::IOError("could not start the HTTP server");
  return Status::Ok();
}

void HttpServer::Finish(std::chrono::milliseconds patience) {
  if (daemon_ == nullptr) return;
  // The listening socket stays ours (and open): connections queue unanswered.
  MHD_quiesce_daemon(daemon_);
  std::unique_lock lock(mu_);
  completed_.wait_for(lock, patience, [&] { return in_flight_ == 0; });
}

HttpServer::~HttpServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

}  // namespace lode::functions
