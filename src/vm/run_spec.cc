#include "vm/run_spec.h"

#include <nlohmann/json.hpp>

namespace lode::vm {

std::string EncodeRunSpec(const RunSpec& spec) {
  nlohmann::json j = {{"config", spec.config_json},
                      {"command", spec.command},
                      {"writable", spec.writable},
                      {"network",
                       {{"address", spec.network.address},
                        {"gateway", spec.network.gateway},
                        {"nameserver", spec.network.nameserver}}},
                      {"env", spec.env},
                      {"runtime_api", spec.runtime_api}};
  return j.dump();
}

Result<RunSpec> DecodeRunSpec(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return Status::Corruption("run spec is not a JSON object");
  try {
    RunSpec spec;
    spec.config_json = j.at("config").get<std::string>();
    spec.command = j.at("command").get<std::vector<std::string>>();
    spec.writable = j.at("writable").get<bool>();
    const nlohmann::json& network = j.at("network");
    spec.network.address = network.at("address").get<std::string>();
    spec.network.gateway = network.at("gateway").get<std::string>();
    spec.network.nameserver = network.at("nameserver").get<std::string>();
    spec.env = j.at("env").get<std::vector<std::string>>();
    spec.runtime_api = j.at("runtime_api").get<bool>();
    return spec;
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(std::string("run spec: ") + e.what());
  }
}

}  // namespace lode::vm
