// An HTTP/1.1 server for the function host's two APIs (the Invoke API in
// front, the Runtime API to each sandbox), on GNU libmicrohttpd. Every
// connection gets its own thread, so a handler may block as long as it
// needs: the Runtime API's `next` waits for an event, an invocation waits
// for its sandbox's answer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "util/file.h"
#include "util/status.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace lode::functions {

struct HttpRequest {
  std::string method;
  std::string path;  // percent-decoded, without the query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;   // names in lower case
  std::map<std::string, std::string> trailers;  // of a chunked body; names in lower case
  std::string body;
  // The body is (or was announced as) longer than Options::max_body: the
  // handler is called as soon as that is known and `body` is empty.
  bool body_too_large = false;

  // The header's value, or "" when absent.
  std::string Header(const std::string& lower_case_name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header named `name` (as set), or "" when absent.
  std::string Header(const std::string& name) const;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  struct Options {
    // Longest body a handler receives; longer ones arrive as body_too_large.
    size_t max_body = 8u << 20;
    // Seconds an idle keep-alive connection stays open; 0 is forever.
    unsigned idle_timeout_seconds = 0;
  };

  // Listens on `address` ("HOST:PORT", IPv4 or "[IPv6]:PORT"; port 0 picks
  // a free one).
  static Result<std::unique_ptr<HttpServer>> Listen(const std::string& address,
                                                    const Options& options, Handler handler);
  // Serves connections of a socket already bound and listening (one made
  // inside a sandbox's network namespace).
  static Result<std::unique_ptr<HttpServer>> Serve(UniqueFd listening, const Options& options,
                                                   Handler handler);
  // Stops accepting connections and waits, up to `patience`, until every
  // request already received has been answered and its answer sent: a
  // server stopped right after its handlers return would cut answers off.
  void Finish(std::chrono::milliseconds patience);
  // Stops accepting, closes every connection and waits for the handlers
  // still running: a caller must first unblock handlers that wait.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

 private:
  HttpServer(Handler handler, size_t max_body)
      : handler_(std::move(handler)), max_body_(max_body) {}
  Status Start(UniqueFd listening, const Options& options);
  // One request on its way in (its state between MHD's calls).
 public:
  struct Exchange;

 private:
  // MHD's access handler: MHD_YES (1) or MHD_NO (0).
  int OnRequest(MHD_Connection* connection, const char* url, const char* method,
                const char* upload_data, size_t* upload_size, void** context);
  // MHD is done with a request: answered and sent, or its connection gone.
  void OnCompleted(Exchange* exchange);

  Handler handler_;
  size_t max_body_;
  int port_ = 0;
  UniqueFd listening_;
  MHD_Daemon* daemon_ = nullptr;
  std::mutex mu_;
  std::condition_variable completed_;
  int in_flight_ = 0;  // requests received and not yet completed
};

}  // namespace lode::functions
