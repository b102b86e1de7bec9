#include "testing/function_host.h"

#include <signal.h>
#include <sys/wait.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "testing/files.h"
#include "testing/ports.h"
#include "testing/process.h"

namespace lode::testing {
namespace {

int counter = 0;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string TrimSpaces(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t"), end = s.find_last_not_of(" \t");
  return begin == std::string::npos ? "" : s.substr(begin, end - begin + 1);
}

HttpAnswer Curl(const std::string& args) {
  std::string base =
      "/tmp/lode-test-http-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  CommandResult r = RunCommand("curl -s -o " + ShellQuote(base + ".body") + " -D " +
                               ShellQuote(base + ".head") + " " + args);
  HttpAnswer a;
  std::ifstream head(base + ".head");
  for (std::string line; std::getline(head, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("HTTP/", 0) == 0) {
      a.status = std::atoi(line.substr(line.find(' ') + 1).c_str());
      a.headers.clear();  // a 100 Continue came first
    } else if (size_t colon = line.find(':'); colon != std::string::npos) {
      a.headers[Lower(line.substr(0, colon))] = TrimSpaces(line.substr(colon + 1));
    }
  }
  a.body = ReadAll(base + ".body");
  std::remove((base + ".body").c_str());
  std::remove((base + ".head").c_str());
  if (a.status == 0) a.body = r.output;
  return a;
}

}  // namespace

std::string HttpAnswer::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

HttpAnswer HttpPost(const std::string& url, const std::string& body,
                    const std::vector<std::string>& headers) {
  std::string file = "/tmp/lode-test-http-" + std::to_string(::getpid()) + "-" +
                     std::to_string(++counter) + ".req";
  WriteAll(file, body);
  std::string args = "-X POST --data-binary @" + ShellQuote(file);
  for (const std::string& h : headers) args += " -H " + ShellQuote(h);
  HttpAnswer a = Curl(args + " " + ShellQuote(url));
  std::remove(file.c_str());
  return a;
}

HttpAnswer HttpGet(const std::string& url) { return Curl(ShellQuote(url)); }

ServeProcess::ServeProcess(std::string dir, std::string env, std::string args)
    : dir_(std::move(dir)), env_(std::move(env)), args_(std::move(args)) {}

ServeProcess::~ServeProcess() {
  // SIGTERM: it stops its sandboxes and its agent before it exits, so the
  // directory can go.
  if (pid_ > 0) Stop(SIGTERM);
}

bool ServeProcess::Start() {
  port_ = FreeLoopbackPorts();
  pid_ = StartCommand("exec env " + env_ + LodeBinary() +
                      " serve --listen 127.0.0.1:" + std::to_string(port_) + " " + args_ + " 2>" +
                      ShellQuote(dir_ + "/serve.log"));
  for (int i = 0; i < 300; ++i) {
    if (LoopbackAccepts(port_)) return true;
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

int ServeProcess::Stop(int signal) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ServeProcess::log() const { return ReadAll(dir_ + "/serve.log"); }

std::string ServeProcess::InvokeUrl(const std::string& function) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/2015-03-31/functions/" + function +
         "/invocations";
}

HttpAnswer ServeProcess::Invoke(const std::string& function, const std::string& payload,
                                const std::vector<std::string>& headers) const {
  return HttpPost(InvokeUrl(function), payload, headers);
}

}  // namespace lode::testing
