#include "agent/api.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "util/unix_socket.h"

namespace lode::agent {
namespace {

constexpr size_t kMaxRequest = 1 << 20;
constexpr int kRequestTimeoutMs = 5000;

nlohmann::json Error(const std::string& message) {
  return {
      {"ok", false}, {"code", static_cast<int>(StatusCode::kInvalidArgument)}, {"error", message}};
}

}  // namespace

ApiServer::ApiServer(std::string path, ino_t inode, UniqueFd fd, Handler handler)
    : path_(std::move(path)),
      inode_(inode),
      listen_fd_(std::move(fd)),
      handler_(std::move(handler)) {
  thread_ = std::thread([this] { Serve(); });
}

Result<std::unique_ptr<ApiServer>> ApiServer::Start(const std::string& socket_path,
                                                    Handler handler) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(socket_path).parent_path(), ec);
  if (ec) return Status::IOError("create directory for " + socket_path + ": " + ec.message());
  if (CallAgent(socket_path, {{"op", "ping"}}).ok()) {
    return Status::Rejected("an agent already listens on " + socket_path);
  }
  LODE_ASSIGN_OR_RETURN(UniqueFd fd, ListenUnix(socket_path, 0600, 64));
  struct stat st {};
  ::stat(socket_path.c_str(), &st);
  return std::unique_ptr<ApiServer>(
      new ApiServer(socket_path, st.st_ino, std::move(fd), std::move(handler)));
}

ApiServer::~ApiServer() {
  stopping_ = true;
  ::shutdown(listen_fd_.get(), SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  // After an upgrade the path may be the new agent's socket already.
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && st.st_ino == inode_) ::unlink(path_.c_str());
}

void ApiServer::Serve() {
  while (!stopping_) {
    pollfd p{listen_fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    UniqueFd conn(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) continue;
    // A client that sends slowly or nothing cannot stall the agent.
    Result<std::string> line =
        ReceiveLine(conn.get(), kMaxRequest, kRequestTimeoutMs, "agent socket");
    if (!line.ok()) continue;
    (void)SendAll(conn.get(), AnswerRequest(*line, handler_), "agent socket");
  }
}

std::string AnswerRequest(const std::string& line, const ApiServer::Handler& handler) {
  nlohmann::json request = nlohmann::json::parse(line, nullptr, false);
  nlohmann::json reply;
  if (request.is_discarded() || !request.is_object()) {
    reply = Error("request is not a JSON object");
  } else {
    try {
      reply = handler(request);
    } catch (const nlohmann::json::exception& e) {
      reply = Error(std::string("bad request: ") + e.what());
    }
  }
  return reply.dump() + "\n";
}

Result<nlohmann::json> CallAgent(const std::string& socket_path, const nlohmann::json& request) {
  Result<UniqueFd> fd = ConnectUnix(socket_path);
  if (!fd.ok()) {
    if (fd.status().code() != StatusCode::kUnavailable) return fd.status();
    return Status::Unavailable("no agent listens on " + socket_path + " (start one: lode agent)");
  }
  LODE_RETURN_IF_ERROR(SendAll(fd->get(), request.dump() + "\n", "agent socket"));
  LODE_ASSIGN_OR_RETURN(std::string line, ReceiveLine(fd->get(), kMaxRequest, -1, "agent socket"));
  nlohmann::json reply = nlohmann::json::parse(line, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) {
    return Status::Unavailable("the agent on " + socket_path + " sent no valid answer");
  }
  if (!reply.value("ok", false)) {
    return Status::WithCode(StatusCodeFromWire(reply.value("code", 0)),
                            reply.value("error", "agent error"));
  }
  return reply;
}

Result<nlohmann::json> CallAgentPatiently(const std::string& socket_path,
                                          const nlohmann::json& request,
                                          std::chrono::milliseconds patience) {
  auto give_up = std::chrono::steady_clock::now() + patience;
  while (true) {
    Result<nlohmann::json> answer = CallAgent(socket_path, request);
    if (answer.ok() || answer.status().code() != StatusCode::kUnavailable ||
        std::chrono::steady_clock::now() > give_up) {
      return answer;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace lode::agent
