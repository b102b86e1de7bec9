#include "testing/keyd_process.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "testing/process.h"

namespace lode::testing {
KeydProcess::KeydProcess(std::string dir, const std::string& policy_json, std::string extra_args)
    : dir_(std::move(dir)), socket_(dir_ + "/run/keyd.sock"), extra_args_(std::move(extra_args)) {
  std::filesystem::create_directories(dir_ + "/run");
  ::chmod(dir_.c_str(), 0755);
  ::chmod((dir_ + "/run").c_str(), 0755);
  std::ofstream(dir_ + "/policy.json") << policy_json;
}

KeydProcess::~KeydProcess() { (void)Stop(); }

bool KeydProcess::Start() {
  pid_ = StartCommand("exec " + ShellQuote(LodeBinary()) + " keyd --dir " + ShellQuote(key_dir()) +
                      " --socket " + ShellQuote(socket_) + " --policy " +
                      ShellQuote(dir_ + "/policy.json") + " --audit " + ShellQuote(audit_log()) +
                      " " + extra_args_ + " >>" + ShellQuote(dir_ + "/keyd.log") + " 2>&1");
  return AwaitSocket(pid_, socket_, std::chrono::seconds(5));
}

int KeydProcess::Stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int KeydProcess::port(const std::string& listener) const {
  std::istringstream in(log());
  int port = 0;
  const std::string mark = listener + " on port ";
  for (std::string line; std::getline(in, line);) {
    if (size_t at = line.find(mark); at != std::string::npos) {
      port = std::atoi(line.c_str() + at + mark.size());
    }
  }
  return port;
}

std::string KeydProcess::log() const {
  std::ifstream in(dir_ + "/keyd.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace lode::testing
