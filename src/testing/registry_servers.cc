#include "testing/registry_servers.h"

#include <fstream>
#include <sstream>

#include "testing/process.h"

namespace lode::testing {

RegistryServers::RegistryServers(const std::string& dir) : dir_(dir) {
  CommandResult r = RunCommand("bash " + Script() + " up " + ShellQuote(dir_) + " 2>&1");
  std::ifstream env(dir_ + "/env");
  for (std::string line; std::getline(env, line);) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
  }
  ok_ = r.exit_code == 0 && env_.count("PLAIN") > 0;
  if (!ok_) error_ = "registry.sh up exited " + std::to_string(r.exit_code) + ": " + r.output;
}

RegistryServers::~RegistryServers() {
  RunCommand("bash " + Script() + " down " + ShellQuote(dir_));
}

std::string RegistryServers::Script() const {
  return ShellQuote(std::string(LODE_TEST_SOURCE_DIR) + "/scripts/registry.sh");
}

std::string RegistryServers::Get(const std::string& name) const {
  auto it = env_.find(name);
  return it == env_.end() ? "" : it->second;
}

bool RegistryServers::Push(const std::string& from, const std::string& repo_tag,
                           const std::string& extra) {
  CommandResult r =
      RunCommand("skopeo copy -q --dest-tls-verify=false " + extra + " " + ShellQuote(from) + " " +
                 ShellQuote("docker://" + Get("PLAIN") + "/" + repo_tag) + " 2>&1");
  if (r.exit_code != 0) error_ = r.output;
  return r.exit_code == 0;
}

void RegistryServers::SetMode(const std::string& proxy, const std::string& mode) {
  std::ofstream(dir_ + "/" + proxy + ".mode") << mode << "\n";
}

std::string RegistryServers::Log(const std::string& name) const {
  std::ifstream in(dir_ + "/" + name + ".log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void RegistryServers::ClearLog(const std::string& name) {
  std::ofstream(dir_ + "/" + name + ".log", std::ios::trunc);
}

void RegistryServers::Stop(const std::string& name) {
  RunCommand("bash " + Script() + " stop " + name + " " + ShellQuote(dir_));
}

bool RegistryServers::Start(const std::string& name) {
  return RunCommand("bash " + Script() + " start " + name + " " + ShellQuote(dir_)).exit_code == 0;
}

void RegistryServers::SetTokenLifetime(int seconds) {
  std::ofstream(dir_ + "/token.expires") << seconds << "\n";
}

}  // namespace lode::testing
