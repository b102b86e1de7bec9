// A `lode serve` child process for tests and benchmarks, and invocations
// of it through a real HTTP client (curl).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace lode::testing {

struct HttpAnswer {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string Header(const std::string& lower_case_name) const;
};

// POSTs `body` to `url` with curl; `headers` are "Name: value" lines.
HttpAnswer HttpPost(const std::string& url, const std::string& body,
                    const std::vector<std::string>& headers = {});
HttpAnswer HttpGet(const std::string& url);

class ServeProcess {
 public:
  // `env` is a shell prefix (LODE_KEYS=... LODE_STORE=...); `args` go to
  // `lode serve` (the Invoke API listens on a free port); its stderr goes
  // to DIR/serve.log.
  ServeProcess(std::string dir, std::string env, std::string args);
  ~ServeProcess();  // SIGTERM (drain and stop) if still running
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  // Starts it and waits until the Invoke API accepts connections; false
  // (see log()) if it does not within 30 s.
  bool Start();
  // Sends `signal` and waits: the exit status (128 + signal when killed).
  int Stop(int signal);
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string log() const;

  // Invokes `function` through the Invoke API.
  HttpAnswer Invoke(const std::string& function, const std::string& payload,
                    const std::vector<std::string>& headers = {}) const;
  std::string InvokeUrl(const std::string& function) const;

 private:
  std::string dir_, env_, args_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace lode::testing
