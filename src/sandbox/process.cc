#include "sandbox/process.h"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "util/file.h"

namespace lode::sandbox {
namespace {

using nlohmann::json;

// Field 3 (uid or gid) and field 4 (primary gid) of the line named `name`
// in an /etc/passwd- or /etc/group-style file.
std::optional<std::pair<uint32_t, uint32_t>> LookUp(const std::string& file,
                                                    const std::string& name) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string part; std::getline(ss, part, ':');) f.push_back(part);
    if (f.size() >= 3 && f[0] == name) {
      uint32_t id = static_cast<uint32_t>(std::strtoul(f[2].c_str(), nullptr, 10));
      uint32_t primary =
          f.size() >= 4 ? static_cast<uint32_t>(std::strtoul(f[3].c_str(), nullptr, 10)) : id;
      return std::make_pair(id, primary);
    }
  }
  return std::nullopt;
}

bool IsNumber(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

Status ResolveUser(const std::string& user, const std::string& rootfs, ProcessSpec* p) {
  if (user.empty()) return Status::Ok();
  std::string name = user.substr(0, user.find(':'));
  std::string group = user.find(':') == std::string::npos ? "" : user.substr(user.find(':') + 1);
  if (IsNumber(name)) {
    p->uid = static_cast<uint32_t>(std::stoul(name));
  } else {
    auto entry = LookUp(rootfs + "/etc/passwd", name);
    if (!entry) {
      return Status::InvalidArgument("user '" + name + "' is not in the image's /etc/passwd");
    }
    p->uid = entry->first;
    p->gid = entry->second;
  }
  if (group.empty()) return Status::Ok();
  if (IsNumber(group)) {
    p->gid = static_cast<uint32_t>(std::stoul(group));
    return Status::Ok();
  }
  auto entry = LookUp(rootfs + "/etc/group", group);
  if (!entry)
    return Status::InvalidArgument("group '" + group + "' is not in the image's /etc/group");
  p->gid = entry->first;
  return Status::Ok();
}

}  // namespace

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

Result<ProcessSpec> ProcessFromConfig(const std::string& config_json,
                                      const std::vector<std::string>& command,
                                      const std::string& rootfs) {
  json c = json::parse(config_json.empty() ? "{}" : config_json, nullptr, false);
  if (c.is_discarded() || !c.is_object()) return Status::Corruption("image run config is not JSON");
  ProcessSpec p;
  p.args = command;
  if (p.args.empty()) {
    for (const char* key : {"entrypoint", "cmd"}) {
      if (c.contains(key) && c[key].is_array()) {
        for (const auto& a : c[key]) p.args.push_back(a.get<std::string>());
      }
    }
  }
  if (p.args.empty())
    return Status::InvalidArgument("the image has no entrypoint or cmd: give a command");
  if (c.contains("env") && c["env"].is_array()) {
    for (const auto& e : c["env"]) p.env.push_back(e.get<std::string>());
  }
  bool has_path = false;
  for (const std::string& e : p.env) has_path |= e.rfind("PATH=", 0) == 0;
  if (!has_path) p.env.push_back(std::string("PATH=") + kDefaultSearchPath);
  std::string wd = c.value("working_dir", "");
  if (!wd.empty()) p.cwd = wd;
  LODE_RETURN_IF_ERROR(ResolveUser(c.value("user", ""), rootfs, &p));
  return p;
}

}  // namespace lode::sandbox
