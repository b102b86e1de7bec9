#include "vm/run_spec.h"

#include <nlohmann/json.hpp>

namespace lode::vm {

std::string EncodeRunSpec(const RunSpec& spec) {
  nlohmann::json j = {
      {"config", spec.config_json}, {"command", spec.command}, {"writable", spec.writable}};
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
    return spec;
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(std::string("run spec: ") + e.what());
  }
}

}  // namespace lode::vm
